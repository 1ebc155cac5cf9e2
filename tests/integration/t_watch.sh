#!/usr/bin/env bash
# Watch: a long-lived chunked response is relayed event by event as the upstream writes
# it (not buffered until the end), and the connection stays usable afterwards.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"workers": 1'
sed -i 's/"workers": 2,//' "$T/gw.json"
start_gateway "$T/gw.json"

# 4 events 600 ms apart: each must reach the client well before the stream ends.
python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /watch?watch=true&events=4&interval=600 HTTP/1.1\r\nHost: x\r\n\r\n")
buf, seen, t0 = b"", [], time.time()
while len(seen) < 4:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    n = buf.count(b'"type":"ADDED"')
    while len(seen) < n:
        seen.append(time.time() - t0)
assert b"Transfer-Encoding: chunked" in buf, buf[:300]
assert len(seen) == 4, seen
# events arrive spread out, the first long before the last was written
assert seen[0] < 0.5, seen
assert seen[3] - seen[0] > 1.5, seen
print("event arrival times:", ["%.2f" % x for x in seen])
PY
pass "watch events flushed as they arrive"

# The watch path with ?watch (routed by the fixture on /watch).
out=$(curl -sS -N --max-time 10 "http://127.0.0.1:$GW_PORT/watch?events=3&interval=100")
expect_eq "$(grep -c ADDED <<<"$out")" "3" "watch events through curl"
pass "watch stream through curl"

# A watcher that goes away: the gateway drops its upstream connection too (nothing keeps
# streaming into a closed client).
python3 - "$GW_PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /watch?events=1000&interval=50 HTTP/1.1\r\nHost: x\r\n\r\n")
data = b""
while b"ADDED" not in data:
    data += s.recv(4096)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
s.close()  # reset: the client is gone
PY
for i in $(seq 1 40); do
    m=$(curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
    grep -q '^authgate_upstream_connections_open 0$' <<<"$m" && grep -q '^authgate_connections_open 0$' <<<"$m" && break
    sleep 0.1
done
expect_match "$m" '^authgate_upstream_connections_open 0$' "upstream watch connection closed"
expect_match "$m" '^authgate_connections_open 0$' "client connection closed"
pass "an abandoned watch releases both connections"
