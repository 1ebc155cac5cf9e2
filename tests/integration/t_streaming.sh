#!/usr/bin/env bash
# A 100 MB request body and a 100 MB response stream through the gateway (one request,
# both directions at once via /echo, plus a slow-reading upstream), with the gateway's
# peak RSS staying bounded: bodies are streamed with backpressure, never buffered whole.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"
base=$(vmhwm "$GW_PID")

head -c $((100 * 1024 * 1024)) /dev/urandom >"$T/body"
want=$(sha256sum <"$T/body" | cut -d' ' -f1)

# Both directions at once: the fixture echoes the body as it reads it.
got=$(curl -sS --fail -X POST -H 'Expect:' --data-binary @"$T/body" \
    -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$GW_PORT/echo" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "echoed 100 MB body"
rec=$(tail -1 "$UP_LOG")
expect_match "$rec" "\"bodyLen\":104857600" "upstream saw the whole body"
expect_match "$rec" "\"bodySha256\":\"$want\"" "upstream saw the same bytes"
pass "100 MB echoed both ways, byte for byte"

# Chunked request body (curl streams from stdin with Transfer-Encoding: chunked).
got=$(curl -sS --fail -X POST -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary @- \
    "http://127.0.0.1:$GW_PORT/echo" <"$T/body" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "chunked upload echoed"
pass "chunked 100 MB upload"

# Expect: 100-continue (curl asks for it above 1 MB): the upstream's 100 is relayed.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$T/small"
v=$(curl -sS -v --fail -X POST --data-binary @"$T/small" -o "$T/small.out" \
    "http://127.0.0.1:$GW_PORT/echo" 2>&1)
expect_match "$v" '> Expect: 100-continue' "curl asked for 100-continue"
expect_match "$v" '< HTTP/1.1 100 Continue' "100 Continue relayed"
cmp -s "$T/small" "$T/small.out" || fail "echo after 100-continue differs"
pass "Expect: 100-continue relayed"

# A slow client: the response is read at 20 MB/s while the upstream can send much faster.
got=$(curl -sS --fail --limit-rate 20M "http://127.0.0.1:$GW_PORT/big?bytes=$((100 * 1024 * 1024))&cl=1" | wc -c)
expect_eq "$got" "104857600" "slow reader got everything"
pass "slow reader, Content-Length response"

# A slow upstream reader: the request body is held back, not buffered.
out=$(curl -sS --fail -X POST -H 'Expect:' --data-binary @"$T/body" \
    "http://127.0.0.1:$GW_PORT/slow?ms=2")
expect_match "$out" '"bodyLen":104857600' "slow upstream got everything"
pass "slow upstream reader"

peak=$(vmhwm "$GW_PID")
echo "VmHWM before: ${base} kB, after 4 x 100 MB: ${peak} kB"
if sanitized; then
    echo "skip RSS bound: sanitizer build (ASan's quarantine holds freed memory)"
else
    [ $((peak - base)) -lt 40000 ] || fail "gateway RSS grew by $((peak - base)) kB (bodies buffered?)"
    pass "gateway peak RSS grew by $((peak - base)) kB only"
fi
