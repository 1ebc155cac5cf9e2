#!/usr/bin/env bash
# timeouts.send (issue 11, nginx's send_timeout): a client that takes nothing of what is
# queued for it for timeouts.send (2 s here) is cut, with its upstream connection: a
# 200 MB response the client never reads (plain HTTP and TLS) and an upgraded tunnel whose
# client stops reading while the upstream keeps sending are closed within 2-6 s, the
# upstream sees its connection closed (its blocked send fails), and
# authgate_request_timeouts_total{kind="send"} counts each. Not cut: a client reading
# 64 KiB a second for 6 s (each bit of progress resets the clock), a watch with no event
# for 5 s and an idle tunnel for 5 s (nothing queued), all on the same gateways meanwhile.
. "$(dirname "$0")/lib.sh"

SIZE=$((200 * 1024 * 1024))
# The upstream: /big: SIZE bytes (Content-Length) in 64 KiB blocking sends; when a send
# fails (the gateway closed the connection) the time is written to $T/closed-<tag> (tag:
# the X-Tag request header). /watch: a chunked response with one event, 5.5 s of silence,
# a second event, the end. /tunnel: 101, then endless bytes (closed-<tag> as /big).
# /tunnel-idle: 101, 5.5 s of silence, "bye".
cat >"$T/up.py" <<'PY'
import sys, time
from upstream_raw import send_bytes, serve_forever
d, port_file = sys.argv[1], sys.argv[2]
def closed(tag):
    with open("%s/closed-%s" % (d, tag), "w") as f:
        f.write("%.3f" % time.time())
def endless(c, tag, left):
    try:
        send_bytes(c, left)
    except OSError:
        closed(tag)
def serve(c, head):
    path = head.split(b" ")[1]
    tag = head.split(b"X-Tag: ")[1].split(b"\r\n")[0].decode() if b"X-Tag: " in head else "-"
    up101 = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
    if path == b"/big":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Length: %d\r\n\r\n" % size)
        endless(c, tag, size)
    elif path == b"/watch":
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n2\r\ne1\r\n")
        time.sleep(5.5)
        c.sendall(b"2\r\ne2\r\n0\r\n\r\n")
    elif path == b"/tunnel":
        c.sendall(up101)
        endless(c, tag, 1 << 40)
    elif path == b"/tunnel-idle":
        c.sendall(up101)
        time.sleep(5.5)
        c.sendall(b"bye")
    time.sleep(1)
    c.close()
size = int(sys.argv[3])
serve_forever(serve, port_file)
PY

# The client: client.py PORT plain|tls CA MODE PATH TAG. Receive buffer fixed at 16 KiB.
#   stall: sends the request, touches $T/start-TAG, reads nothing for 8 s, then reads
#          what is left: "closed N" (EOF or reset after N bytes) or "open N".
#   slow:  reads 64 KiB a second for 6 s: "alive N" if the connection stayed open.
#   all:   reads to the end (watch: the chunked body; tunnel: until "bye"): prints it.
cat >"$T/client.py" <<'PY'
import socket, ssl, sys, time
port, tls, ca, mode, path, tag = sys.argv[1:7]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", int(port)))
if tls == "tls":
    s = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="localhost")
up = b"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" if path.startswith("/tunnel") else b""
s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nX-Tag: %s\r\n%s\r\n" % (path.encode(), tag.encode(), up))
open("%s-start-%s" % (sys.argv[7], tag), "w").write("%.3f" % time.time())
s.settimeout(10)
def recv():
    try:
        return s.recv(65536)
    except (ConnectionResetError, ssl.SSLError):
        return b""
got = 0
if mode == "stall":
    time.sleep(8)
    s.settimeout(3)
    try:
        while True:
            r = recv()
            if not r:
                print("closed", got)
                break
            got += len(r)
    except socket.timeout:
        print("open", got)
elif mode == "slow":
    for i in range(6):
        want = got + 65536
        while got < want:
            r = recv()
            if not r:
                print("cut", got)
                sys.exit(0)
            got += len(r)
        time.sleep(1)
    open("%s-end-%s" % (sys.argv[7], tag), "w").write("%.3f" % time.time())
    print("alive", got)
else:
    data = b""
    while not (data.endswith(b"0\r\n\r\n") or data.endswith(b"bye")):
        r = recv()
        if not r:
            break
        data += r
    print(data.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"|").decode())
