# OIDC helpers for the t_oidc_*.sh integration tests (sourced after nothing else: it
# sources lib.sh): start the real OIDC provider fixture (tests/fixtures/oidc/provider.mjs)
# on a loopback port, mint tokens by client credentials, drive its admin endpoints, and
# write a gateway config whose "authentication" section trusts it.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# oidc_start [provider args]: sets OIDC_PORT, OIDC_ISSUER, OIDC_KID, OIDC_PID.
oidc_start() {
  (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/oidc/provider.mjs "$@") \
    >"$T/oidc.out" 2>"$T/oidc.err" &
  OIDC_PID=$!
  AG_PIDS+=("$OIDC_PID")
  wait_for_file "$T/oidc.out" 200
  OIDC_PORT=$(jq -r .port "$T/oidc.out")
  OIDC_ISSUER=$(jq -r .issuer "$T/oidc.out")
  OIDC_KID=$(jq -r .kid "$T/oidc.out")
}

oidc_stop() { kill "$OIDC_PID" 2>/dev/null || true; wait "$OIDC_PID" 2>/dev/null || true; }

# oidc_token CLIENT [RESOURCE] -> access token on stdout (client-credentials grant).
oidc_token() {
  curl -sf -X POST "$OIDC_ISSUER/token" -d grant_type=client_credentials -d "client_id=$1" \
    -d "client_secret=$1-secret" -d "resource=${2:-https://authgate.test}" -d scope=api |
    jq -r .access_token
}

oidc_admin() { curl -sf -X POST "$OIDC_ISSUER/admin/$1"; }
oidc_stats() { curl -sf "$OIDC_ISSUER/admin/stats" | jq -r ".$1"; }

# jwt_kid TOKEN: the kid in the JWT's header.
jwt_kid() {
  local s
  s=$(cut -d. -f1 <<<"$1" | tr '_-' '/+')
  while (( ${#s} % 4 )); do s+='='; done
  base64 -d <<<"$s" | jq -r .kid
}

# oidc_gateway [extra "authentication" members]: the provider, the upstream and a gateway
# trusting the provider (oidc_config on $T/gw.json), ready.
oidc_gateway() {
    oidc_start
    start_upstream
    oidc_config "$T/gw.json" "$@"
    start_gateway "$T/gw.json"
    wait_ready
}

# oidc_config FILE [extra "authentication" members]: the plain gateway config plus an
# authentication section trusting the provider by discovery, audience https://authgate.test.
oidc_config() {
  plain_config "$1" "\"authentication\": {
    \"issuers\": [{\"issuer\": \"$OIDC_ISSUER\", \"audiences\": [\"https://authgate.test\"],
                   \"keys\": {\"discovery\": true},
                   \"claims\": {\"username\": \"sub\", \"username_prefix\": \"oidc:\",
                                \"groups\": \"groups\", \"groups_prefix\": \"oidc:\"}}]${2:+,
    $2}
  }"
}

# get PATH TOKEN -> "STATUS" (body in $T/body)
get() {
  curl -s -o "$T/body" -w '%{http_code}' ${2:+-H "Authorization: Bearer $2"} \
    "http://127.0.0.1:$GW_PORT$1"
}

# wait_ready: /readyz answers 200 within 5 s.
wait_ready() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" = 200 ] &&
      return 0
    sleep 0.05
  done
  fail "gateway not ready: $(curl -s "http://127.0.0.1:$ADMIN_PORT/readyz")"
}

metric() { # metric NAME_WITH_LABELS -> value (0 when absent)
  curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
