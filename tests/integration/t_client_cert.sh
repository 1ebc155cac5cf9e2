#!/usr/bin/env bash
# Client certificates: with client_auth "require" a client without a certificate, or with
# one from another CA, never gets an HTTP answer; one signed by tls.client_ca does. With
# "optional", clients without a certificate are served as well.
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
# A second CA that the gateway does not trust, with a client cert of its own.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=rogue CA" \
    -keyout "$T/rogue-ca.key" -out "$T/rogue-ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=mallory" \
    -keyout "$T/rogue.key" -out "$T/rogue.csr" 2>/dev/null
openssl x509 -req -in "$T/rogue.csr" -CA "$T/rogue-ca.crt" -CAkey "$T/rogue-ca.key" -CAcreateserial \
    -days 2 -out "$T/rogue.crt" 2>/dev/null

cat >"$T/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key",
          "client_ca": "$PKI/ca.crt", "client_auth": "require"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "workers": 1
}
JSON
start_gateway "$T/gw.json"
url="https://127.0.0.1:$GW_PORT/api/v1/pods"

out=$(curl -sS --fail --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" "$url")
expect_match "$out" '"target":"/api/v1/pods"' "trusted client certificate"
pass "client certificate signed by client_ca accepted"

n=$(upstream_count)
if curl -sS --cacert "$PKI/ca.crt" "$url" >/dev/null 2>&1; then fail "no certificate accepted"; fi
if curl -sS --cacert "$PKI/ca.crt" --cert "$T/rogue.crt" --key "$T/rogue.key" "$url" >/dev/null 2>&1; then
    fail "certificate from an untrusted CA accepted"
fi
expect_eq "$(upstream_count)" "$n" "nothing forwarded for refused clients"
s=$(openssl s_client -connect "127.0.0.1:$GW_PORT" -CAfile "$PKI/ca.crt" </dev/null 2>&1 || true)
expect_no_match "$s" 'Verify return code: 0 \(ok\).*HTTP' "s_client without cert"
pass "no certificate / untrusted CA refused at the handshake"

sed -i 's/"require"/"optional"/' "$T/gw.json"
start_gateway "$T/gw.json" gw2
url="https://127.0.0.1:$GW_PORT/api/v1/pods"
curl -sS --fail --cacert "$PKI/ca.crt" -o /dev/null "$url"
curl -sS --fail --cacert "$PKI/ca.crt" --cert "$PKI/client.crt" --key "$PKI/client.key" -o /dev/null "$url"
pass "optional client certificates: with and without"
