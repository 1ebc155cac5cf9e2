# Graph helpers for the t_graph_*.sh integration tests: start the Graph-compatible fixture
# (tests/fixtures/graph/server.mjs: Graph, its token endpoint, a token minter and a sink
# listener that only counts connections), mint Azure AD v1 tokens with an overage marker
# whose forged _claim_sources endpoint points at that sink, and write a gateway config
# whose authentication trusts the minter and whose "graph" section points at the fixture.
# Sources oidc_lib.sh for get/metric/wait_ready (no OIDC provider is started).
. "$(dirname "${BASH_SOURCE[0]}")/oidc_lib.sh"

# json EXPR: evaluates the Python expression EXPR over stdin parsed as JSON (as d).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); r=($1); print(r)"; }

GRAPH_TID=72f988bf-86f1-41af-91ab-2d7cd011db47
GRAPH_AKS=6dae42f8-4368-4678-94ff-3960e28e3630

# graph_start [fixture args]: sets GRAPH_PORT, GRAPH_SINK, GRAPH_URL; writes $T/graph-jwks.json.
graph_start() {
    node "$AG_SOURCE_DIR/tests/fixtures/graph/server.mjs" --jwks "$T/graph-jwks.json" "$@" \
        >"$T/graph.out" 2>"$T/graph.err" &
    AG_PIDS+=($!)
    wait_for_file "$T/graph.out" 200
    GRAPH_PORT=$(json 'd["port"]' <"$T/graph.out")
    GRAPH_SINK=$(json 'd["sink"]' <"$T/graph.out")
    GRAPH_URL=http://127.0.0.1:$GRAPH_PORT
    printf 's3cret\n' >"$T/graph-secret"
}

graph_ctl() { curl -sf -X POST "$GRAPH_URL/_control" -d "$1" >/dev/null || fail "graph control $1"; }
graph_stat() { curl -sf "$GRAPH_URL/_stats" | json "d['$1']"; }
graph_lookups() { curl -sf "$GRAPH_URL/_stats" | json "d['lookups'].get('$1', 0)"; }

# graph_token OID [MARKER_JSON]: a fresh v1 token for OID (unique jti, so the gateway's
# token cache never answers for it) with the overage marker (default _claim_names) and
# _claim_sources naming the sink.
graph_token() {
    local now marker=${2:-'"_claim_names":{"groups":"src1"}'}
    now=$(date +%s)
    curl -sf -X POST "$GRAPH_URL/_mint" -d "{
      \"iss\":\"https://sts.windows.net/$GRAPH_TID/\",\"aud\":\"$GRAPH_AKS\",\"tid\":\"$GRAPH_TID\",
      \"oid\":\"$1\",\"upn\":\"user-${1:0:8}@contoso.com\",\"ver\":\"1.0\",
      \"jti\":\"$RANDOM-$RANDOM-$RANDOM\",\"iat\":$((now - 5)),\"nbf\":$((now - 5)),\"exp\":$((now + 3600)),
      $marker,
      \"_claim_sources\":{\"src1\":{\"endpoint\":\"http://127.0.0.1:$GRAPH_SINK/$GRAPH_TID/users/$1/getMemberObjects\"}}}" ||
        fail "mint"
}

# graph_config FILE [extra "graph" members]: gateway -> upstream fixture, Azure AD issuer
# trusting the minter's key, Graph and its token endpoint on the fixture.
graph_config() {
    plain_config "$1" "\"authentication\": {
    \"issuers\": [{\"type\": \"azure_ad\", \"tenant_id\": \"$GRAPH_TID\",
                   \"audiences\": [\"$GRAPH_AKS\"], \"keys\": {\"jwks_file\": \"$T/graph-jwks.json\"}}]
  },
  \"graph\": {\"base_url\": \"$GRAPH_URL\", \"token_url\": \"$GRAPH_URL/$GRAPH_TID/oauth2/v2.0/token\",
             \"client_id\": \"authgate-test\", \"client_secret_file\": \"$T/graph-secret\"${2:+,
             $2}}"
}

# groups_of LINE: the Impersonate-Group values of one upstream log line, sorted, one a line.
groups_of() {
    json 'chr(10).join(v for k, v in d["headers"] if k == "Impersonate-Group")' <<<"$1" | sort
}

# gid OID I: the fixture's I-th group id for OID.
gid() { printf '%08x-1111-4222-8333-%s\n' "$2" "${1: -12}"; }
