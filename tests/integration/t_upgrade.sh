#!/usr/bin/env bash
# Upgrade: the gateway tunnels bytes only after the upstream answered 101; any other answer
# is relayed and both connections are closed (the upstream connection is not reused).
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"

python3 - "$GW_PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /upgrade-ok/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
          b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
assert b"Upgrade: SPDY/3.1" in head, head
rest = head.split(b"\r\n\r\n", 1)[1]
payload = bytes(range(256)) * 64
s.sendall(payload)
got = rest
while len(got) < len(payload):
    got += s.recv(65536)
assert got == payload, "tunnel echo mismatch"
print("101 tunnel echoed", len(got), "bytes")

# Non-101: the 403 is relayed, then the connection closes.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /upgrade-no HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
          b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
data = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    data += c
assert data.startswith(b"HTTP/1.1 403"), data
assert b'"code":403' in data, data
assert b"Connection: close" in data, data
print("non-101 relayed and closed")
PY
pass "upgrade 101 tunnel and non-101 relay"

# The upstream connection that answered 403 to an upgrade is never reused: the next
# request arrives on a fresh upstream connection.
conn403=$(grep '"/upgrade-no"' "$UP_LOG" | sed 's/.*"conn":\([0-9]*\).*/\1/')
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/after"
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/after"
for c in $(grep '"/after"' "$UP_LOG" | sed 's/.*"conn":\([0-9]*\).*/\1/'); do
    [ "$c" != "$conn403" ] || fail "upstream connection $c reused after a refused upgrade"
done
pass "upstream connection not reused after a non-101 answer"

# The same over TLS (kubectl exec through a TLS front door): 1 MiB echoed through the
# tunnel, both directions at once.
gen_certs
tls_config "$T/gw-tls.json" 1
start_gateway "$T/gw-tls.json" gw-tls
python3 - "$GW_PORT" "$PKI/ca.crt" <<'PY'
import socket, ssl, sys, threading
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10),
                    server_hostname="localhost")
s.sendall(b"GET /upgrade-ok/exec HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
assert head.startswith(b"HTTP/1.1 101"), head
got = bytearray(head.split(b"\r\n\r\n", 1)[1])
payload = bytes(range(256)) * 4096
t = threading.Thread(target=lambda: s.sendall(payload))
t.start()
while len(got) < len(payload):
    got += s.recv(65536)
t.join()
assert bytes(got) == payload, "TLS tunnel echo mismatch"
print("TLS tunnel echoed", len(got), "bytes")
PY
pass "upgrade tunnel over TLS"