PY

PYTHONPATH="$AG_SOURCE_DIR/tests/integration" python3 "$T/up.py" "$T" "$T/up.port" "$SIZE" >"$T/up.out" 2>&1 &
AG_PIDS+=($!)
wait_for_file "$T/up.port"
UP_PORT=$(cat "$T/up.port")
gen_certs
TIMEOUTS='"timeouts": {"send": "2s"}'
plain_config "$T/gw-plain.json" "$TIMEOUTS"
plain_config "$T/gw-tls.json" "$TIMEOUTS, \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\"}"
start_gateway "$T/gw-plain.json" gw-plain
PLAIN_PORT=$GW_PORT PLAIN_ADMIN=$ADMIN_PORT
start_gateway "$T/gw-tls.json" gw-tls
TLS_PORT=$GW_PORT TLS_ADMIN=$ADMIN_PORT
metric() { curl -sS "http://127.0.0.1:$1/metrics" | sed -n "s/^$2 //p"; }
SEND='authgate_request_timeouts_total{kind="send"}'
expect_eq "$(metric "$PLAIN_ADMIN" "$SEND")" 0 "no send timeout at start"

client() { # client plain|tls MODE PATH TAG: in the background, output in $T/out-TAG
    local port=$PLAIN_PORT
    [ "$1" = tls ] && port=$TLS_PORT
    python3 "$T/client.py" "$port" "$1" "$PKI/ca.crt" "$2" "$3" "$4" "$T/c" >"$T/out-$4" 2>&1 &
    CLIENTS+=($!)
}
CLIENTS=()
# The ones that must not be cut, meanwhile.
client plain slow /big slow-plain
client tls slow /big slow-tls
client plain all /watch watch
client tls all /tunnel-idle tunnel-idle
# The ones that must be.
client plain stall /big big-plain
client tls stall /big big-tls
client plain stall /tunnel tunnel

cut_after() { # cut_after TAG: seconds from the request to the upstream seeing the close
    wait_until 10 "the upstream connection of $1 closed" test -s "$T/closed-$1"
    awk -v a="$(cat "$T/c-start-$1")" -v b="$(cat "$T/closed-$1")" 'BEGIN {printf "%.1f", b - a}'
}
for tag in big-plain big-tls tunnel; do
    s=$(cut_after "$tag")
    echo "# $tag: upstream connection closed $s s after the request"
    awk -v s="$s" 'BEGIN {exit !(s >= 1.5 && s <= 6)}' || fail "$tag: cut after $s s, expected 2-6 s"
done
for p in "${CLIENTS[@]}"; do wait "$p" || fail "a client failed: $(cat "$T"/out-*)"; done
for tag in big-plain big-tls tunnel; do
    expect_match "$(cat "$T/out-$tag")" '^closed [0-9]+$' "$tag: the stalled client's connection"
    n=$(awk '{print $2}' "$T/out-$tag")
    ((n < SIZE)) || fail "$tag: got all $n bytes"
done
for tag in slow-plain slow-tls; do
    expect_match "$(cat "$T/out-$tag")" '^alive [0-9]+$' "$tag: a slow reader is not cut"
    # (the gateway's kernel buffers hold what the client reads after a cut: the upstream
    # connection must not have been closed before the client was done)
    if [ -e "$T/closed-$tag" ]; then
        awk -v a="$(cat "$T/c-end-$tag")" -v b="$(cat "$T/closed-$tag")" 'BEGIN {exit !(b >= a)}' ||
            fail "$tag: the upstream connection was closed while the client was still reading"
    fi
done
expect_eq "$(cat "$T/out-watch")" "2|e1|2|e2|0||" "an idle watch is not cut"
expect_eq "$(cat "$T/out-tunnel-idle")" "bye" "an idle tunnel is not cut"
expect_eq "$(metric "$PLAIN_ADMIN" "$SEND")" 2 "plain: send timeouts counted (big, tunnel)"
expect_eq "$(metric "$TLS_ADMIN" "$SEND")" 1 "tls: send timeout counted"
expect_match "$(cat "$T/gw-plain.log")" 'took nothing of [0-9]+ queued bytes for 2000 ms \(timeouts.send\)' \
    "the cut is logged"
pass "stalled readers cut after timeouts.send (plain, TLS, tunnel); slow reader, idle watch and idle tunnel kept"
