# Shared helpers for the authorization / SAR / reload / audit integration tests (sourced
# after lib.sh): an issuer whose keys live in a local JWKS file, tokens minted with the
# npm jose package (tests/fixtures/authz/mint.mjs), and a gateway config with
# authentication + authorization (+ whatever the test adds).
MINT="$AG_SOURCE_DIR/tests/fixtures/authz/mint.mjs"

# authz_keys: key pair into $T (jwks.json, key.json).
authz_keys() { node "$MINT" keys "$T"; }
# token SUB [GROUP...]
token() { node "$MINT" token "$T" "$@"; }

# authz_config FILE POLICIES [extra members of "authorization"] [extra top-level members]
# POLICIES is the inside of a JSON list: '"a.json", "b/"'
authz_config() {
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {"issuers": [{"issuer": "https://idp.test", "audiences": ["authgate"],
      "keys": {"jwks_file": "$T/jwks.json"},
      "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]},
  "authorization": {"rbac": {"policies": [$2]}${3:+, $3}}${4:+,
  $4}
}
JSON
}

# req METHOD PATH TOKEN [curl args...]: prints "CODE" and leaves the body in $T/body.
req() {
    local m=$1 p=$2 tok=$3
    shift 3
    curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $tok" "$@" \
        "http://127.0.0.1:$GW_PORT$p"
}

# last_upstream: the fixture's record of the last request it received.
last_upstream() { tail -n 1 "$UP_LOG"; }
# up_headers NAME: values of header NAME (case-insensitive) in the last upstream request.
up_headers() {
    last_upstream | jq -r --arg n "$1" '.headers[] | select(.[0] | ascii_downcase == ($n | ascii_downcase)) | .[1]'
}
metric() { # metric NAME_WITH_LABELS: its value from /metrics (0 when absent)
    local v
    v=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v n="$1" '$1 == n {print $2; exit}')
    echo "${v:-0}"
}
# wait_generation N: until authgate_policy_generation reaches N (at most 5 s).
wait_generation() { # wait_generation N
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(metric authgate_policy_generation)" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "policy generation did not reach $1 (is $(metric authgate_policy_generation))"
}

# ---- Azure RBAC over the sample assignments in config/azure/ (t_authz_azure.sh,
# t_kubectl_reviews_azure.sh) ----
AZ_TID=72f988bf-86f1-41af-91ab-2d7cd011db47
AZ_CLUSTER=/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/web

# azure_issuers: the "issuers" list: Azure AD tenant $AZ_TID and https://idp.test (bare sub
# and groups), both signing with authz_keys' key.
azure_issuers() {
    cat <<JSON
[{"type": "azure_ad", "tenant_id": "$AZ_TID", "keys": {"jwks_file": "$T/jwks.json"}},
 {"issuer": "https://idp.test", "audiences": ["authgate"], "keys": {"jwks_file": "$T/jwks.json"},
  "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]
JSON
}

# azure_authz [extra members of "authorization"]: the "authorization" member: azure-then-rbac,
# Azure over the sample assignments and definitions for $AZ_CLUSTER, RBAC over
# authz_policy.json and authz_sar_policy.json.
azure_authz() {
    local az=$AG_SOURCE_DIR/config/azure d=$AG_SOURCE_DIR/tests/integration
    cat <<JSON
"authorization": {"mode": "azure-then-rbac",${1:+ $1,}
    "rbac": {"policies": ["$d/authz_policy.json", "$d/authz_sar_policy.json"]},
    "azure": {"cluster_resource_id": "$AZ_CLUSTER",
              "role_assignments": ["$az/role-assignments.json"],
              "role_definitions": ["$az/role-definitions.json"]}}
JSON
}
