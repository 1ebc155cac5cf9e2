#!/usr/bin/env bash
# Serving certificate reload without a restart. The main listener's certificate and key
# live in a Kubernetes-secret-style directory (tls.crt -> ..data/tls.crt, ..data -> a
# timestamped directory) that is rotated by an atomic symlink swap, as the kubelet does
# for cert-manager's secrets; the webhooks listener's pair is rewritten in place. New
# connections see the new certificate serial (openssl s_client) within the poll interval
# or at once on SIGHUP; a keep-alive connection made before the rotation keeps working; a
# broken pair (certificate given as the key, a key of another certificate) keeps the
# previous certificate, logs a WARN saying why and counts
# authgate_tls_reloads_total{result="error"}.
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
# new_pair NAME: a fresh key and CA-signed certificate for 127.0.0.1 in $PKI/NAME.{crt,key}
new_pair() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
        -CAcreateserial -days 2 -extfile "$PKI/server.ext" -out "$PKI/$1.crt" 2>/dev/null
}
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
# served PORT [s_client args]: the serial of the certificate a new connection gets
served() {
    local port=$1
    shift
    openssl s_client -connect "127.0.0.1:$port" -CAfile "$PKI/ca.crt" "$@" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
# swap CRT KEY: a new timestamped directory, then ..data swapped to it atomically
N=0
swap() {
    N=$((N + 1))
    mkdir "$SEC/..v$N"
    cp "$1" "$SEC/..v$N/tls.crt"
    cp "$2" "$SEC/..v$N/tls.key"
    ln -s "..v$N" "$SEC/..data_tmp"
    mv -T "$SEC/..data_tmp" "$SEC/..data"
}
metric() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v k="$1" '$1 == k {print $2}'
}

SEC=$T/secret
mkdir "$SEC"
swap "$PKI/server.crt" "$PKI/server.key"
ln -s ..data/tls.crt "$SEC/tls.crt"
ln -s ..data/tls.key "$SEC/tls.key"
cp "$PKI/server.crt" "$T/wh.crt"
cp "$PKI/server.key" "$T/wh.key"
plain_config "$T/gw.json" "\"tls\": {\"cert\": \"$SEC/tls.crt\", \"key\": \"$SEC/tls.key\"},
  \"webhooks\": {\"address\": \"127.0.0.1:0\",
     \"tls\": {\"cert\": \"$T/wh.crt\", \"key\": \"$T/wh.key\", \"client_ca\": \"$PKI/ca.crt\"}}"
