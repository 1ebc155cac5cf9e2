#!/usr/bin/env bash
# Idle keep-alive connections give their buffers back (issue 17): a TLS connection that
# waited for its next request for a second holds no read buffer, TLS input queue, request
# arena or head buffer of its own (gauge authgate_connections_idle_released), and gets them
# again when the next request comes: a plain GET, three pipelined requests in one write, a
# head sent a byte at a time, and a 100 KB upload (the read buffer grows past its first
# 16 KiB) are all answered in order and reach the upstream intact, and the connections are
# released again afterwards. About 10 s.
. "$(dirname "$0")/lib.sh"

gen_certs
start_upstream
tls_config "$T/gw.json" 1 '"admin": {"address": "127.0.0.1:0"}'
start_gateway "$T/gw.json"

python3 - "$GW_PORT" "$ADMIN_PORT" "$PKI/ca.crt" <<'PY' || fail "release and reacquire"
import socket, ssl, sys, time, urllib.request
port, admin, ca = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)

def released():
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=5).read().decode()
    return int(next(l.split()[1] for l in text.splitlines()
                    if l.startswith("authgate_connections_idle_released ")))

def wait_released(n, what):
    t0 = time.time()
    while time.time() - t0 < 5:
        if released() == n:
            return time.time() - t0
        time.sleep(0.1)
    sys.exit("%s: %d connections released, want %d" % (what, released(), n))

def answers(s, n):
    """Reads n complete responses (Content-Length framed); returns their targets."""
    got, out = b"", []
    while len(out) < n:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed after %d answers" % len(out))
        got += chunk
        while b"\r\n\r\n" in got:
            head, rest = got.split(b"\r\n\r\n", 1)
            length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length:")][0])
            if len(rest) < length:
                break
            assert head.startswith(b"HTTP/1.1 200"), head[:40]
            body, got = rest[:length], rest[length:]
            out.append(body)
    return out

def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"

conns = []
for i in range(10):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                        server_hostname="localhost")
    s.sendall(get(b"/first/%d" % i))
    assert b"/first/%d" % i in answers(s, 1)[0]
    conns.append(s)
assert released() == 0, "released before the connections were idle for a second"
print("ok - released after %.1f s idle" % wait_released(10, "after the first requests"))

# the next requests on the released connections
for i in range(5):
    conns[i].sendall(get(b"/again/%d" % i))
for i in range(5, 8):
    conns[i].sendall(get(b"/p/%d/1" % i) + get(b"/p/%d/2" % i) + get(b"/p/%d/3" % i))
body = bytes(range(256)) * 400  # 100 KB
conns[9].sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
for b in get(b"/slow/8"):  # a head a byte at a time
    conns[8].sendall(bytes([b]))
    time.sleep(0.01)
for i in range(5):
    assert b'"target":"/again/%d"' % i in answers(conns[i], 1)[0]
for i in range(5, 8):
    got = answers(conns[i], 3)
    for k in range(3):
        assert b'"target":"/p/%d/%d"' % (i, k + 1) in got[k], got[k][:200]
assert b'"target":"/slow/8"' in answers(conns[8], 1)[0]
up = answers(conns[9], 1)[0]
assert b'"target":"/upload"' in up and b'"bodyLen":102400' in up, up[:400]
print("ok - plain, pipelined, slow and 100 KB requests answered after the release")
print("ok - released again after %.1f s" % wait_released(10, "after the second requests"))
for s in conns:
    s.close()
wait_released(0, "after closing")
print("ok - gauge back to 0 when the connections close")
PY
sha=$(python3 -c 'import hashlib; print(hashlib.sha256(bytes(range(256)) * 400).hexdigest())')
expect_match "$(grep '"/upload"' "$UP_LOG")" "\"bodySha256\":\"$sha\"" "upload reached the upstream intact"
pass "idle connections release their buffers and take them again"
