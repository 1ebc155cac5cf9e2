#!/usr/bin/env bash
# Slow request bodies (slow POST, issue 11): timeouts.idle bounds only the pause between
# reads, so a body trickled a byte a second would hold a client connection and an upstream
# connection forever. timeouts.body_grace + one second per body_min_rate bytes is a
# deadline the sender cannot push on faster than it sends: past it the client gets a 408
# Status, both connections close (the fixture upstream sees its connection end), the
# timeout is counted; the 408 arrives intact and the close is orderly (lingering close),
# though the client goes on sending. Uploads at a legitimate pace are not touched.
. "$(dirname "$0")/lib.sh"

start_upstream --conn-log "$T/conns.log"
plain_config "$T/gw.json" '"timeouts": {"idle": "5s", "body_grace": "2s", "body_min_rate": 100}'
sed -i 's/"workers": 2/"workers": 1/' "$T/gw.json"
start_gateway "$T/gw.json"
metric() { curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics" | sed -n "s/^$1 //p"; }

# slow_client PORT [CA]: POSTs a 1000-byte body at 1 byte a second (under timeouts.idle
# between reads, far under body_min_rate), and goes on sending after the answer as a client
# that does not read would. With CA: over TLS, where the orderly end is a close_notify (a
# bare TCP close raises instead). Prints "answered CODE after SECS s; END", then the answer.
slow_client() {
    python3 - "$@" <<'PY'
import socket, ssl, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
if len(sys.argv) > 2:
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    s = ctx.wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False)
s.sendall(b"POST /hang HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
t0 = time.time(); got = b""; answered = None; end = "open"
s.settimeout(1.0)
while time.time() - t0 < 12:
    try:
        s.send(b"a")
    except OSError as e:
        end = "send error %s" % e
        break
    try:
        c = s.recv(4096)
        if not c:
            end = "eof"
            break
        got += c
        if answered is None:
            answered = time.time() - t0
    except socket.timeout:
        pass
    except OSError as e:
        end = "recv error %s" % e
        break
code = got.split(b" ", 2)[1].decode() if got.startswith(b"HTTP/1.1 ") else "none"
print("answered %s after %.1f s; %s" % (code, answered or 0, end))
print(got.decode(errors="replace"))
PY
}

# check_slow OUTPUT WHAT: a 408 Status after body_grace, then an orderly close.
check_slow() {
    local code secs end
    read -r _ code _ secs _ end <<<"$(head -1 <<<"$1")"
    expect_eq "$code" 408 "$2: a body at 1 byte/s is answered 408 ($(head -1 <<<"$1"))"
    expect_match "$1" '"code":408' "$2: 408 Status body"
    expect_match "$1" 'Connection: close' "$2: the 408 closes the connection"
    python3 -c "import sys; sys.exit(0 if 1.8 <= float('$secs') < 4.5 else 1)" ||
        fail "$2: 408 after $secs s (body_grace 2 s + 2 bytes at 100 B/s; idle 5 s)"
    expect_eq "$end" eof "$2: an orderly close after the 408, not a reset"
}

check_slow "$(slow_client "$GW_PORT")" "plain"
for ((i = 0; i < 40; i++)); do
    grep -q '^close 1$' "$T/conns.log" && break
    sleep 0.05
done
expect_eq "$(grep -c '^close ' "$T/conns.log")" "$(grep -c '^open ' "$T/conns.log")" \
    "the upstream connection of the slow request is closed ($(tr '\n' ' ' <"$T/conns.log"))"
expect_eq "$(metric 'authgate_request_timeouts_total{kind="body"}')" 1 "body timeout counted"
expect_eq "$(metric 'authgate_request_timeouts_total{kind="head"}')" 0 "not as a head timeout"
expect_match "$(cat "$GW_LOG")" 'request body from 127.0.0.1 too slow' "logged"
pass "slow body: 408 after body_grace, both connections closed, counted, logged"

# A slow but steady upload (200 B/s, twice body_min_rate, for longer than body_grace) and
# a fast large one are both forwarded whole.
out=$(python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST /steady HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
for i in range(10):
    s.sendall(b"b" * 100)
    time.sleep(0.5)
got = b""
while b'"bodyLen"' not in got:
    c = s.recv(4096)
    if not c:
        break
    got += c
print(got.split(b"\r\n")[0].decode(), got[got.find(b'"bodyLen"'):].decode())
PY
)
expect_match "$out" '^HTTP/1.1 200 .*"bodyLen":1000' "a steady 200 B/s upload over 5 s"
head -c $((20 << 20)) /dev/urandom >"$T/big.bin"
code=$(curl -sS -o "$T/big.out" -w '%{http_code}' --data-binary "@$T/big.bin" \
    -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$GW_PORT/upload")
expect_eq "$code" 200 "20 MiB upload"
expect_eq "$(jq -r .bodyLen "$T/big.out")" $((20 << 20)) "20 MiB forwarded whole"
expect_eq "$(metric 'authgate_request_timeouts_total{kind="body"}')" 1 "no further body timeout"
pass "uploads at or above body_min_rate are untouched"

# The same over TLS: the 408, then close_notify and the TCP half-close (lingering close).
gen_certs
plain_config "$T/gw-tls.json" '"tls": {"cert": "'"$PKI"'/server.crt", "key": "'"$PKI"'/server.key"},
  "timeouts": {"idle": "5s", "body_grace": "2s", "body_min_rate": 100}'
start_gateway "$T/gw-tls.json" gw-tls
check_slow "$(slow_client "$GW_PORT" "$PKI/ca.crt")" "TLS"
pass "slow body over TLS: 408, then an orderly TLS close"
