# End-to-end helpers (sourced by tests/integration/t_e2e_*.sh): the real authgate binary,
# TLS on both sides, in front of the fake API server tests/fixtures/apiserver.mjs, with
# tokens from the real OIDC provider fixture and from a static-key issuer minted with jose
# (tests/e2e/mint.mjs), driven by real kubectl through generated kubeconfigs. Every request
# the fake API server received is recorded; e2e_assert_upstream checks them.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/oidc_lib.sh"

AUD=https://authgate.test
STATIC_ISS=https://static.e2e.test

# e2e_start: PKI, the gateway's upstream token, the fake API server (API_PORT, API_LOG),
# the OIDC provider (OIDC_*; started with the arguments in the array OIDC_ARGS, if set),
# the static issuer's keys ($T/static-jwks.json).
e2e_start() {
    gen_certs
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/gw.token"
    GW_TOKEN=$(cat "$T/gw.token")
    start_apiserver "$@"
    (cd "$AG_SOURCE_DIR/tests" && node e2e/mint.mjs keygen "$T") || fail "static issuer keygen"
    oidc_start ${OIDC_ARGS[@]+"${OIDC_ARGS[@]}"}
}

# e2e_config FILE [extra top-level members]: TLS gateway -> https fake API server (by the name
# "localhost": mbedTLS 2.28 matches DNS names only, not IP SANs) with the
# gateway's token; issuers: the OIDC provider (discovery) and the static issuer (JWKS file),
# or the JSON list in E2E_ISSUERS when set.
# Usernames are the bare `sub` and groups the bare `groups`, as a cluster's --oidc flags
# with empty prefixes would map them.
e2e_config() {
    local issuers=${E2E_ISSUERS:-}
    [ -n "$issuers" ] || issuers='[
      {"issuer": "'$OIDC_ISSUER'", "audiences": ["'$AUD'"], "keys": {"discovery": true},
       "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}},
      {"issuer": "'$STATIC_ISS'", "audiences": ["'$AUD'"], "keys": {"jwks_file": "'$T/static-jwks.json'"},
       "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}
    ]'
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key"},
  "upstream": {"url": "https://127.0.0.1:$API_PORT", "ca": "$PKI/ca.crt",
               "server_name": "localhost", "token_file": "$T/gw.token"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {
    "issuers": $issuers
  }${2:+,
  $2}
}
JSON
}

# e2e_gateway [extra top-level members]: writes $T/gw.json, starts and waits until ready.
e2e_gateway() {
    e2e_config "$T/gw.json" "${1:-}"
    start_gateway "$T/gw.json"
    wait_ready
}

# The RoleBinding most end-to-end tests start from: alice may view namespace "default".
E2E_ALICE_VIEW='{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
   "metadata": {"name": "alice-view", "namespace": "default"},
   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]}'

# e2e_rbac_gateway [EXTRA] < OBJECTS: the RBAC objects on stdin (JSON, comma-separated)
# become the List in $T/policy.json, and the gateway starts judging by it with impersonation
# authorized; EXTRA (more top-level members, starting with ",") is appended to the config.
e2e_rbac_gateway() {
    { echo '{"apiVersion": "v1", "kind": "List", "items": ['; cat; echo ']}'; } >"$T/policy.json"
    e2e_gateway "\"authorization\": {\"mode\": \"rbac\", \"rbac\": {\"policies\": [\"$T/policy.json\"]},
                \"impersonation\": \"authorize\"}${1:-}"
}

# static_token SUB [GROUPS] [EXP_OFFSET_S] -> a JWT from the static issuer.
static_token() {
    (cd "$AG_SOURCE_DIR/tests" && node e2e/mint.mjs token "$T" "$STATIC_ISS" "$AUD" "$1" "${2:-}" "${3:-600}")
}

# kubeconfig NAME TOKEN: writes $T/kc-NAME pointing at the gateway (CA, bearer token).
kubeconfig() {
    cat >"$T/kc-$1" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: authgate
  cluster:
    server: https://127.0.0.1:$GW_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $1
  user:
    token: $2
contexts:
- name: $1
  context: {cluster: authgate, user: $1, namespace: default}
current-context: $1
YAML
    echo "$2" >>"$T/client-tokens"
}

# kc NAME ARGS...: kubectl as NAME through the gateway (no cache: every run asks upstream).
kc() {
    local who=$1
    shift
    kubectl --kubeconfig "$T/kc-$who" --cache-dir "$T/kcache-$who-$RANDOM" --request-timeout=15s "$@"
}

# api_mark: remember where the fake API server's log is; api_new prints the requests since.
api_mark() { API_MARK=$(wc -l <"$API_LOG" | tr -d ' '); }
api_new() { tail -n +"$((API_MARK + 1))" "$API_LOG" | jq -c 'select(.method)'; }

# e2e_assert_upstream WHAT USER [GROUP...]: every request the API server got since the
# mark carried exactly the gateway's credential and exactly this impersonated identity,
# and at least one arrived. Groups compare as sets.
e2e_assert_upstream() {
    local what=$1 user=$2
    shift 2
    local want n bad
    want=$(printf '%s\n' "$@" | jq -R . | jq -sc 'map(select(. != "")) | sort')
    n=$(api_new | wc -l)
    [ "$n" -gt 0 ] || fail "$what: no request reached the API server"
    bad=$(api_new | jq -c --arg tok "Bearer $GW_TOKEN" --arg user "$user" --argjson groups "$want" '
        def hv(n): [.headers[] | select(.[0] | ascii_downcase == n) | .[1]];
        select((hv("authorization") != [$tok]) or (.status != 101 and .status != 200)
               or (hv("impersonate-user") != [$user])
               or ((hv("impersonate-group") | sort) != $groups))
        | {target, status, user: hv("impersonate-user"), groups: hv("impersonate-group"),
           auth: (hv("authorization") | map(.[0:12] + "..."))}')
    [ -z "$bad" ] || fail "$what: upstream saw the wrong credential or identity: $bad (want $user $want)"
}

# e2e_assert_no_client_tokens: no token a client used ever reached the API server, in any
# header (the fixture's log holds every header it received).
e2e_assert_no_client_tokens() {
    local t
    while read -r t; do
        [ -n "$t" ] || continue
        if grep -qF -- "$t" "$API_LOG"; then fail "a client's token reached the API server"; fi
        # also the signature alone (a re-encoded or truncated header)
        if grep -qF -- "${t##*.}" "$API_LOG"; then fail "a client token's signature reached the API server"; fi
    done <"$T/client-tokens"
}
