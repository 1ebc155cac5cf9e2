#!/usr/bin/env bash
# Untrusted bytes never crash the gateway: 400 mutated and random requests (bit flips,
# truncations, splices, random bytes, split writes) over plain and TLS, after which the
# gateway still serves a normal request. Run against an ASan build, any memory error
# fails the test (lib.sh scans the logs).
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
plain_config "$T/gw.json"
start_gateway "$T/gw.json"
python3 - "$GW_PORT" <<'PY'
import random, socket, sys, threading
port = int(sys.argv[1])
random.seed(20261129)
seeds = [
    b"GET /api/v1/namespaces/default/pods?watch=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /upgrade-ok HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nxyz",
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
]
def mutate(b):
    b = bytearray(b)
    for _ in range(random.randint(1, 6)):
        op = random.randrange(5)
        i = random.randrange(len(b) or 1)
        if op == 0 and b: b[i] = random.randrange(256)
        elif op == 1: b[i:i] = bytes(random.randrange(256) for _ in range(random.randint(1, 8)))
        elif op == 2: del b[i:i + random.randint(1, 8)]
        elif op == 3: b[i:i] = random.choice([b"\r\n", b"\n", b"\r", b":", b" ", b"%2e", b"\x00", b"Content-Length: 9\r\n", b"Transfer-Encoding: chunked\r\n"])
        else: b = b[:i]
    return bytes(b)
cases = [mutate(random.choice(seeds)) for _ in range(360)] + \
        [bytes(random.randrange(256) for _ in range(random.randint(1, 300))) for _ in range(40)]
def run(chunk):
    for data in chunk:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=0.3)
            if random.random() < 0.5:
                s.sendall(data)
            else:  # split writes: the head arrives in pieces
                for k in range(0, len(data), 7):
                    s.sendall(data[k:k + 7])
            try:
                while s.recv(65536):
                    pass
            except socket.timeout:
                pass
            s.close()
        except OSError:
            pass
threads = [threading.Thread(target=run, args=(cases[i::8],)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("sent", len(cases), "malformed requests")
PY
kill -0 "$GW_PID" || fail "gateway died"
out=$(curl -sS --fail "http://127.0.0.1:$GW_PORT/still/alive")
expect_match "$out" '"target":"/still/alive"' "gateway still serves"
pass "gateway survived 400 malformed requests and still serves"

# TLS: random bytes where a ClientHello belongs, and mutated requests inside TLS.
cat >"$T/gw-tls.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key", "client_ca": "$PKI/ca.crt"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "workers": 2
}
JSON
start_gateway "$T/gw-tls.json" gw-tls
python3 - "$GW_PORT" "$PKI/ca.crt" <<'PY'
import random, socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
random.seed(7)
hello = None
for i in range(60):  # garbage handshakes (some start like a TLS record)
    data = bytes(random.randrange(256) for _ in range(random.randint(1, 600)))
    if i % 3 == 0:
        data = b"\x16\x03\x01" + data
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.3)
        s.sendall(data)
        try:
            s.recv(65536)
        except socket.timeout:
            pass
        s.close()
    except OSError:
        pass
ctx = ssl.create_default_context(cafile=ca)
for i in range(60):  # valid TLS, malformed HTTP inside
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=0.3),
                            server_hostname="localhost")
        req = bytearray(b"GET /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        for _ in range(3):
            req[random.randrange(len(req))] = random.randrange(256)
        s.sendall(bytes(req))
        try:
            s.recv(65536)
        except (socket.timeout, ssl.SSLError):
            pass
        s.close()
    except (OSError, ssl.SSLError):
        pass
print("sent 120 malformed TLS connections")
PY
kill -0 "$GW_PID" || fail "TLS gateway died"
out=$(curl -sS --fail --cacert "$PKI/ca.crt" "https://127.0.0.1:$GW_PORT/still/alive")
expect_match "$out" '"target":"/still/alive"' "TLS gateway still serves"
pass "TLS gateway survived garbage handshakes and malformed requests"
