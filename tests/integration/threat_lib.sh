# Shared helpers for the t_threat_*.sh tests (sourced after lib.sh): keys and attack tokens
# minted by tests/fixtures/threats/mint.mjs (npm jose / node:crypto, never authgate's
# code), a recorder that must never be contacted by anything a token names, a gateway
# config with authentication (issuers A and B) + authorization (tests/integration/
# authz_policy.json: alice views "default"; authz_sar_policy.json; threat/policy.json: the
# users of t_threat_paths/_cache) + the gateway's own upstream credential, and
# the invariant every forwarded request must satisfy (threat-model cases 9, 10, 11).
TMINT="$AG_SOURCE_DIR/tests/fixtures/threats/mint.mjs"
THREAT_SERVER="$AG_SOURCE_DIR/tests/integration/threat_server.py"
GW_TOKEN=gateway-secret-token-7f3a

# threat_keys: key files into $T (jwks.json, jwks-b.json, attacker-jwks.json, priv.json).
threat_keys() { (cd "$AG_SOURCE_DIR/tests" && node "$TMINT" keys "$T"); }

# start_recorder: the JWKS/recorder server (threat_server.py jwks); sets REC_PORT, REC_URL.
start_recorder() {
    mkdir -p "$T/rec"
    cp "$T/jwks.json" "$T/rec/serve.json"
    echo ok >"$T/rec/mode"
    : >"$T/rec/jwks.log"
    python3 "$THREAT_SERVER" jwks "$T/rec" >"$T/rec.out" 2>&1 &
    AG_PIDS+=($!)
    wait_for_file "$T/rec/jwks.port"
    REC_PORT=$(cat "$T/rec/jwks.port")
    REC_URL="http://127.0.0.1:$REC_PORT"
}
rec_hits() { grep -c "${1:-.}" "$T/rec/jwks.log" || true; } # rec_hits [REGEX]

# threat_tokens: every attack token into $T/tokens.json; tok NAME prints one.
threat_tokens() {
    (cd "$AG_SOURCE_DIR/tests" && node "$TMINT" tokens "$T" "${REC_URL:-http://127.0.0.1:9}") \
        >"$T/tokens.json"
}
tok() { jq -r --arg n "$1" '.[$n] // error("no token " + $n)' "$T/tokens.json"; }

# threat_start [threat_config arguments after FILE]: the upstream, the keys, the recorder
# when THREAT_RECORDER is set, the tokens, and the gateway on $T/gw.json.
threat_start() {
    start_upstream
    threat_keys
    if [ -n "${THREAT_RECORDER:-}" ]; then start_recorder; fi
    threat_tokens
    threat_config "$T/gw.json" "$@"
    start_gateway "$T/gw.json"
}

# threat_config FILE [issuer-A keys JSON] [extra "authentication" members] [extra top level]
threat_config() {
    echo "$GW_TOKEN" >"$T/gw-token"
    local D="$AG_SOURCE_DIR/tests/integration"
    cat >"$1" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT", "token_file": "$T/gw-token"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 2,
  "authentication": {"issuers": [
      {"issuer": "https://idp.test", "audiences": ["authgate"],
       "keys": ${2:-{\"jwks_file\": \"$T/jwks.json\"\}},
       "claims": {"username": "sub", "username_prefix": "-", "groups": "groups",
                  "extra": {"example.com/team_x": "team"}}},
      {"issuer": "https://idp-b.test", "audiences": ["authgate"],
       "keys": {"jwks_file": "$T/jwks-b.json"},
       "claims": {"username": "sub", "username_prefix": "b:", "groups": "groups", "groups_prefix": "b:"}}]${3:+,
    $3}},
  "authorization": {"rbac": {"policies": ["$D/authz_policy.json", "$D/authz_sar_policy.json",
                                        "$D/threat/policy.json"]}}${4:+,
  $4}
}
JSON
}

# rawsend: stdin byte for byte to the gateway; prints the answer (lib.sh raw).
rawsend() { raw "$GW_PORT"; }

# hreq METHOD PATH [curl args...]: prints the status; body in $T/body.
hreq() {
    local m=$1 p=$2
    shift 2
    curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "http://127.0.0.1:$GW_PORT$p"
}
# breq TOKEN_NAME [PATH]: GET PATH (default: alice's allowed pod list) with token NAME.
breq() {
    hreq GET "${2:-/api/v1/namespaces/default/pods}" -H "Authorization: Bearer $(tok "$1")"
}

last_upstream() { tail -n 1 "$UP_LOG"; }
up_headers() { # up_headers NAME: values of header NAME in the last upstream request
    last_upstream | jq -r --arg n "$1" '.headers[] | select(.[0] | ascii_downcase == ($n | ascii_downcase)) | .[1]'
}

# check_forward_invariant: every request the fixture recorded carries exactly one
# Authorization (the gateway's), exactly one Impersonate-User, no other client credential
# (cases 9-11: no path forgets impersonation or leaks a client credential).
check_forward_invariant() {
    python3 - "$UP_LOG" "$GW_TOKEN" <<'PY' || fail "forward invariant"
import json, sys
bad = 0
for n, line in enumerate(open(sys.argv[1])):
    rec = json.loads(line)
    h = [(k.lower(), v) for k, v in rec["headers"]]
    auth = [v for k, v in h if k == "authorization"]
    users = [v for k, v in h if k == "impersonate-user"]
    extra = [k for k, v in h if k in ("proxy-authorization",) or k.startswith("x-remote")]
    if auth != ["Bearer " + sys.argv[2]] or len(users) != 1 or extra:
        print("request %d %s %s: authorization=%r impersonate-user=%r other=%r"
              % (n + 1, rec["method"], rec["target"], auth, users, extra))
        bad += 1
sys.exit(1 if bad else 0)
PY
}
