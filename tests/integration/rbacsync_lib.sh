# Helpers for the tests of Kubernetes RBAC from the cluster (issue 13; sourced after lib.sh
# and authz_lib.sh): the fake API server (tests/fixtures/apiserver.mjs, TLS) with its RBAC
# object store, a gateway whose policy is the cluster's RBAC (plus files), and the store's
# test controls.

# rbac_api_start [fixture args...]: PKI, the gateway's upstream token, the fake API server
# (API_PORT, API_LOG).
rbac_api_start() {
    gen_certs
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/gw.token"
    GW_TOKEN=$(cat "$T/gw.token")
    start_apiserver "$@"
}

# rbac_config FILE POLICIES CLUSTER [extra top-level members]: plain HTTP gateway whose
# upstream is the fake API server, tokens from the local JWKS issuer (authz_lib.sh),
# "authorization.rbac": {"policies": [POLICIES], "cluster": {CLUSTER}}.
rbac_config() {
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "https://127.0.0.1:$API_PORT", "ca": "$PKI/ca.crt",
               "server_name": "localhost", "token_file": "$T/gw.token"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {"issuers": [{"issuer": "https://idp.test", "audiences": ["authgate"],
      "keys": {"jwks_file": "$T/jwks.json"},
      "claims": {"username": "sub", "username_prefix": "-", "groups": "groups"}}]},
  "authorization": {"rbac": {"policies": [$2], "cluster": {$3}}}${4:+,
  $4}
}
JSON
}

# rbac_ctl WHAT [curl args...]: a test control of the fixture's RBAC store (POST; GET for
# state); prints its JSON answer.
rbac_ctl() {
    local what=$1
    shift
    local m=POST
    [ "$what" = state ] && m=GET
    curl -sk -X "$m" "https://127.0.0.1:$API_PORT/_fixture/rbac/$what" "$@"
}

# rbac_bulk JSON-ARRAY: applies [{"op": "put"|"delete", "object": {...}}] in the store.
rbac_bulk() { rbac_ctl bulk -H 'Content-Type: application/json' --data-binary "$1" >/dev/null; }

# rb NAME NS USER ROLE [ROLEKIND]: a RoleBinding object (JSON).
rb() {
    printf '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"%s","namespace":"%s"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"%s","name":"%s"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"%s"}]}' \
        "$1" "$2" "${5:-ClusterRole}" "$4" "$3"
}

# gw_req PORT METHOD PATH TOKEN: the status code a gateway on PORT answers.
gw_req() {
    curl -s -o /dev/null -w '%{http_code}' -X "$2" -H "Authorization: Bearer $4" "http://127.0.0.1:$1$3"
}

# within_ms LIMIT_MS PORT TOKEN PATH CODE: polls every 20 ms until the gateway on PORT
# answers CODE for GET PATH; prints the milliseconds it took; fails past LIMIT_MS.
within_ms() {
    local limit=$1 port=$2 tok=$3 path=$4 want=$5 t0 now code
    t0=$(date +%s%3N)
    while :; do
        code=$(gw_req "$port" GET "$path" "$tok")
        now=$(date +%s%3N)
        [ "$code" = "$want" ] && { echo $((now - t0)); return 0; }
        [ $((now - t0)) -lt "$limit" ] || fail "GET $path on :$port still $code after $((now - t0)) ms (want $want)"
        sleep 0.02
    done
}

# admin_metric PORT NAME: a metric of the gateway whose admin listener is on PORT.
admin_metric() {
    local v
    v=$(curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2; exit}')
    echo "${v:-0}"
}
