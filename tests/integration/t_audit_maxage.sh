#!/usr/bin/env bash
# audit.max_age_days, as kube-apiserver's --audit-log-maxage: rotated files last written
# longer ago are removed, at start and at each rotation; younger ones stay (max_backups
# still bounds their number).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
AUDIT=$T/audit.log
echo '{"old":1}' >"$AUDIT.1"
echo '{"old":2}' >"$AUDIT.2"
echo '{"old":3}' >"$AUDIT.3"
touch -d '3 days ago' "$AUDIT.2" "$AUDIT.3"
touch -d '20 hours ago' "$AUDIT.1"
authz_config "$T/gw.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "max_size": 8192,
    "max_backups": 3, "max_age_days": 1}'
start_gateway "$T/gw.json"
[ -e "$AUDIT.1" ] || fail "a backup younger than max_age_days was removed"
[ ! -e "$AUDIT.2" ] && [ ! -e "$AUDIT.3" ] || fail "backups older than max_age_days kept at start"
pass "at start: backups older than a day removed, a younger one kept"

ALICE=$(token alice devs)
touch -d '2 days ago' "$AUDIT.1" # ages while the gateway runs: the next rotation shifts it to .2
# one request at a time until the first rotation (8 KB: a dozen events), so the aged file
# is shifted once, to .2, and not out of the three backups by rotation alone
for ((i = 0; i < 100; i++)); do
  req GET "/api/v1/namespaces/default/pods/p$i" "$ALICE" >/dev/null
  sleep 0.05
  grep -qs '"kind":"Event"' "$AUDIT.1" && break
done
grep -q '"kind":"Event"' "$AUDIT.1" || fail "no rotation to $AUDIT.1"
[ ! -e "$AUDIT.3" ] || fail "more than one rotation: the test proves nothing"
if grep -qs '"old":1' "$AUDIT".*; then fail "the aged backup survived a rotation: $(grep -l '"old":1' "$AUDIT".*)"; fi
pass "at rotation: a backup that aged past max_age_days removed"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true

# without max_age_days nothing is removed by age
echo '{"old":4}' >"$AUDIT.3"
touch -d '400 days ago' "$AUDIT.3"
authz_config "$T/gw2.json" "\"$POLICY\"" "" '"audit": {"file": "'"$AUDIT"'", "max_backups": 3}'
start_gateway "$T/gw2.json" gw2
[ -e "$AUDIT.3" ] || fail "removed by age without max_age_days"
pass "no max_age_days: no age limit"
