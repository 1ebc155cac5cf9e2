#!/usr/bin/env bash
# Upstream response framing (request-smuggling class, the response side): whatever a
# broken or hostile upstream sends (malformed chunked body, Content-Length and
# Transfer-Encoding together, conflicting lengths, bytes past the message, bodies on
# 204/304/HEAD), the client connection never desynchronises: the client sees at most one
# response per request it sent, never bytes the upstream placed behind a message as a
# response of their own, and a broken message ends the client connection (502 before the
# head went out, a cut after). A later request on a fresh connection gets a fresh answer.
. "$(dirname "$0")/lib.sh"

# The raw upstream: answers /case/NAME with CASES[NAME] as raw bytes (the marker
# "X-Smuggled" flags a response placed behind the first), anything else with a plain 200.
cat >"$T/up.py" <<'PY'
import socket, sys, threading, os
SM = b"HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\nContent-Length: 0\r\n\r\n"
FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CASES = {
    b"chunk-no-crlf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n" + SM,
    b"cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SM,
    b"te-and-cl": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + SM,
    b"two-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 60\r\n\r\nok" + SM,
    b"cl-list": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 60\r\n\r\nok" + SM,
    b"cl-plus": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok" + SM,
    b"chunk-overflow": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\nok\r\n0\r\n\r\n" + SM,
    b"chunk-bare-lf": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\n0\n\n" + SM,
    b"bare-lf-head": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok" + SM,
    b"extra-after-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + SM,
    b"extra-after-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + SM,
    b"body-on-204": b"HTTP/1.1 204 No Content\r\nContent-Length: 60\r\n\r\n" + SM,
    b"chunked-on-304": b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n" + SM,
    b"chunked-not-last": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + SM,
    b"te-identity": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nok" + SM,
    # a length that covers the final response and the bytes behind it
    b"interim-with-length": b"HTTP/1.1 100 Continue\r\nContent-Length: %d\r\n\r\n" % (len(FINAL) + len(SM))
                            + FINAL + SM,
    b"interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + FINAL,
    b"body-on-304": b"HTTP/1.1 304 Not Modified\r\nContent-Length: %d\r\n\r\n" % len(SM) + SM,
    b"body-on-1xx": b"HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + SM,
    # no length: the body ends when the upstream closes (RFC 9112 §6.3, item 8)
    b"close-delimited": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close",
}
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"

def serve(c):
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            target = head.split(b" ")[1]
            name = target.rsplit(b"/", 1)[-1] if target.startswith(b"/case/") else None
            if name in CASES:
                c.sendall(CASES[name])
                return  # then the upstream closes: every case's bytes end there
            else:
                c.sendall(OK)
    except OSError:
        pass
    finally:
        c.close()

s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$T/up.py" "$T/up.port" >"$T/up.out" 2>&1 &
AG_PIDS+=($!)
wait_for_file "$T/up.port"
UP_PORT=$(cat "$T/up.port")
plain_config "$T/gw.json" '"timeouts": {"upstream_first_byte": "3s"}'
start_gateway "$T/gw.json"

python3 - "$GW_PORT" <<'PY'
import http.client, io, re, socket, sys
port = int(sys.argv[1])
names = ["chunk-no-crlf", "cl-and-te", "te-and-cl", "two-cl", "cl-list", "cl-plus",
         "chunk-overflow", "chunk-bare-lf", "bare-lf-head", "extra-after-cl",
         "extra-after-chunked", "body-on-204", "body-on-304", "chunked-on-304", "chunked-not-last",
         "te-identity", "interim-with-length", "body-on-1xx"]

def talk(raw, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(raw)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        out += b"<<still open>>"
    s.close()
    return out

class Stream(io.BytesIO):  # one response's end must not close the connection's stream
    def close(self):
        pass

class Bytes:  # the client's byte stream, read as a standard HTTP client reads it
    def __init__(self, b):
        self.f = Stream(b)
    def makefile(self, *a, **k):
        return self.f

def responses(out):
    """The responses a standard client reads from <out>, in order (up to 2 requests)."""
    got, sock = [], Bytes(out)
    for _ in range(2):
        r = http.client.HTTPResponse(sock, method="GET")
        try:
            r.begin()
            r.read()
        except (http.client.HTTPException, OSError, ValueError):
            break  # a cut message: the client sees a failed request, nothing more
        got.append((r.status, r.getheader("X-Smuggled")))
    return got

fails = 0
for n in names:
    req = ("GET /case/%s HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % n).encode()
    out = talk(req)
    got, bad = responses(out), []
    if any(sm for _, sm in got):
        bad.append("bytes behind the upstream's message reached the client as a response")
    if re.search(rb"^HTTP/1.1 (1\d\d|204) [^\r]*\r\n(?:[^\r]+\r\n)*?Content-Length:", out, re.M | re.I):
        bad.append("a 1xx or 204 relayed with a Content-Length")
    if b"<<still open>>" in out:
        bad.append("the client connection hangs")
    # after the exchange, a fresh connection gets a fresh answer (no poisoned pooled conn)
    nxt = talk(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    if not nxt.startswith(b"HTTP/1.1 200 ") or b'{"ok":true}' not in nxt or b"X-Smuggled" in nxt:
        bad.append("the next request got %r" % nxt[:120])
    if bad:
        fails += 1
        print("FAIL %s: %s: %r" % (n, "; ".join(bad), out[:300]))
    else:
        print("ok - %s: %s" % (n, got))
# an HTTP/1.0 client never gets a 1xx (RFC 9110 §15.2): it would read it as the final
# response and the real one as the answer to its next request
out = talk(b"GET /case/interim HTTP/1.0\r\nHost: x\r\n\r\n")
if re.search(rb"^HTTP/1.1 1\d\d ", out, re.M) or not out.startswith(b"HTTP/1.1 200 ") or not out.endswith(b"ok"):
    fails += 1
    print("FAIL HTTP/1.0 client and interim responses: %r" % out[:300])
else:
    print("ok - HTTP/1.0 client: interim responses left out")
# a close-delimited body is relayed whole: re-chunked for an HTTP/1.1 client, with its
# last chunk, so the client reads a complete response (not a cut one)
out = talk(b"GET /case/close-delimited HTTP/1.1\r\nHost: x\r\n\r\n")
r = http.client.HTTPResponse(Bytes(out), method="GET")
try:
    r.begin()
    body = r.read()
except (http.client.HTTPException, OSError, ValueError) as e:
    body = repr(e).encode()
if r.status != 200 or body != b"until-close" or not out.endswith(b"0\r\n\r\n"):
    fails += 1
    print("FAIL close-delimited body: %r" % out[:300])
else:
    print("ok - close-delimited body relayed complete (re-chunked, last chunk sent)")
out = talk(b"GET /case/interim HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
if not out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"):
    fails += 1
    print("FAIL HTTP/1.1 client: interim responses relayed: %r" % out[:300])
sys.exit(1 if fails else 0)
PY
pass "a broken upstream message never desynchronises the client connection"
