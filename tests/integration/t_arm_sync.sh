#!/usr/bin/env bash
# Azure RBAC from Azure Resource Manager, through the real gateway against the ARM fixture
# (paged lists: every list is cut into pages of 3 with nextLink): role assignments added
# and removed in ARM take effect within one poll interval (1 s) for requests through the
# gateway, for the SubjectAccessReview webhook and for `authgate check --config`; a deny
# assignment wins; an assignment at a management group that ARM lists for the cluster
# grants; the per-kind object gauges count what ARM returned.
. "$(dirname "$0")/arm_lib.sh"

start_upstream
authz_keys
arm_start
arm_ctl '{"pageSize":3}'
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev)]}"
arm_config "$T/gw.json" "$(arm_secret_members)"
start_gateway "$T/gw.json"
wait_ready
TOK_ALICE=$(aad $ALICE alice@contoso.com)
TOK_BOB=$(aad $BOB bob@contoso.com)
KAS=$(token kube-apiserver)

expect_eq "$(req GET /api/v1/namespaces/dev/pods "$TOK_ALICE")" 200 "reader in dev (from ARM)"
expect_eq "$(req GET /api/v1/namespaces/prod/pods "$TOK_ALICE")" 403 "not in prod"
expect_match "$(jq -r .message "$T/body")" 'Azure RBAC: no role assignment grants' "Azure reason"
pages=$(arm_stats | jq '[.requests[] | select(.kind == "roleDefinitions" and .skip > 0)] | length')
[ "$pages" -ge 3 ] || fail "role definitions were not read page by page ($pages nextLinks)"
expect_eq "$(arm_stats | jq -r '[.requests[].scope] | unique | .[]')" "$ARM_CLUSTER" "lists asked for the cluster's scope"
expect_eq "$(metric 'authgate_arm_objects{kind="role_assignments"}')" 1 "assignments gauge"
[ "$(metric 'authgate_arm_objects{kind="role_definitions"}')" -ge 11 ] || fail "definitions gauge"
pass "initial set from ARM, $pages nextLinks followed for role definitions"

# Added in ARM: effective within one poll interval (plus the poll itself).
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/dev),$(asg $ALICE $R_READER +/namespaces/prod)]}"
ms=$(wait_status /api/v1/namespaces/prod/pods "$TOK_ALICE" 200)
[ "$ms" -le 1800 ] || fail "addition took $ms ms (poll interval 1 s)"
pass "assignment added in ARM grants after $ms ms"

# SubjectAccessReview and authgate check see the same.
sar() {
  curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H 'Content-Type: application/json' \
    --data-binary "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\",\"spec\":{\"user\":\"$1\",\"extra\":{\"oid\":[\"$2\"]},\"resourceAttributes\":{\"namespace\":\"$3\",\"verb\":\"get\",\"resource\":\"pods\"}}}" \
    "http://127.0.0.1:$GW_PORT/apis/authorization.k8s.io/v1/subjectaccessreviews"
}
expect_eq "$(sar alice@contoso.com $ALICE prod)" 201 "sar"
expect_eq "$(jq -r .status.allowed "$T/body")" true "SAR allows in prod"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --oid $ALICE get pods -n prod)" yes "authgate check (one ARM poll)"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --oid $BOB get pods -n prod)" no "authgate check: bob"
pass "SubjectAccessReview and authgate check --config agree"

# Removed in ARM: revoked within one poll interval.
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/prod)]}"
ms=$(wait_status /api/v1/namespaces/dev/pods "$TOK_ALICE" 403)
[ "$ms" -le 1800 ] || fail "removal took $ms ms (poll interval 1 s)"
expect_eq "$(sar alice@contoso.com $ALICE dev)" 201 "sar"
expect_eq "$(jq -c '[.status.allowed, .status.denied]' "$T/body")" '[false,true]' "SAR denies in dev"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --oid $ALICE get pods -n dev)" no "authgate check after removal"
pass "assignment removed in ARM revokes after $ms ms"

# A management group assignment ARM lists for the cluster applies (bob: Cluster Admin).
arm_data "{\"assignments\":[$(asg $ALICE $R_READER +/namespaces/prod),$(asg $BOB $R_CADMIN $ARM_MG)]}"
wait_status /api/v1/namespaces/kube-system/secrets "$TOK_BOB" 200 >/dev/null
pass "management-group assignment listed by ARM grants"

# A deny assignment (all principals, secrets at the cluster) wins over bob's admin role.
arm_data "{\"deny\":[{\"id\":\"$ARM_CLUSTER/providers/Microsoft.Authorization/denyAssignments/d1\",
  \"name\":\"d1\",\"properties\":{\"denyAssignmentName\":\"no secrets\",\"scope\":\"$ARM_CLUSTER\",
  \"doNotApplyToChildScopes\":false,\"permissions\":[{\"actions\":[],\"notActions\":[],
  \"dataActions\":[\"Microsoft.ContainerService/managedClusters/secrets/*\"],\"notDataActions\":[]}],
  \"principals\":[{\"id\":\"00000000-0000-0000-0000-000000000000\",\"type\":\"SystemDefined\"}],
  \"excludePrincipals\":[]}}]}"
wait_status /api/v1/namespaces/kube-system/secrets "$TOK_BOB" 403 >/dev/null
expect_match "$(jq -r .message "$T/body")" 'denied by deny assignment' "deny reason"
expect_eq "$(req GET /api/v1/namespaces/kube-system/pods "$TOK_BOB")" 200 "other resources still allowed"
expect_eq "$(metric 'authgate_arm_objects{kind="deny_assignments"}')" 1 "deny gauge"
pass "deny assignment from ARM wins"
[ "$(metric 'authgate_arm_polls_total{result="ok"}')" -ge 5 ] || fail "polls ok"
# The data has not changed since the deny assignment: the next poll (1 s interval) is unchanged.
unchanged_polled() { [ "$(metric 'authgate_arm_polls_total{result="unchanged"}')" -ge 1 ]; }
wait_until 5 "an unchanged poll" unchanged_polled
expect_eq "$(arm_stats | jq .badAuth)" 0 "ARM never saw a bad token"
expect_eq "$(arm_stats | jq .tokens)" 4 "one app token for the gateway (reused by every poll), one per authgate check"
pass "metrics"

# A role ARM does not return (deleted custom role): the assignment grants nothing, counted.
arm_data "{\"deny\":[],\"assignments\":[$(asg $ALICE $R_READER +/namespaces/prod),$(asg $BOB 11111111-2222-4333-8444-555555555555 +/namespaces/prod)]}"
for ((i = 0; i < 60; i++)); do
    [ "$(metric authgate_arm_assignments_unresolved_role)" = 1 ] && break
    sleep 0.05
done
expect_eq "$(metric authgate_arm_assignments_unresolved_role)" 1 "unresolved role counted"
expect_eq "$(req GET /api/v1/namespaces/prod/pods "$TOK_BOB")" 403 "an unresolved role grants nothing"
pass "assignment of an unknown role grants nothing and is counted"
