#!/usr/bin/env bash
# TLS termination: curl and openssl s_client against the gateway; TLS 1.2 with an AEAD
# ECDHE suite, ALPN http/1.1, session-ticket resumption (Reused), plain HTTP refused on
# the TLS port, and an https upstream verified against its CA.
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
tls_config "$T/gw.json" 2
start_gateway "$T/gw.json"

out=$(curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/api/v1/pods")
expect_match "$out" '"target":"/api/v1/pods"' "request over TLS"
expect_match "$(tail -1 "$UP_LOG")" '\["X-Forwarded-Proto","https"\]' "X-Forwarded-Proto https"
pass "curl over TLS, verified against the CA"

info=$(curl -sS -o /dev/null -v --cacert "$PKI/ca.crt" "https://localhost:$GW_PORT/x" 2>&1)
expect_match "$info" 'ALPN: server accepted http/1.1' "ALPN"
expect_match "$info" 'SSL connection using TLSv1.2 / ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)' "suite"
pass "ALPN http/1.1 and an ECDHE AEAD suite"

s=$(printf 'GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$GW_PORT" -CAfile "$PKI/ca.crt" -alpn http/1.1 \
        -sess_out "$T/sess.pem" -ign_eof 2>&1)
expect_match "$s" 'Verify return code: 0' "s_client verify"
expect_match "$s" 'ALPN protocol: http/1.1' "s_client ALPN"
expect_match "$s" 'HTTP/1.1 200 OK' "s_client response"
expect_match "$s" 'TLS session ticket lifetime hint' "ticket issued"
r=$(printf 'GET /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$GW_PORT" -CAfile "$PKI/ca.crt" -sess_in "$T/sess.pem" -ign_eof 2>&1)
expect_match "$r" '^Reused, TLSv1.2' "session resumed"
expect_match "$r" 'HTTP/1.1 200 OK' "response on resumed session"
pass "openssl s_client: verify, ALPN, session ticket resumption (Reused)"

# TLS 1.1 is refused; so is a non-AEAD suite.
old=$(openssl s_client -connect "127.0.0.1:$GW_PORT" -tls1_1 </dev/null 2>&1 || true)
expect_no_match "$old" 'Cipher is ECDHE' "TLS 1.1 refused"
cbc=$(openssl s_client -connect "127.0.0.1:$GW_PORT" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA </dev/null 2>&1 || true)
expect_no_match "$cbc" 'Cipher is ECDHE-ECDSA-AES128-SHA$' "CBC suite refused"
pass "TLS 1.1 and CBC suites refused"

# Plain HTTP on the TLS port gets no HTTP answer.
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | raw "$GW_PORT" || true)
expect_no_match "$out" '^HTTP/1.1 200' "plain HTTP on TLS port"
pass "plain HTTP on the TLS port is not served"

# https upstream: the fixture serves TLS with the test CA's certificate.
kill "$UP_PID"
start_upstream --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key"
cat >"$T/gw2.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "upstream": {"url": "https://127.0.0.1:$UP_PORT", "ca": "$PKI/ca.crt", "server_name": "localhost"},
  "workers": 1
}
JSON
start_gateway "$T/gw2.json" gw2
out=$(curl -sS --fail "http://127.0.0.1:$GW_PORT/api/one" "http://127.0.0.1:$GW_PORT/api/two")
expect_match "$out" '"target":"/api/two"' "https upstream"
pass "https upstream verified against its CA"

# Without pooling every request opens a new upstream connection: all but the first
# resume the previous TLS session instead of a full handshake.
sed 's/"server_name": "localhost"}/"server_name": "localhost", "pool_size": 0}/' "$T/gw2.json" >"$T/gw2b.json"
start_gateway "$T/gw2b.json" gw2b
for i in 1 2 3; do curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/api/resume/$i"; done
reused=$(grep '"/api/resume/' "$UP_LOG" | grep -o '"tlsReused":[a-z]*' | tr '\n' ' ')
expect_eq "$reused" '"tlsReused":false "tlsReused":true "tlsReused":true ' "upstream session resumption"
pass "upstream TLS sessions resumed on new connections"

# An upstream that requires a client certificate: the gateway presents upstream.cert.
kill "$UP_PID"
start_upstream --tls-cert "$PKI/server.crt" --tls-key "$PKI/server.key" --tls-ca "$PKI/ca.crt"
cat >"$T/gw4.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "upstream": {"url": "https://127.0.0.1:$UP_PORT", "ca": "$PKI/ca.crt", "server_name": "localhost",
               "cert": "$PKI/client.crt", "key": "$PKI/client.key"},
  "workers": 1
}
JSON
start_gateway "$T/gw4.json" gw4
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/api/mtls"
expect_match "$(tail -1 "$UP_LOG")" '"peerCN":"alice"' "upstream saw the gateway's client certificate"
pass "https upstream requiring a client certificate"

# An upstream whose certificate does not verify gets a 503 (unreachable), nothing else.
cat >"$T/gw3.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "upstream": {"url": "https://127.0.0.1:$UP_PORT", "ca": "$PKI/client.crt"},
  "workers": 1
}
JSON
start_gateway "$T/gw3.json" gw3
code=$(curl -sS -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$GW_PORT/api")
expect_eq "$code" "503" "unverifiable upstream"
expect_match "$(cat "$T/body")" '"kind":"Status".*"reason":"ServiceUnavailable"' "Status body"
pass "unverified upstream certificate refused with 503"
