#!/usr/bin/env bash
# Logs: "log.format": "json" writes one JSON object per line (time in RFC 3339 with
# nanoseconds, level, msg, and on per-request lines client and auditID, the same auditID
# as the request's audit event); per-request lines are rate limited per worker (40 bad
# tokens do not give 40 lines) and a "N per-request log lines suppressed" line says how
# many were left out once lines flow again. The default text format carries client= and
# auditID= too, with the default budget.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
bad_tokens() { # bad_tokens N: N distinct malformed tokens, one connection each
  local i
  for ((i = 0; i < $1; i++)); do
    [ "$(req GET /api/v1/namespaces/default/pods "not-a-jwt-$i")" = 401 ] || fail "bad token $i not 401"
  done
}

one_worker() { jq '.workers = 1' "$1" >"$1.tmp" && mv "$1.tmp" "$1"; } # one bucket
authz_config "$T/gw.json" "\"$POLICY\"" "" '"audit": {"file": "'"$T"'/audit.log"},
  "log": {"format": "json", "request_rate": 1, "request_burst": 5}'
one_worker "$T/gw.json"
start_gateway "$T/gw.json"
t0=$(date +%s)
bad_tokens 40
t1=$(date +%s)
sleep 0.3
jq -e -c . "$GW_LOG" >/dev/null || fail "a log line is not JSON: $(grep -v '^{' "$GW_LOG" | head -2)"
expect_eq "$(jq -r 'keys_unsorted[0:3] | join(",")' "$GW_LOG" | sort -u)" "time,level,msg" "time, level, msg first"
bad=$(jq -r '.time' "$GW_LOG" | grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z$' || true)
expect_eq "$bad" 0 "every time RFC 3339 with nanoseconds"
jq -e 'select(.level | IN("error","warn","info","debug") | not)' "$GW_LOG" >/dev/null &&
  fail "a level outside error|warn|info|debug"
n=$(jq -r 'select(.msg | startswith("authentication failed")) | .msg' "$GW_LOG" | wc -l)
# the burst, plus at most one a second of refill while the 40 requests ran
[ "$n" -ge 5 ] && [ "$n" -le $((5 + t1 - t0 + 1)) ] || fail "$n authentication-failed lines for 40 bad tokens"
pass "json lines; 40 bad tokens gave $n per-request lines (burst 5, 1/s)"

line=$(jq -c 'select(.msg | startswith("authentication failed"))' "$GW_LOG" | head -1)
expect_eq "$(jq -r .client <<<"$line")" 127.0.0.1 "client address"
id=$(jq -r .auditID <<<"$line")
expect_match "$id" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "auditID is a UUID"
ev=$(jq -c --arg id "$id" 'select(.auditID == $id)' "$T/audit.log")
expect_eq "$(jq -r '.responseStatus.code' <<<"$ev")" 401 "the audit event with that auditID is the 401"
expect_eq "$(jq -r '.sourceIPs[0]' <<<"$ev")" 127.0.0.1 "and its source IP"
pass "per-request lines carry client and the request's auditID"

sleep 1.1 # a token again
bad_tokens 1
sleep 0.2
sup=$(jq -r 'select(.msg | test("^[0-9]+ per-request log lines suppressed")) | .msg' "$GW_LOG" | tail -1)
expect_match "$sup" "^[0-9]+ per-request log lines suppressed" "suppressed summary"
total=$(( $(jq -r 'select(.msg | test("per-request log lines suppressed")) | .msg | split(" ")[0]' "$GW_LOG" |
  paste -sd+ | bc) + $(jq -r 'select(.msg | startswith("authentication failed")) | .msg' "$GW_LOG" | wc -l) ))
expect_eq "$total" 41 "lines written plus lines suppressed = requests"
pass "a summary counts the suppressed lines"
kill "$GW_PID"
wait "$GW_PID" 2>/dev/null || true

authz_config "$T/gw2.json" "\"$POLICY\""
one_worker "$T/gw2.json"
start_gateway "$T/gw2.json" gw2
bad_tokens 40
sleep 0.3
n=$(grep -c 'INFO authentication failed' "$GW_LOG" || true)
[ "$n" -ge 10 ] && [ "$n" -lt 40 ] || fail "default budget: $n lines for 40 bad tokens"
expect_match "$(grep -m1 'INFO authentication failed' "$GW_LOG")" \
  'Z INFO authentication failed: .* client=127\.0\.0\.1 auditID=[0-9a-f-]{36}$' "text line"
pass "text format: client= and auditID=; default budget $n of 40 lines"
