#!/usr/bin/env bash
# `authgate check` against Azure role assignments (config/azure/ samples), through the real
# binary: who may pull the user/admin kubeconfig (ARM actions), Kubernetes requests as
# data actions, deny assignments, --explain reasons, exit codes (0 yes, 1 no, 2 error).
set -u
AUTHGATE=${AUTHGATE:-./build/authgate}
SRC=${AG_SOURCE_DIR:-.}
AZ="$SRC/config/azure"
CL=/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/web
MC=Microsoft.ContainerService/managedClusters
ALICE=1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001     # RBAC Reader in dev, Cluster User Role
DAVE=2d7e8f90-1a2b-4c3d-9e8f-7a6b5c4d0009      # RBAC Writer at the cluster
CI=4b9a7c5e-3d2f-4a1b-8c6d-2e0f1a9b0003        # RBAC Writer in ci (service principal)
CAROL=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b0006     # Owner of the subscription
ADMINS=8d2e4c6a-0b1f-4e3d-a5c7-9f1e2d3c0002    # group: RBAC Cluster Admin
DEVS=6e5d4c3b-2a19-4f8e-b7d6-c5b4a3920005      # group: custom "AKS CRD Reader" at the RG
NOBODY=ffffffff-0000-4000-8000-00000000ffff
. "$(dirname "$0")/cli_lib.sh"
CLI_PREFIX=(check --azure-assignments "$AZ/role-assignments.json" --cluster-id "$CL")

UC=$MC/listClusterUserCredential/action
AC=$MC/listClusterAdminCredential/action
# kubeconfigs (§15.1-2): RBAC Reader/Writer cannot download one, Cluster Admin can,
# Owner reaches the admin kubeconfig
expect 0 yes -- --principal $ALICE --arm-action $UC
expect 1 no -- --principal $DAVE --arm-action $UC
expect 1 no -- --principal $CI --arm-action $UC
expect 0 yes -- --principal $NOBODY --group $ADMINS --arm-action $UC
expect 1 no -- --principal $NOBODY --group $ADMINS --arm-action $AC
expect 0 'role "Owner"' -- --principal $CAROL --arm-action $AC --explain
expect 0 yes -- --principal $CAROL --arm-action Microsoft.Authorization/roleAssignments/delete --scope /subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg2
expect 1 no -- --principal $CAROL --arm-action $AC --scope /subscriptions/11111111-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1
# ... while Owner has no Kubernetes access at all under Azure RBAC
expect 1 no -- --principal $CAROL get pods -n dev
# data actions
expect 0 yes -- --principal $ALICE get pods -n dev
expect 0 yes -- --principal $ALICE get pods/web-1 --subresource log -n dev
expect 1 no -- --principal $ALICE get pods -n prod
expect 1 no -- --principal $ALICE list pods
expect 1 'no role assignment grants Microsoft.ContainerService/managedClusters/secrets/read' -- --principal $ALICE get secrets -n dev --explain
expect 1 'of role "Azure Kubernetes Service RBAC Reader" at scope' -- --principal $ALICE get pods -n prod --explain
expect 1 "not at scope \"$CL/namespaces/prod\"" -- --principal $ALICE get pods -n prod --explain
expect 0 yes -- --principal $DAVE create secrets -n prod
expect 0 yes -- --principal $DAVE create pods --subresource exec -n prod
expect 0 yes -- --principal $DAVE impersonate serviceaccounts -n prod
expect 1 no -- --principal $DAVE create events.events.k8s.io -n prod
expect 0 yes -- --principal $DAVE create events -n prod
expect 1 no -- --principal $DAVE create rolebindings.rbac.authorization.k8s.io -n prod
expect 1 no -- --principal $DAVE get nodes
expect 0 yes -- --principal $CI create deployments.apps -n ci
expect 1 no -- --principal $CI create deployments.apps -n ci10
expect 0 yes -- --principal $NOBODY --group $ADMINS create namespaces
expect 0 yes -- --principal $NOBODY --group $ADMINS get /healthz
expect 0 yes -- --principal $NOBODY --group $DEVS --azure-definitions "$AZ/role-definitions.json" list widgets.example.com -n prod
expect 1 no -- --principal $NOBODY --group $DEVS --azure-definitions "$AZ/role-definitions.json" get secrets -n prod
expect 1 no -- --principal $NOBODY --group $DEVS list widgets.example.com -n prod
# deny assignments win over Dave's Writer role in kube-system only
expect 1 'denied by deny assignment' -- --principal $DAVE --azure-deny "$AZ/deny-assignments.json" get secrets -n kube-system --explain
expect 0 yes -- --principal $DAVE --azure-deny "$AZ/deny-assignments.json" get secrets -n kube-system2
expect 0 yes -- --principal $NOBODY --group $ADMINS --azure-deny "$AZ/deny-assignments.json" get secrets -n kube-system
# errors exit 2
expect 2 '' -- --principal $ALICE
expect 2 '' -- --principal $ALICE --azure-deny /nonexistent.json get pods -n dev
out=$("$AUTHGATE" check --azure-assignments "$AZ/role-assignments.json" --principal $ALICE get pods -n dev 2>&1)
rc=$?
if [ "$rc" != 2 ] || [[ "$out" != *"--cluster-id"* ]]; then
    echo "FAIL: two clusters in the export must ask for --cluster-id (rc=$rc): $out"
    fails=$((fails + 1))
fi

# the same exports as `az ... -o yaml` prints them (PyYAML's safe_dump, as az uses): the
# same answers; the cluster is inferred from a YAML file too
for f in role-assignments role-definitions deny-assignments; do
    python3 -c 'import json, sys, yaml; print(yaml.safe_dump(json.load(open(sys.argv[1])), default_flow_style=False))' \
        "$AZ/$f.json" >"$TMP/$f.yaml"
