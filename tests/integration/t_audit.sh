#!/usr/bin/env bash
# The audit log through the real binary: one audit.k8s.io/v1 Event per request that
# reached the gate, with user, impersonatedUser, verb, objectRef, response code,
# timestamps and the authorization.k8s.io/decision and /reason annotations; level rules
# (None for watch and for one user); a failed authentication audited with "user": {};
# no token ever written; size-based rotation; no drops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
authz_config "$T/gw.json" "\"$POLICY\"" "" '"audit": {"file": "'"$T"'/audit.log", "max_size": 20000, "max_backups": 2,
    "rules": [{"level": "None", "users": ["quiet"]}, {"level": "None", "verbs": ["watch"]}]}'
start_gateway "$T/gw.json"
read -r ALICE BOB QUIET < <(node "$MINT" tokens "$T" alice:devs bob:ops quiet | paste -sd' ')
AUDIT=$T/audit.log
wait_lines() { # wait_lines N: until the audit file has N lines (2 s at most)
    local i
    for ((i = 0; i < 40; i++)); do
        [ "$(cat "$AUDIT" 2>/dev/null | wc -l)" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "audit log has $(wc -l <"$AUDIT") lines, expected $1"
}

expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE" -A 'kubectl/v1.31.0')" 200 "allowed"
expect_eq "$(req GET /api/v1/namespaces/default/secrets/db "$ALICE")" 403 "forbidden"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: carol')" 200 "impersonated"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$QUIET")" 403 "quiet user (level None)"
expect_eq "$(req GET '/api/v1/namespaces/default/pods?watch=1' "$ALICE" --max-time 2)" 200 "watch (level None)"
expect_eq "$(req GET /api/v1/namespaces/default/pods "nope")" 401 "unauthenticated"
wait_lines 4
sleep 0.3
expect_eq "$(wc -l <"$AUDIT")" 4 "four events (None rules not recorded)"
jq -e . "$AUDIT" >/dev/null || fail "every line is JSON"

e1=$(sed -n 1p "$AUDIT")
expect_eq "$(jq -c '[.kind, .apiVersion, .level, .stage, .verb, .requestURI]' <<<"$e1")" \
  '["Event","audit.k8s.io/v1","Metadata","ResponseComplete","list","/api/v1/namespaces/default/pods"]' "event 1 basics"
expect_eq "$(jq -c '[.user.username, .user.groups, .userAgent, .sourceIPs, .responseStatus.code]' <<<"$e1")" \
  '["alice",["devs","system:authenticated"],"kubectl/v1.31.0",["127.0.0.1"],200]' "event 1 user, agent, code"
expect_eq "$(jq -c .objectRef <<<"$e1")" '{"resource":"pods","namespace":"default","apiVersion":"v1"}' "objectRef"
expect_eq "$(jq -r '.annotations["authorization.k8s.io/decision"]' <<<"$e1")" allow "decision allow"
expect_match "$(jq -r '.annotations["authorization.k8s.io/reason"]' <<<"$e1")" 'RoleBinding "alice-view/default" of ClusterRole "view"' "reason"
expect_match "$(jq -r .requestReceivedTimestamp <<<"$e1")" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z$' "timestamp format"
[[ "$(jq -r .stageTimestamp <<<"$e1")" > "$(jq -r .requestReceivedTimestamp <<<"$e1")" || \
   "$(jq -r .stageTimestamp <<<"$e1")" == "$(jq -r .requestReceivedTimestamp <<<"$e1")" ]] || fail "stage after received"
expect_match "$(jq -r .auditID <<<"$e1")" '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' "auditID"
pass "allowed request event"

e2=$(sed -n 2p "$AUDIT")
expect_eq "$(jq -c '[.verb, .objectRef.name, .responseStatus.code, .annotations["authorization.k8s.io/decision"]]' <<<"$e2")" \
  '["get","db",403,"forbid"]' "forbidden event"
e3=$(sed -n 3p "$AUDIT")
expect_eq "$(jq -c '[.user.username, .impersonatedUser.username, .impersonatedUser.groups]' <<<"$e3")" \
  '["bob","carol",["system:authenticated"]]' "impersonated event"
[ "$(sed -n 1,4p "$AUDIT" | jq -r .auditID | sort -u | wc -l)" = 4 ] || fail "audit IDs unique"
for t in "$ALICE" "$BOB" "$QUIET"; do
  grep -qF "${t##*.}" "$AUDIT" && fail "a token signature appears in the audit log"
  grep -qF "${t%%.*}" "$AUDIT" && fail "a token header appears in the audit log"
done
e4=$(sed -n 4p "$AUDIT")
expect_eq "$(jq -c '[.user, .verb, .objectRef.resource, .responseStatus.code, .annotations]' <<<"$e4")" \
  '[{},"list","pods",401,null]' "failed authentication event"
grep -q '"nope"' "$AUDIT" && fail "the bad token appears in the audit log"
pass "forbidden, impersonated and unauthenticated events; no token in the log"

# responseStatus as kube-apiserver writes it: the gateway's own answers carry status,
# message and reason (the Status body the client got); forwarded ones only the code
expect_eq "$(jq -c .responseStatus <<<"$e1")" '{"metadata":{},"code":200}' "forwarded: code only"
expect_eq "$(jq -c '.responseStatus | [.status, .reason, .code]' <<<"$e2")" '["Failure","Forbidden",403]' "403 status, reason"
expect_match "$(jq -r .responseStatus.message <<<"$e2")" '^secrets "db" is forbidden: User "alice" cannot get resource "secrets"' "403 message"
expect_eq "$(jq -c .responseStatus <<<"$e4")" \
  '{"metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}' "401 responseStatus"
expect_eq "$(jq -c 'keys_unsorted' <<<"$(jq -c .responseStatus <<<"$e2")")" '["metadata","status","message","reason","code"]' "field order"
pass "responseStatus: status, message, reason for the gateway's own answers"

# a long-running response (follow=true) is audited when it starts: the client leaves first
n0=$(wc -l <"$AUDIT")
curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $ALICE" \
  "http://127.0.0.1:$GW_PORT/big?bytes=2000000000&follow=true" || true
wait_lines $((n0 + 1))
e5=$(tail -1 "$AUDIT")
expect_eq "$(jq -c '[.stage, .verb, .responseStatus.code, .requestURI]' <<<"$e5")" \
  '["ResponseStarted","get",200,"/big?bytes=2000000000&follow=true"]' "long-running event at response start"
sleep 0.3
expect_eq "$(wc -l <"$AUDIT")" "$((n0 + 1))" "one event per request"
pass "long-running requests audited at response start"

# a client that gives up before any answer: still one event, without a response status
n0=$(wc -l <"$AUDIT")
curl -s -o /dev/null --max-time 1 -H "Authorization: Bearer $ALICE" "http://127.0.0.1:$GW_PORT/hang" || true
wait_lines $((n0 + 1))
expect_eq "$(tail -1 "$AUDIT" | jq -c '[.requestURI, .stage, .responseStatus, .annotations["authorization.k8s.io/decision"]]')" \
  '["/hang","ResponseComplete",null,"allow"]' "abandoned request event"
pass "a request abandoned by its client is audited once"

# rotation: ~20 KB per file, two backups
for i in $(seq 60); do req GET "/api/v1/namespaces/default/pods/p$i" "$ALICE" >/dev/null; done
wait_lines 1
for ((i = 0; i < 40; i++)); do [ -s "$AUDIT.1" ] && break; sleep 0.05; done
[ -s "$AUDIT.1" ] || fail "rotated to audit.log.1"
for f in "$AUDIT" "$AUDIT.1"; do
  [ "$(stat -c %s "$f")" -le 20000 ] || fail "$f exceeds max_size"
  jq -e . "$f" >/dev/null || fail "$f: lines stay whole across rotation"
done
[ ! -e "$AUDIT.3" ] || fail "at most two backups"
expect_eq "$(metric authgate_audit_dropped_total)" 0 "no drops"
[ "$(metric authgate_audit_events_total)" -ge 66 ] || fail "events metric"
pass "size-based rotation"

# every event written, rotated files included, against the upstream Event type
python3 "$AG_SOURCE_DIR/tests/integration/audit_schema.py" "$AUDIT"* >"$T/schema.out" ||
  fail "events outside the audit.k8s.io/v1 Event schema: $(head -5 "$T/schema.out")"
pass "events match the audit.k8s.io/v1 Event schema ($(tail -1 "$T/schema.out"))"
