#!/usr/bin/env bash
# Issue 14 in the azure-then-rbac mode, with real kubectl 1.32 through the gateway (TLS) in
# front of the fake API server: Azure AD identities (the sample assignments in
# config/azure/) are answered from their role assignments, others from Kubernetes RBAC.
# `auth can-i` (yes/no, --as), `can-i --list` (data actions translated to rules; equal to
# `authgate check --list`), `auth whoami` (the oid extra); each compared with what the
# gateway enforces for the real request; no review reaches the API server.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/authz_lib.sh"
. "$(dirname "$0")/reviews_lib.sh"

TID=$AZ_TID
ALICE_OID=1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001
ADMIN_GROUP=8d2e4c6a-0b1f-4e3d-a5c7-9f1e2d3c0002
e2e_start
authz_keys
E2E_ISSUERS=$(azure_issuers) e2e_gateway "$(azure_authz '"impersonation": "authorize"')"
kubeconfig alice "$(node "$MINT" aad "$T" "$TID" "$ALICE_OID" alice@contoso.com)"
kubeconfig admin "$(node "$MINT" aad "$T" "$TID" 0f0f0f0f-0000-4000-8000-00000000beef ops@contoso.com "$ADMIN_GROUP")"
kubeconfig carol "$(token carol)"

# ---- can-i: Azure for Azure AD identities, RBAC for the rest -------------------------------
api_mark
# (the real requests use --raw: this policy grants Azure AD users no discovery)
expect_eq "$(same alice "list pods -n dev" "get --raw /api/v1/namespaces/dev/pods")" yes "Azure reader in dev"
expect_eq "$(same alice "list pods -n default" "get --raw /api/v1/namespaces/default/pods")" no "not in default"
expect_eq "$(same alice "delete pods/web -n dev" "delete --raw /api/v1/namespaces/dev/pods/web")" no \
    "reader cannot delete"
expect_eq "$(same admin "delete secrets/x -n kube-system" "delete --raw /api/v1/namespaces/kube-system/secrets/x")" yes \
    "group assignment: RBAC Cluster Admin"
expect_eq "$(same carol "get secrets -n default" "get --raw /api/v1/namespaces/default/secrets")" yes \
    "carol: RBAC edit in default"
expect_eq "$(same carol "get pods -n dev" "get --raw /api/v1/namespaces/dev/pods")" no "carol: nothing in dev"
expect_eq "$(same admin "get secrets -n default --as carol" "get --raw /api/v1/namespaces/default/secrets --as carol")" yes \
    "admin as carol: carol's RBAC rights"
expect_eq "$(same admin "get pods -n dev --as carol" "get --raw /api/v1/namespaces/dev/pods --as carol")" no \
    "admin as carol in dev"
out=$(kc alice auth can-i list pods -n dev -v=8 2>&1) || fail "$out"
kubectl_protobuf_answer "$out" selfsubjectaccessreviews
transcript alice auth can-i list pods -n dev
transcript alice auth can-i list pods -n default
transcript admin auth can-i get pods -n dev --as carol
pass "kubectl auth can-i in azure-then-rbac: the gateway's answer for Azure and RBAC identities"

# ---- can-i --list -----------------------------------------------------------------------------
list=$(kc alice auth can-i --list -n dev 2>"$T/list.err") || fail "alice --list: $(cat "$T/list.err")"
echo "$list" >"$T/list-alice-dev.txt"
expect_match "$list" '^pods +\[\] +\[\] +\[get list watch\]' "reader: pods read in dev"
expect_match "$list" '^deployments.apps +\[\] +\[\] +\[get list watch\]' "reader: deployments.apps"
expect_no_match "$list" '^secrets ' "reader: no secrets"
expect_match "$list" '^selfsubjectaccessreviews.authorization.k8s.io +\[\] +\[\] +\[create\]' \
    "the self reviews RBAC grants (what can-i itself needs)"
# (kubectl cannot name it without discovery, which this policy denies Azure AD users: ask
# the same chain offline)
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --as alice@contoso.com --oid "$ALICE_OID" \
    create selfsubjectrulesreviews.authorization.k8s.io)" yes \
    "listed, and allowed (the --list above was answered, not refused)"
expect_eq "$("$AUTHGATE" check --config "$T/gw.json" --as alice@contoso.com --oid "$ALICE_OID" --list -n dev)" \
    "$list" "authgate check --list = kubectl auth can-i --list (Azure)"
list=$(kc alice auth can-i --list -n default 2>&1) || fail "$list"
expect_no_match "$list" '^pods ' "nothing in default"
list=$(kc admin auth can-i --list -n dev 2>"$T/list.err") || fail "admin --list"
expect_match "$list" '^\*\.\* +\[\] +\[\] +\[\*\]' "cluster admin: everything"
expect_match "$list" '^ +\[\*\] +\[\] +\[\*\]' "and every URL"
list=$(kc carol auth can-i --list -n default 2>&1) || fail "$list"
expect_match "$list" '^secrets +\[\] +\[\] +\[' "carol: RBAC rules"
expect_eq "$(api_new | jq -s '[.[] | select(.target | test("accessreview|rulesreview|selfsubjectreview"))] | length')" 0 \
    "no review reached the API server"
transcript alice auth can-i --list -n dev
transcript carol auth can-i --list -n default
pass "kubectl auth can-i --list: Azure data actions as rules for Azure AD identities, RBAC for the rest"

# ---- whoami -------------------------------------------------------------------------------------
out=$(kc alice auth whoami -o json 2>&1) || fail "$out"
expect_eq "$(jq -r .status.userInfo.username <<<"$out")" alice@contoso.com "upn"
expect_eq "$(jq -r '.status.userInfo.extra.oid[0]' <<<"$out")" "$ALICE_OID" "oid extra"
expect_eq "$(whoami admin --as carol)" "carol system:authenticated" "admin as carol"
out=$(kc alice auth whoami -v=8 2>&1) || fail "$out"
kubectl_protobuf_answer "$out" selfsubjectreviews
transcript alice auth whoami
transcript admin auth whoami --as carol
pass "kubectl auth whoami: the Azure AD identity with its oid"