done
yexpect() { # yexpect WANT_RC WANT_STDOUT -- ARGS... against the YAML exports
    local out rc
    out=$("$AUTHGATE" check --azure-assignments "$TMP/role-assignments.yaml" "${@:4}" 2>"$TMP/err")
    rc=$?
    if [ "$rc" != "$1" ] || [[ "$out" != *"$2"* ]]; then
        echo "FAIL (YAML): authgate check ${*:4} -> rc=$rc (want $1): $out"; cat "$TMP/err"
        fails=$((fails + 1))
    fi
}
yexpect 0 yes -- --cluster-id "$CL" --principal $ALICE get pods -n dev
yexpect 1 no -- --cluster-id "$CL" --principal $ALICE get pods -n prod
yexpect 0 yes -- --cluster-id "$CL" --principal $NOBODY --group $DEVS --azure-definitions "$TMP/role-definitions.yaml" list widgets.example.com -n prod
yexpect 1 'denied by deny assignment' -- --cluster-id "$CL" --principal $DAVE --azure-deny "$TMP/deny-assignments.yaml" get secrets -n kube-system --explain
yexpect 2 '' -- --principal $ALICE get pods -n dev
if [[ "$(cat "$TMP/err")" != *"--cluster-id"* ]]; then
    echo "FAIL (YAML): two clusters in the YAML export must ask for --cluster-id"; fails=$((fails + 1))
fi
printf -- '- principalId: 1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001\n  principalId: x\n' >"$TMP/dup.yml"
out=$("$AUTHGATE" check --azure-assignments "$TMP/dup.yml" --cluster-id "$CL" --principal $ALICE get pods -n dev 2>&1)
if [[ "$out" != *"dup.yml:1:3: duplicate key in object"* ]]; then
    echo "FAIL (YAML): a duplicate key must be named FILE:LINE:COL: $out"; fails=$((fails + 1))
fi

# `check --config` honours the whole authorization configuration, Azure section included:
# an Azure AD user (--oid) granted through a role assignment gets yes, as the gateway
# would allow; the same question under RBAC alone gets no
mkdir -p "$TMP/gw"
cat >"$TMP/gw/rbac.yaml" <<'YAML'
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: ops-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: ops}]
YAML
gwconf() { # gwconf MODE FILE
    cat >"$2" <<JSON
{"listen": {"address": "127.0.0.1:0"}, "upstream": {"url": "http://127.0.0.1:1"},
 "authorization": {"mode": "$1", "rbac": {"policies": ["rbac.yaml"]}},
 "azure": {"cluster_resource_id": "$CL", "role_assignments": ["$AZ/role-assignments.json"],
           "deny_assignments": ["$AZ/deny-assignments.json"]}}
JSON
}
gwconf azure-then-rbac "$TMP/gw/then.json"
gwconf azure-or-rbac "$TMP/gw/or.json"
gwconf rbac "$TMP/gw/rbac.json"
cexpect() { # cexpect WANT_RC WANT_STDOUT -- check ARGS...
    local out rc
    out=$("$AUTHGATE" "${@:4}" 2>"$TMP/err")
    rc=$?
    if [ "$rc" != "$1" ] || [[ "$out" != *"$2"* ]]; then
        echo "FAIL (--config): authgate ${*:4} -> rc=$rc (want $1): $out"; cat "$TMP/err"
        fails=$((fails + 1))
    fi
}
cexpect 0 yes -- check --config "$TMP/gw/then.json" --as alice@contoso.com --oid $ALICE get pods -n dev
cexpect 0 'Azure RBAC: allowed by role assignment' -- check --config "$TMP/gw/then.json" --oid $ALICE get pods -n dev --explain
cexpect 0 '"source":"azure"' -- check --config "$TMP/gw/then.json" --oid $ALICE get pods -n dev -o json
cexpect 1 no -- check --config "$TMP/gw/then.json" --oid $ALICE get pods -n prod
# --explain for the denial: the assignment one field away (here the scope)
cexpect 1 "it grants $MC/pods/read there, not at scope \"$CL/namespaces/prod\"" -- \
    check --config "$TMP/gw/then.json" --oid $ALICE get pods -n prod --explain
cexpect 1 "; the role does not grant $MC/pods/delete" -- check --config "$TMP/gw/then.json" --oid $ALICE delete pods -n dev --explain
cexpect 1 'denied by deny assignment' -- check --config "$TMP/gw/then.json" --oid $DAVE get secrets -n kube-system --explain
cexpect 0 yes -- check --config "$TMP/gw/then.json" --oid $NOBODY --as-group $ADMINS create namespaces
# azure-then-rbac: Azure's no is final for Azure AD users; azure-or-rbac lets RBAC allow
cexpect 1 no -- check --config "$TMP/gw/then.json" --oid $NOBODY --as-group ops get pods -n dev
cexpect 0 yes -- check --config "$TMP/gw/or.json" --oid $NOBODY --as-group ops get pods -n dev
# non-Azure identities (no --oid) are RBAC's in every mode
cexpect 0 yes -- check --config "$TMP/gw/then.json" --as bob --as-group ops get pods -n dev
cexpect 1 no -- check --config "$TMP/gw/then.json" --as bob get pods -n dev
# mode rbac: the Azure section is not consulted
cexpect 1 no -- check --config "$TMP/gw/rbac.json" --oid $ALICE get pods -n dev

[ "$fails" -eq 0 ] && echo "ok: azure check" || echo "$fails failure(s)"
exit $((fails > 0))
