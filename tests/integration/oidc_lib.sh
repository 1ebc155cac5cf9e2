# Shared helpers for the t_oidc_*.sh integration tests (sourced, not run): start the
# real OIDC provider fixture (tests/fixtures/oidc/provider.mjs) on a loopback port,
# mint tokens with client credentials, drive its admin endpoints, clean up on exit.
set -euo pipefail
: "${AG_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
AG_TMP=$(mktemp -d /tmp/ag-oidc.XXXXXX)
AG_PIDS=()

ag_cleanup() {
  for p in "${AG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${AG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$AG_TMP"
}
trap ag_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Starts the provider; sets OIDC_PORT, OIDC_ISSUER, OIDC_KID, OIDC_PID.
oidc_start() {
  (cd "$AG_SOURCE_DIR/tests" && exec node fixtures/oidc/provider.mjs "$@") \
    >"$AG_TMP/oidc.out" 2>"$AG_TMP/oidc.err" &
  OIDC_PID=$!
  AG_PIDS+=("$OIDC_PID")
  for _ in $(seq 100); do
    [[ -s $AG_TMP/oidc.out ]] && break
    sleep 0.1
  done
  [[ -s $AG_TMP/oidc.out ]] || { cat "$AG_TMP/oidc.err" >&2; fail "OIDC provider did not start"; }
  OIDC_PORT=$(jq -r .port "$AG_TMP/oidc.out")
  OIDC_ISSUER=$(jq -r .issuer "$AG_TMP/oidc.out")
  OIDC_KID=$(jq -r .kid "$AG_TMP/oidc.out")
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

# kid in a JWT's header
jwt_kid() {
  local s
  s=$(cut -d. -f1 <<<"$1" | tr '_-' '/+')
  while (( ${#s} % 4 )); do s+='='; done
  base64 -d <<<"$s" | jq -r .kid
}
