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
