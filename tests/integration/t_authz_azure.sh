#!/usr/bin/env bash
# Azure RBAC in the proxy path and at the SubjectAccessReview webhook ("authorization":
# {"mode": "azure-then-rbac"}, the sample assignments in config/azure/): Azure AD tokens
# are judged by role assignments at the cluster or namespace scope, with the Azure reason
# in the 403 as the API server shows a webhook's; identities outside Azure AD fall back
# to Kubernetes RBAC; the forwarded identity carries the oid extra.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/authz_lib.sh"

TID=$AZ_TID
start_upstream
authz_keys
cat >"$T/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {"issuers": $(azure_issuers)},
  $(azure_authz)
}
JSON
start_gateway "$T/gw.json"
AAD_ALICE=$(node "$MINT" aad "$T" "$TID" 1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001 alice@contoso.com)
AAD_ADMIN=$(node "$MINT" aad "$T" "$TID" 0f0f0f0f-0000-4000-8000-00000000beef ops@contoso.com 8d2e4c6a-0b1f-4e3d-a5c7-9f1e2d3c0002)
read -r CAROL KAS < <(node "$MINT" tokens "$T" carol kube-apiserver | paste -sd' ')

# 1. Azure AD user: RBAC Reader in namespace dev only
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$AAD_ALICE")" 200 "reader lists pods in dev"
expect_eq "$(up_headers Impersonate-User)" alice@contoso.com "forwarded as the upn"
expect_eq "$(up_headers Impersonate-Extra-Oid)" 1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001 "oid extra forwarded"
expect_eq "$(req GET /api/v1/namespaces/default/pods "$AAD_ALICE")" 403 "not in default"
expect_match "$(jq -r .message "$T/body")" \
  '^pods is forbidden: User "alice@contoso.com" cannot list resource "pods" in API group "" in the namespace "default": Azure RBAC: .*pods/read' \
  "403 carries the Azure reason"
expect_eq "$(req DELETE /api/v1/namespaces/dev/pods/web "$AAD_ALICE")" 403 "reader cannot delete"
pass "Azure AD identity judged by role assignments"

# 2. a group assignment (RBAC Cluster Admin at the cluster) via the token's groups claim
expect_eq "$(req DELETE /api/v1/namespaces/kube-system/secrets/x "$AAD_ADMIN")" 200 "group admin"
pass "group assignment"

# 3. not Azure AD: Kubernetes RBAC decides (carol: edit in default)
expect_eq "$(req GET /api/v1/namespaces/default/secrets "$CAROL")" 200 "RBAC fallback allows"
expect_eq "$(req GET /api/v1/namespaces/dev/pods "$CAROL")" 403 "RBAC fallback denies"
expect_eq "$(jq -r .message "$T/body")" \
  'pods is forbidden: User "carol" cannot list resource "pods" in API group "" in the namespace "dev"' "RBAC message, no Azure reason"
pass "non-Azure identities fall back to Kubernetes RBAC"

# 4. the webhook: spec.extra.oid marks an Azure AD identity (denied: true on no grant)
sar() {
  curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KAS" -H 'Content-Type: application/json' --data-binary "$1" \
    "http://127.0.0.1:$GW_PORT/apis/authorization.k8s.io/v1/subjectaccessreviews"
}
expect_eq "$(sar '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice@contoso.com","extra":{"oid":["1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001"]},"resourceAttributes":{"namespace":"dev","verb":"get","resource":"pods"}}}')" 201 "sar"
expect_eq "$(jq -r .status.allowed "$T/body")" true "Azure allows in dev"
expect_eq "$(sar '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"alice@contoso.com","extra":{"oid":["1c6f3d1e-2b7a-4f0e-9d3c-5a8b7e6f0001"]},"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}}}')" 201 "sar"
expect_eq "$(jq -c '[.status.allowed, .status.denied]' "$T/body")" '[false,true]' "Azure denies elsewhere (final)"
expect_match "$(jq -r .status.reason "$T/body")" 'Azure RBAC' "Azure reason"
expect_eq "$(sar '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"carol","resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}}}')" 201 "sar"
expect_eq "$(jq -r .status.allowed "$T/body")" true "no oid: RBAC"
pass "SubjectAccessReview routes by extra.oid"
