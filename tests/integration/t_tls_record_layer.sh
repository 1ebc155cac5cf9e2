#!/usr/bin/env bash
# TLS records after the handshake: by default mbedTLS hands them to libcrypto's AEAD
# (proxy/net/tls_record.c) and frees its own context; tls.record_layer "mbedtls" keeps
# mbedTLS's. Real clients (curl, openssl s_client with a resumed session, Python's ssl
# with each AEAD) are served on both; authgate_tls_record_layer_total says which layer
# each handshake ended on. A peer that sends a forged or out-of-place record after the
# handshake gets a fatal alert and the connection closed, and the gateway serves on.
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
metric() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v k="$1" '$1 == k {print $2}'
}
LIB='authgate_tls_record_layer_total{layer="libcrypto"}'
MBED='authgate_tls_record_layer_total{layer="mbedtls"}'

# clients PORT: 2 keep-alive requests with curl (one POST of 40 kB: several records), a
# 100 kB response, an s_client request and one on its resumed session, one request per
# AEAD with Python.
clients() {
    local port=$1
    head -c 40000 /dev/zero | tr '\0' 'a' >"$T/body"
    out=$(curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:$port/api/one" \
        --data-binary "@$T/body" -H 'Content-Type: text/plain' "https://127.0.0.1:$port/api/two")
    expect_match "$out" '"target":"/api/two"' "curl keep-alive over TLS"
    expect_match "$(grep '"/api/one"' "$UP_LOG" | tail -1)" '"bodyLen":40000' "40 kB request body"
    n=$(curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:$port/big?bytes=100000" | wc -c)
    expect_eq "$n" "100000" "100 kB response (7 records)"
    s=$(printf 'GET /api/s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
        openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.crt" -sess_out "$T/sess.pem" \
            -ign_eof 2>&1)
    expect_match "$s" 'HTTP/1.1 200 OK' "s_client response"
    r=$(printf 'GET /api/r HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
        openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.crt" -sess_in "$T/sess.pem" \
            -ign_eof 2>&1)
    expect_match "$r" '^Reused, TLSv1.2' "session resumed"
    expect_match "$r" 'HTTP/1.1 200 OK' "response on the resumed session"
    python3 - "$port" "$PKI/ca.crt" <<'PY' || fail "python ssl clients"
import http.client, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
              "ECDHE-ECDSA-CHACHA20-POLY1305"):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(suite)
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    for i in range(3):
        c.request("GET", "/api/" + suite + "/" + str(i))
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and suite.encode() in body, (suite, r.status, body[:200])
    assert c.sock.cipher()[0] == suite, c.sock.cipher()
    c.close()
PY
}

tls_config "$T/gw.json" 1 '"admin": {"address": "127.0.0.1:0"}'
start_gateway "$T/gw.json"
clients "$GW_PORT"
lib=$(metric "$LIB")
[ "${lib:-0}" -ge 6 ] || fail "libcrypto record layer after $lib handshakes only"
expect_eq "$(metric "$MBED")" "0" "no handshake left on mbedTLS's record layer"
pass "curl, s_client (resumed) and Python (AES-128/256-GCM, ChaCha20) on libcrypto's record layer ($lib handshakes)"

# Forged records after the handshake, from a Python client that holds the record layer in
# memory: a flipped bit (bad_record_mac), a plaintext handshake record (renegotiation),
# a record over 2^14 + 2048 bytes. Each gets a fatal alert (0x15) and the close.
python3 - "$GW_PORT" "$PKI/ca.crt" <<'PY' || fail "forged records"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
def session():
    ctx = ssl.create_default_context(cafile=ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            s.sendall(out.read())
            inc.write(s.recv(65536))
    s.sendall(out.read())
    return s, obj, out
def answer(s):
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return data
            data += b
    except socket.timeout:
        return data + b"<timeout>"
req = b"GET /api/forged HTTP/1.1\r\nHost: x\r\n\r\n"
s, obj, out = session()
obj.write(req)
rec = bytearray(out.read())
rec[len(rec) // 2] ^= 0x10
s.sendall(bytes(rec))
a = answer(s)
assert a[:1] == b"\x15" and len(a) == 5 + 8 + 2 + 16, ("flipped bit", a)
s, obj, out = session()
s.sendall(b"\x16\x03\x03\x00\x04\x00\x00\x00\x00")
a = answer(s)
assert a[:1] == b"\x15" and b"<timeout>" not in a, ("handshake record", a)
s, obj, out = session()
s.sendall(b"\x17\x03\x03\x48\x01" + b"\x00" * 100)
a = answer(s)
assert a[:1] == b"\x15" and b"<timeout>" not in a, ("oversized record", a)
PY
out=$(curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/api/after")
expect_match "$out" '"target":"/api/after"' "served after the forged records"
! grep -q '"/api/forged"' "$UP_LOG" || fail "a forged record reached the upstream"
pass "forged, out-of-place and oversized records: fatal alert, closed, nothing forwarded"

# record_layer "mbedtls": the same clients, every handshake stays on mbedTLS's records.
tls_config "$T/gw2.json" 1 '"admin": {"address": "127.0.0.1:0"}'
sed -i 's|"key": "'"$PKI"'/server.key"}|"key": "'"$PKI"'/server.key", "record_layer": "mbedtls"}|' "$T/gw2.json"
grep -q '"record_layer": "mbedtls"' "$T/gw2.json" || fail "config not rewritten"
start_gateway "$T/gw2.json" gw2
clients "$GW_PORT"
expect_eq "$(metric "$LIB")" "0" "no handshake switched"
mbed=$(metric "$MBED")
[ "${mbed:-0}" -ge 6 ] || fail "mbedTLS record layer after $mbed handshakes only"
pass "tls.record_layer \"mbedtls\" keeps mbedTLS's record layer ($mbed handshakes)"

# An unknown layer is a configuration error.
sed 's|"record_layer": "mbedtls"|"record_layer": "openssl"|' "$T/gw2.json" >"$T/gw3.json"
if out=$("$AUTHGATE" serve --check --config "$T/gw3.json" 2>&1); then
    fail "record_layer \"openssl\" accepted"
fi
expect_match "$out" 'tls.record_layer: must be one of "libcrypto", "mbedtls"' "config error"
pass "an unknown tls.record_layer is refused"
