#!/usr/bin/env bash
# RBAC policy kept as YAML: a directory of *.yaml/*.yml files (multi-document streams, a
# List, the sample config/policies/support.yaml) decides for `authgate serve` as it does for
# `authgate check`; a YAML file changing on disk reloads the policy; a broken YAML file
# keeps the old policy and the log names FILE:LINE:COL in the YAML.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

start_upstream
authz_keys
mkdir -p "$T/policy"
cp "$AG_SOURCE_DIR/config/policies/support.yaml" "$T/policy/"
binding() { # binding NAME USER ROLE: a RoleBinding in default, as a YAML document
    printf 'kind: RoleBinding\napiVersion: rbac.authorization.k8s.io/v1\n'
    printf 'metadata: {name: %s, namespace: default}\n' "$1"
    printf 'roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %s}\n' "$3"
    printf 'subjects:\n- {apiGroup: rbac.authorization.k8s.io, kind: User, name: %s}\n' "$2"
}
binding alice-view alice view >"$T/policy/alice.yml"
authz_config "$T/gw.json" "\"$T/policy\"" '"reload_interval": "200ms"'
start_gateway "$T/gw.json"
read -r ALICE BOB CAROL SUPPORT < <(node "$MINT" tokens "$T" alice bob carol dave:support | paste -sd' ')

expect_eq "$(req GET /api/v1/namespaces/default/pods "$ALICE")" 200 "alice (alice.yml)"
expect_eq "$(req GET /api/v1/namespaces/other/pods "$ALICE")" 403 "alice elsewhere"
expect_eq "$(req GET /api/v1/namespaces/dev/pods/p/log "$SUPPORT")" 200 "group support (support.yaml)"
expect_eq "$(req DELETE /api/v1/namespaces/dev/pods/p "$SUPPORT")" 403 "support may not delete"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$BOB")" 403 "bob before the reload"
# check answers the same from the same directory
expect_eq "$("$AUTHGATE" check --policy "$T/policy" --as alice get pods -n default)" yes "check: alice"
expect_eq "$("$AUTHGATE" check --policy "$T/policy" --as dave --as-group support delete pods -n dev)" no "check: support delete"
pass "a directory of YAML policy files decides for serve and check"

# a second document appended to a YAML file: bob gets edit
{ binding alice-view alice view; echo ---; binding bob-edit bob edit; } >"$T/alice.tmp"
mv "$T/alice.tmp" "$T/policy/alice.yml"
wait_generation 2
expect_eq "$(req DELETE /api/v1/namespaces/default/pods/x "$BOB")" 200 "bob after the reload"
pass "a YAML file change reloads the policy"

# a broken YAML file (a duplicate key): the old policy stays, the log says where
printf 'kind: ClusterRole\nmetadata:\n  name: a\n  name: b\n' >"$T/broken.tmp"
mv "$T/broken.tmp" "$T/policy/zz.yaml"
for ((i = 0; i < 100; i++)); do
    [ "$(metric 'authgate_policy_reloads_total{result="error"}')" -ge 1 ] && break
    sleep 0.05
done
expect_eq "$(metric 'authgate_policy_reloads_total{result="error"}')" 1 "the broken reload is counted"
expect_match "$(cat "$GW_LOG")" 'zz\.yaml:3:3: duplicate key in object' "the log names FILE:LINE:COL"
expect_eq "$(req DELETE /api/v1/namespaces/default/pods/x "$BOB")" 200 "the old policy stays"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$CAROL")" 403 "carol never"
pass "a broken YAML file keeps the old policy and names its line"
