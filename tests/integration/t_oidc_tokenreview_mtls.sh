#!/usr/bin/env bash
# The TokenReview webhook as a real API server calls it: over TLS, authenticating itself
# with a client certificate (CN becomes the username). With "tokenreview_callers" only the
# listed callers get reviews (403 for another authenticated caller, 401 without
# credentials); a listed caller's reviews work as usual.
. "$(dirname "$0")/oidc_lib.sh"

gen_certs # client certificate CN=alice, O=devs, O=ops
oidc_start
start_upstream
cat >"$T/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key",
          "client_ca": "$PKI/ca.crt", "client_auth": "optional"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "127.0.0.1:0"},
  "workers": 1,
  "authentication": {
    "issuers": [{"issuer": "$OIDC_ISSUER", "audiences": ["https://authgate.test"],
                 "keys": {"discovery": true}, "claims": {"username_prefix": "oidc:"}}],
    "tokenreview_callers": ["alice"]
  }
}
JSON
start_gateway "$T/gw.json"
wait_ready
tok=$(oidc_token bob)
body="{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{\"token\":\"$tok\"}}"
U=https://127.0.0.1:$GW_PORT/apis/authentication.k8s.io/v1/tokenreviews
post() { curl -s -o "$T/review" -w '%{http_code}' --cacert "$PKI/ca.crt" -H 'Content-Type: application/json' -d "$body" "$@" "$U"; }

expect_eq "$(post --cert "$PKI/client.crt" --key "$PKI/client.key")" 201 "caller with a client certificate"
expect_eq "$(jq -r '.status.authenticated, .status.user.username' "$T/review" | paste -sd' ')" \
  "true oidc:bob" "review by the certificate caller"
expect_eq "$(post -H "Authorization: Bearer $(oidc_token carol)")" 403 "authenticated, not a listed caller"
expect_match "$(cat "$T/review")" '"kind":"Status".*"code":403' "403 Status body"
expect_eq "$(post)" 401 "no credentials"
expect_eq "$(upstream_count)" 0 "nothing forwarded"
pass "TokenReview over TLS: client-certificate caller allowed, others refused"