start_gateway "$T/gw.json"
WH_PORT=$(sed -n 's/.*webhooks on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
[ -n "$WH_PORT" ] || fail "webhooks port not reported"
S0=$(serial_of "$PKI/server.crt")
expect_eq "$(served "$GW_PORT")" "$S0" "serial before the rotation"

# A keep-alive client: one request, then (when $T/go appears) another on the same
# connection; prints both statuses and whether the peer certificate stayed the same.
python3 - "$GW_PORT" "$PKI/ca.crt" "$T" >"$T/keepalive.out" 2>&1 <<'PY' &
import http.client, os, ssl, sys, time
port, ca, t = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
c.request("GET", "/api/before"); r = c.getresponse(); r.read(); first = r.status
cert = c.sock.getpeercert(binary_form=True)
open(t + "/ready", "w").write("1")
end = time.time() + 30
while not os.path.exists(t + "/go") and time.time() < end:
    time.sleep(0.05)
c.request("GET", "/api/after"); r = c.getresponse(); r.read()
print(first, r.status, "same-cert" if c.sock.getpeercert(binary_form=True) == cert else "new-cert")
PY
KA=$!
wait_for_file "$T/ready" 200

# 1. symlink swap to a new pair: followed by the poll, no signal
new_pair second
S1=$(serial_of "$PKI/second.crt")
swap "$PKI/second.crt" "$PKI/second.key"
new_serial() { [ "$(served "$GW_PORT")" == "$S1" ]; }
wait_until 10 "the rotated certificate on new connections" new_serial
curl -sS --fail -o /dev/null --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/api/x" ||
    fail "curl after the rotation"
expect_match "$(cat "$GW_LOG")" "tls: main listener: certificate .* \(serial .*\) reloaded" "reload logged"
pass "symlink swap: new connections get serial $S1 (was $S0)"

touch "$T/go"
wait "$KA" || fail "keep-alive client: $(cat "$T/keepalive.out")"
expect_eq "$(cat "$T/keepalive.out")" "200 200 same-cert" "keep-alive connection across the rotation"
pass "a keep-alive connection made before the rotation keeps working on its certificate"

# 2. a certificate given as the key: the previous pair stays, WARN says why
swap "$PKI/second.crt" "$PKI/second.crt"
kill -HUP "$GW_PID"
warned() { grep -q "WARN.*tls: main listener: cannot reload.*holds a certificate, not a private key.*still serving the previous one" "$GW_LOG"; }
wait_until 10 "the WARN for a certificate given as the key" warned
expect_eq "$(served "$GW_PORT")" "$S1" "serial kept after a broken pair"
pass "certificate given as the key: previous certificate kept, WARN names the problem"

# 3. a key that belongs to another certificate
swap "$PKI/second.crt" "$PKI/server.key"
mismatch() { grep -q "WARN.*tls: main listener: cannot reload.*private key does not match the certificate" "$GW_LOG"; }
wait_until 10 "the WARN for a mismatched key" mismatch
expect_eq "$(served "$GW_PORT")" "$S1" "serial kept after a mismatched pair"
errs=$(metric 'authgate_tls_reloads_total{listener="main",result="error"}')
[ "${errs:-0}" -ge 2 ] || fail "error reloads counted: '$errs'"
expect_eq "$(metric 'authgate_tls_reloads_total{listener="main",result="ok"}')" 1 "ok reloads"
pass "mismatched key: previous certificate kept, WARN, counted ($errs errors)"

# 4. fixed by a rewrite in place, taken at once on SIGHUP
new_pair third
S3=$(serial_of "$PKI/third.crt")
swap "$PKI/third.crt" "$PKI/third.key"
kill -HUP "$GW_PID"
third() { [ "$(served "$GW_PORT")" == "$S3" ]; }
wait_until 10 "the fixed pair" third
pass "a good pair after broken ones is served (serial $S3)"

# 5. the webhooks listener: its pair rewritten in place (cert then key)
C=(-cert "$PKI/client.crt" -key "$PKI/client.key")
expect_eq "$(served "$WH_PORT" "${C[@]}")" "$S0" "webhooks serial before"
cp "$PKI/third.crt" "$T/wh.crt"
cp "$PKI/third.key" "$T/wh.key"
wh_new() { [ "$(served "$WH_PORT" "${C[@]}")" == "$S3" ]; }
wait_until 10 "the webhooks listener's new certificate" wh_new
expect_eq "$(served "$GW_PORT")" "$S3" "main listener unchanged by the webhooks reload"
pass "webhooks listener: certificate rewritten in place is served on new connections"

# 6. the same checks at start-up (serve --check): actionable messages, exit 2
sed "s#$SEC/tls.key#$PKI/second.crt#" "$T/gw.json" >"$T/bad1.json"
out=$("$AUTHGATE" serve --check --config "$T/bad1.json" 2>&1) && fail "cert as key accepted"
expect_match "$out" "loading key $PKI/second.crt: the file holds a certificate, not a private key" "cert as key at start"
sed "s#$SEC/tls.key#$PKI/server.key#" "$T/gw.json" >"$T/bad2.json"
out=$("$AUTHGATE" serve --check --config "$T/bad2.json" 2>&1) && fail "mismatched key accepted"
expect_match "$out" "the private key does not match the certificate $SEC/tls.crt" "mismatch at start"
pass "serve --check: a certificate given as the key and a mismatched key are named as such"
