#!/usr/bin/env bash
# Keys over HTTPS: the provider serves discovery and JWKS with a certificate from a test
# CA. With keys.ca_file naming that CA the gateway loads the keys and accepts tokens;
# without it the certificate is not trusted, so no keys, not ready, and every token 401
# (fail closed), with the TLS failure in the log.
. "$(dirname "$0")/oidc_lib.sh"

gen_certs
oidc_start --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key"
expect_match "$OIDC_ISSUER" '^https://127\.0\.0\.1:' "https issuer"
start_upstream
token() { curl -sf --cacert "$PKI/ca.crt" -X POST "$OIDC_ISSUER/token" -d grant_type=client_credentials \
  -d client_id=alice -d client_secret=alice-secret -d resource=https://authgate.test -d scope=api |
  jq -r .access_token; }
tok=$(token)

oidc_config "$T/gw.json" "\"keys\": {\"ca_file\": \"$PKI/ca.crt\"}"
start_gateway "$T/gw.json"
wait_ready
expect_eq "$(get /api/v1/pods "$tok")" 200 "token verified with keys fetched over HTTPS"
pass "JWKS over HTTPS with a configured CA"

oidc_config "$T/gw2.json" '"keys": {"fetch_timeout": "2s"}'
start_gateway "$T/gw2.json" gw2
wait_until 10 "the discovery failure" grep -Eq "discovery failed: .*(certificate|SSL)" "$GW_LOG"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" 503 \
  "untrusted IdP certificate: not ready"
expect_eq "$(get /api/v1/pods "$tok")" 401 "untrusted IdP: 401"
expect_match "$(cat "$GW_LOG")" "discovery failed: .*(certificate|SSL)" "TLS failure logged"
pass "untrusted IdP certificate: no keys, fail closed"
