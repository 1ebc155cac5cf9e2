#!/usr/bin/env bash
# Real kubectl with the non-interactive modes of `authgate login` (issue 15): kubeconfigs
# written by `authgate kubeconfig --login workloadidentity` and `--login spn`, the
# credential only in kubectl's environment (as a pod's webhook or a CI job sets it), tokens
# from the Azure AD-shaped fixture, verified by the TLS gateway's azure_ad issuer preset
# (tenant, AKS server app audience, the fixture's JWKS), the app's oid as the user name.
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/login_lib.sh"
kubectl_recent || { echo "SKIP: needs kubectl 1.30 or later on PATH"; exit 0; }

SPN_OID=22222222-0000-4000-8000-000000000001
WI_OID=22222222-0000-4000-8000-000000000003

e2e_start
mkdir -p "$T/sa" && node "$AG_SOURCE_DIR/tests/fixtures/authz/mint.mjs" keys "$T/sa" || fail "keys"
cat >"$T/clients.json" <<JSON
{"$SPN": {"secret": "s3cret~value", "oid": "$SPN_OID"},
 "$WI_APP": {"federated": {"issuer": "$SA_ISS", "jwks": "$T/sa/jwks.json", "subject": "$SA_SUB"},
             "oid": "$WI_OID"}}
JSON
aad_start "$TID" "$T/clients.json"
(cd "$AG_SOURCE_DIR/tests" && node fixtures/azure/aad.mjs mint-federated "$T/sa/key.json" "$SA_ISS" "$SA_SUB") \
    >"$T/sa-token" || fail "federated token"

E2E_ISSUERS="[{\"type\": \"azure_ad\", \"tenant_id\": \"$TID\", \"keys\": {\"jwks_file\": \"$T/jwks.json\"}}]"
e2e_rbac_gateway <<JSON
  {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
   "metadata": {"name": "deployer-view", "namespace": "default"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "$WI_OID"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "$SPN_OID"}]}
JSON

# kc_write NAME ARGS...: a kubeconfig $T/NAME.kc for the gateway with these sign-in flags.
kc_write() {
    local name=$1
    shift
    "$AUTHGATE" kubeconfig --server "https://127.0.0.1:$GW_PORT" --certificate-authority "$PKI/ca.crt" \
        --kubeconfig "$T/$name.kc" --namespace default --tenant-id "$TID" "$@" 2>"$T/kc.err" ||
        fail "authgate kubeconfig $*: $(cat "$T/kc.err")"
}
# kube NAME ARGS...: kubectl without a terminal (interactive false) with that kubeconfig.
kube() {
    local name=$1
    shift
    kubectl --kubeconfig "$T/$name.kc" --cache-dir "$T/kcache-$name-$RANDOM" --request-timeout=20s "$@" </dev/null
}
token_requests() { jq -c 'select(.path | endswith("/token"))' "$AAD_LOG" | wc -l; }

# ---- workload identity: only the pod's environment -----------------------------------
kc_write wi --login workloadidentity
expect_eq "$(jq -c '.users[0].user.exec.args' "$T/wi.kc")" \
    "[\"login\",\"--tenant-id\",\"$TID\",\"--login\",\"workloadidentity\"]" "no credential in the kubeconfig"
export AZURE_AUTHORITY_HOST=$AUTHORITY
api_mark
out=$(AZURE_CLIENT_ID=$WI_APP AZURE_TENANT_ID=$TID AZURE_FEDERATED_TOKEN_FILE=$T/sa-token \
    kube wi get pods 2>&1) || fail "kubectl get pods (workload identity): $out"
expect_match "$out" 'web-1 +1/1 +Running' "pods listed"
e2e_assert_upstream "workload identity" "$WI_OID" system:authenticated
# kubectl may run the plugin more than once per process (parallel requests before the first
# credential is in); not cached, each run asks the token endpoint (2 here, measured).
echo "  token requests for one kubectl get pods: $(token_requests)"
expect_eq "$(jq -r 'select(.path | endswith("/token")) | .form.client_assertion' "$AAD_LOG" | sort -u)" \
    "$(cat "$T/sa-token")" "the projected token was the assertion"
expect_eq "$(ls "$HOME/.kube/cache/authgate" 2>/dev/null | grep -c json || true)" 0 "nothing cached"
pass "kubectl get pods with workload identity (environment only) through the gateway as the app's oid"

# ---- service principal with a secret ----------------------------------------------------
kc_write spn --login spn --client-id "$SPN"
api_mark
out=$(AZURE_CLIENT_SECRET='s3cret~value' kube spn get pods 2>&1) || fail "kubectl get pods (spn): $out"
expect_match "$out" 'web-1 +1/1 +Running' "pods listed"
e2e_assert_upstream "spn" "$SPN_OID" system:authenticated
grep -q 's3cret' "$T/spn.kc" && fail "the secret is in the kubeconfig"
out=$(AZURE_CLIENT_SECRET=wrong kube spn get pods 2>&1) && fail "a wrong secret listed pods: $out"
expect_match "$out" "AADSTS7000215: Invalid client secret" "kubectl shows why"
expect_match "$out" "exit status 8|exit code 8|getting credentials" "the plugin failed"
out=$(kube spn get pods 2>&1) && fail "no secret listed pods: $out"
expect_match "$out" "exactly one of --client-secret" "no secret: says what is missing"
pass "kubectl get pods with an spn secret from the environment; wrong or missing secret fails clearly"
