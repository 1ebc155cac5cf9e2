#!/usr/bin/env bash
# Bearer tokens from a real OIDC provider (npm oidc-provider, client credentials): the
# gateway finds the keys by OIDC discovery, is ready only once it has them, forwards a
# valid token's identity (as Impersonate-* headers, never the client's Authorization),
# and answers every bad token 401 with a Kubernetes Status body, counting the reason.
. "$(dirname "$0")/oidc_lib.sh"

oidc_gateway
expect_eq "$(oidc_stats discovery)" 1 "discovery fetched once"
pass "ready after discovery and JWKS"

tok=$(oidc_token alice)
expect_eq "$(get /api/v1/namespaces/default/pods "$tok")" 200 "valid token"
line=$(tail -1 "$UP_LOG")
expect_match "$line" '"Impersonate-User","oidc:alice"' "impersonated user"
expect_match "$line" '"Impersonate-Group","oidc:developers"' "impersonated group"
expect_match "$line" '"Impersonate-Group","system:authenticated"' "system:authenticated"
expect_no_match "$line" "$tok" "client token forwarded"
pass "valid token forwarded as alice with her groups"

before=$(upstream_count)
expect_eq "$(get /api/v1/pods)" 401 "no token"
expect_match "$(cat "$T/body")" '"kind":"Status".*"reason":"Unauthorized".*"code":401' "Status body"
other=$(oidc_token bob)
forged="${tok%.*}.${other##*.}" # alice's claims under bob's (valid, but wrong) signature
expect_eq "$(get /api/v1/pods "$forged")" 401 "bad signature"
wrong=$(oidc_token alice https://other.test)
expect_eq "$(get /api/v1/pods "$wrong")" 401 "wrong audience"
expect_eq "$(get /api/v1/pods "not-a-jwt")" 401 "malformed"
expect_eq "$(get /api/v1/pods "${tok}x")" 401 "trailing garbage"
expect_eq "$(upstream_count)" "$before" "nothing forwarded after a 401"
expect_eq "$(metric 'authgate_authn_total{result="wrong_audience"}')" 1 "wrong_audience counted"
expect_match "$(grep 'wrong_audience' "$GW_LOG")" \
    "authentication failed: wrong_audience \\(iss=$OIDC_ISSUER .*token aud: \"https://other.test\"; the issuer accepts \"https://authgate.test\"\\)" \
    "the wrong-audience line names the token's aud and the accepted one"
expect_eq "$(metric 'authgate_authn_total{result="bad_signature"}')" 1 "bad_signature counted"
expect_no_match "$(cat "$GW_LOG")" "$tok" "token in the log"
pass "bad tokens: 401 Status, reasons in /metrics, never forwarded or logged"

# The second use of a token is a cache hit: no verification, same identity.
hits=$(metric 'authgate_token_cache_total{result="hit"}')
expect_eq "$(get /api/v1/pods "$tok")" 200 "cached token"
expect_eq "$(metric 'authgate_token_cache_total{result="hit"}')" "$((hits + 1))" "cache hit"
pass "token cache hit on reuse"

# Readiness: a gateway whose issuer has no keys yet is not ready, and becomes ready by
# itself once the provider serves its JWKS again (retry with backoff).
oidc_admin "jwks-mode?mode=500" >/dev/null
start_gateway "$T/gw.json" gw2
sleep 0.5
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" 503 \
  "not ready without keys"
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/readyz")" "keys" "readyz names the keys"
expect_eq "$(get /api/v1/pods "$tok")" 401 "no keys yet: 401"
oidc_admin "jwks-mode?mode=ok" >/dev/null
wait_ready
expect_eq "$(get /api/v1/pods "$tok")" 200 "keys arrived"
pass "ready only once every issuer has keys"

# An issuer configured with a trailing slash the provider does not use: discovery fails
# and the WARN prints both values (the outside trial saw only "a different issuer").
sed "s#\"issuer\": \"$OIDC_ISSUER\"#\"issuer\": \"$OIDC_ISSUER/\"#" "$T/gw.json" >"$T/gw-slash.json"
start_gateway "$T/gw-slash.json" gw-slash
mismatch() { grep -q "discovery document names issuer \"$OIDC_ISSUER\" but the configured issuer is \"$OIDC_ISSUER/\"" "$GW_LOG"; }
wait_until 10 "the issuer mismatch WARN" mismatch
expect_match "$(curl -s "http://127.0.0.1:$ADMIN_PORT/readyz?verbose")" "names issuer" "/readyz names the mismatch"
pass "issuer mismatch in discovery: both values in the WARN and in /readyz"
