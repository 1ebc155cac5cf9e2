#!/usr/bin/env bash
# The front door's authorization step through the real binary: bearer tokens minted with
# jose, an RBAC policy giving alice view in "default"; allowed requests reach the fixture
# upstream with Impersonate-User/-Group and no client credential, denied ones get the API
# server's Forbidden Status (message and details) and never reach it; kubectl-style
# impersonation (--as / --as-group) is authorized with the impersonate verb and forwarded
# as the impersonated identity; the exec-as-GET rule needs create too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
POLICY="$AG_SOURCE_DIR/tests/integration/authz_policy.json"
authz_config "$T/gw.json" "\"$POLICY\""
start_gateway "$T/gw.json"
read -r ALICE BOB ERIN FRANK < <(node "$MINT" tokens "$T" alice:devs bob:ops erin frank | paste -sd' ')

# 1. allowed: forwarded as alice, her groups, no client Authorization
n0=$(upstream_count)
expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE")" 200 "alice lists pods in default"
expect_eq "$(upstream_count)" "$((n0 + 1))" "forwarded once"
expect_eq "$(up_headers Impersonate-User)" "alice" "Impersonate-User"
expect_eq "$(up_headers Impersonate-Group | paste -sd,)" "devs,system:authenticated" "Impersonate-Group"
expect_eq "$(up_headers Authorization)" "" "client token not forwarded"
pass "allowed request forwarded with alice's identity"

# 2. denied: the API server's message, reason, code and details; nothing forwarded
n0=$(upstream_count)
expect_eq "$(req GET /api/v1/namespaces/default/secrets "$ALICE")" 403 "alice lists secrets"
expect_eq "$(jq -r .message "$T/body")" \
  'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default"' "message"
expect_eq "$(jq -c '[.kind, .status, .reason, .code, .details.kind]' "$T/body")" \
  '["Status","Failure","Forbidden",403,"secrets"]' "Status fields"
expect_eq "$(req GET /api/v1/namespaces/default/secrets/db "$ALICE")" 403 "alice gets a secret"
expect_eq "$(jq -r .message "$T/body")" \
  'secrets "db" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "default"' "named message"
expect_eq "$(jq -r .details.name "$T/body")" db "details.name"
expect_eq "$(req GET /apis/apps/v1/namespaces/kube-system/deployments "$ALICE")" 403 "other namespace"
expect_eq "$(jq -r .message "$T/body")" \
  'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" in the namespace "kube-system"' "group message"
expect_eq "$(req GET /api/v1/nodes "$ALICE")" 403 "cluster scope"
expect_match "$(jq -r .message "$T/body")" 'cannot list resource "nodes" in API group "" at the cluster scope$' "cluster message"
expect_eq "$(req DELETE /api/v1/namespaces/default/pods/web "$ALICE")" 403 "view cannot delete"
expect_eq "$(upstream_count)" "$n0" "no denied request reached the upstream"
expect_eq "$(req GET /api/v1/namespaces/default/pods "not-a-token")" 401 "bad token is 401"
pass "denials answer 403 in the API server's words"

# 3. impersonation without the right: 403 naming the impersonate check
n0=$(upstream_count)
expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE" -H 'Impersonate-User: carol')" 403 "alice --as carol"
expect_eq "$(jq -r .message "$T/body")" \
  'users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope' "impersonate message"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: dave')" 403 "bob --as dave"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: carol' -H 'Impersonate-Group: admins')" 403 "bob --as-group admins"
expect_eq "$(jq -r .message "$T/body")" \
  'groups "admins" is forbidden: User "bob" cannot impersonate resource "groups" in API group "" at the cluster scope' "group message"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-Group: testers')" 400 "group without user"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
pass "impersonation without the impersonate verb is refused"

# 4. impersonation granted: forwarded as the impersonated identity only
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: carol')" 200 "bob --as carol"
expect_eq "$(up_headers Impersonate-User)" carol "upstream sees carol"
expect_eq "$(up_headers Impersonate-Group | paste -sd,)" "system:authenticated" "only system:authenticated (bob's groups not inherited)"
expect_eq "$(req DELETE /api/v1/namespaces/default/pods/web "$BOB" -H 'impersonate-user: carol' -H 'Impersonate-Group: testers' -H 'Impersonate-Extra-Scopes: read')" 200 "bob --as carol --as-group testers, judged as carol"
expect_eq "$(up_headers Impersonate-Group | paste -sd,)" "testers,system:authenticated" "given groups + system:authenticated"
expect_eq "$(up_headers Impersonate-Extra-Scopes)" "read" "extra forwarded"
expect_eq "$(req GET /api/v1/namespaces/default/secrets "$BOB" -H 'Impersonate-User: carol')" 200 "carol (edit) may list secrets"
expect_eq "$(req GET /api/v1/namespaces/kube-system/pods "$BOB" -H 'Impersonate-User: carol')" 403 "carol outside default"
expect_match "$(jq -r .message "$T/body")" 'User "carol" cannot list' "the impersonated user is judged"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: system:serviceaccount:default:robot')" 200 "bob --as SA robot"
expect_eq "$(up_headers Impersonate-Group | paste -sd,)" \
  "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" "SA groups"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: system:serviceaccount:other:robot')" 403 "robot of another namespace: judged as itself"
expect_match "$(jq -r .message "$T/body")" '^pods is forbidden: User "system:serviceaccount:other:robot" cannot list' "SA judged"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: system:serviceaccount:default:builder')" 403 "SA bob may not impersonate"
expect_eq "$(jq -r .message "$T/body")" \
  'serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "default"' "SA message"
pass "granted impersonation forwards the impersonated identity"

# 5. exec arriving as a WebSocket GET also needs create
ws=(-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13'
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: v5.channel.k8s.io')
n0=$(upstream_count)
expect_eq "$(req GET '/api/v1/namespaces/default/pods/web/exec?command=sh' "$ERIN" "${ws[@]}" --max-time 3)" 403 "get-only exec"
expect_eq "$(jq -r .message "$T/body")" \
  'pods "web" is forbidden: User "erin" cannot create resource "pods/exec" in API group "" in the namespace "default"' "create check message"
expect_eq "$(upstream_count)" "$n0" "exec not forwarded"
req GET '/api/v1/namespaces/default/pods/web/exec?command=sh' "$FRANK" "${ws[@]}" --max-time 3 >/dev/null || true
expect_eq "$(upstream_count)" "$((n0 + 1))" "frank (get+create) passes the gate to the upstream"
expect_eq "$(last_upstream | jq -r .target)" "/api/v1/namespaces/default/pods/web/exec?command=sh" "exec forwarded"
pass "exec over WebSocket needs get and create"

# 6. metrics
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics")" \
  'authgate_authz_decisions_total\{verb="list",decision="allow"\} [1-9]' "allow metric"
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics")" \
  'authgate_authz_decisions_total\{verb="list",decision="forbid"\} [1-9]' "forbid metric"
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/readyz" -o /dev/null -w '%{http_code}')" 200 "ready"
pass "decision metrics"

# 7. "impersonation": "deny" refuses every Impersonate-*
authz_config "$T/gw2.json" "\"$POLICY\"" '"impersonation": "deny"'
start_gateway "$T/gw2.json" gw2
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB" -H 'Impersonate-User: carol')" 403 "deny mode"
expect_match "$(jq -r .message "$T/body")" '^users "carol" is forbidden: User "bob" cannot impersonate' "deny mode message"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE")" 200 "plain requests still pass"
pass "impersonation deny mode"
