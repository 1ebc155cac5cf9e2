#!/usr/bin/env bash
# Resource limits as an attacker meets them (threat-model cases 40, 41, and the DoS limits
# of issue 2) with authentication and authorization on: header count and bytes (431),
# URL length (414) and impersonation amplification before any work is done; a slowloris
# head trickled one byte at a time is cut at header_read no matter how it trickles;
# connections beyond max_connections are refused at accept and the gateway recovers; none
# of it is forwarded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

start_upstream
threat_keys
threat_tokens
threat_config "$T/gw.json" "" "" '"limits": {"header_bytes": 8192, "header_count": 30, "url_bytes": 2048,
    "max_connections": 40},
  "timeouts": {"header_read": "1s", "idle": "2s"}'
sed -i 's/"workers": 2/"workers": 1/' "$T/gw.json"
start_gateway "$T/gw.json"
OK=$(tok ok)
B=$(tok bob)
PODS=/api/v1/namespaces/default/pods
n0=$(upstream_count)

# case 40: limits answer before authentication work, Status bodies, nothing forwarded
hdrs=$(for i in $(seq 1 40); do printf 'Impersonate-Group: g%d\r\n' "$i"; done; printf x)
hdrs=${hdrs%x} # keep the final CRLF that $(...) would strip
out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $B\r\nImpersonate-User: carol\r\n%s\r\n" "$hdrs" | rawsend)
expect_eq "$(status_of "$out")" 431 "40 Impersonate-Group lines (header count)"
expect_match "$out" '"code":431' "Status body"
big=$(head -c 9000 /dev/zero | tr '\0' a)
out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nX-Pad: %s\r\n\r\n" "$big" | rawsend)
expect_eq "$(status_of "$out")" 431 "head bytes"
out=$(printf "GET $PODS?x=%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\n\r\n" "${big:0:3000}" | rawsend)
expect_eq "$(status_of "$out")" 414 "URL bytes"
# 20 groups for bob (may impersonate only "testers"): one refusal, not 20 checks' worth of work
hdrs=$(for i in $(seq 1 20); do printf 'Impersonate-Group: g%d\r\n' "$i"; done; printf x)
hdrs=${hdrs%x}
out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $B\r\nImpersonate-User: carol\r\n%sConnection: close\r\n\r\n" "$hdrs" | rawsend)
expect_eq "$(status_of "$out")" 403 "20 groups bob may not impersonate"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
pass "case 40: header count/bytes and URL limits before any work; amplification refused"

# slowloris: one byte every 150 ms never extends header_read (1 s)
out=$(python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
req = b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
t0 = time.time(); got = b""
s.settimeout(0.15)
for b in req:
    try:
        s.send(bytes([b]))
    except OSError:
        break
    try:
        c = s.recv(4096)
        if not c:
            break
        got += c
    except socket.timeout:
        pass
    if time.time() - t0 > 6:
        break
print("%s %.1f" % (got.split(b" ", 2)[1].decode() if got.startswith(b"HTTP/1.1 ") else "none", time.time() - t0))
PY
)
read -r code secs <<<"$out"
expect_eq "$code" 408 "slowloris answered 408"
python3 -c "import sys; sys.exit(0 if float('$secs') < 2.5 else 1)" || fail "slowloris kept the connection $secs s (header_read 1 s)"
pass "slowloris: cut after ${secs} s with 408 (header_read 1 s, a byte every 150 ms)"

# Lingering close: a client that sends its whole body before it reads (as many do) goes on
# sending after the gateway refused the request at its head (413: over the route's body
# limit). Closing at once would answer those bytes with a reset and the client would never
# read the 413; the gateway shuts down its side and drops what comes until the client is
# done, so the client finishes sending, then reads the whole answer and an orderly EOF.
for i in 1 2 3; do
    out=$(python3 - "$GW_PORT" "$(tok kas)" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
body = 3 << 20
s.sendall(b"POST /apis/authorization.k8s.io/v1/subjectaccessreviews HTTP/1.1\r\nHost: x\r\n"
          b"Authorization: Bearer " + sys.argv[2].encode() + b"\r\n"
          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % body)
time.sleep(0.3)  # the 413 is out by now; the body follows anyway
try:
    chunk = b"x" * 65536
    for _ in range(body // len(chunk)):
        s.sendall(chunk)
except OSError as e:
    print("send failed: %s" % e)
    sys.exit(0)
got = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
except OSError as e:
    print("recv failed after %d bytes: %s" % (len(got), e))
    sys.exit(0)
head, _, rest = got.partition(b"\r\n\r\n")
length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
print(head.split(b"\r\n")[0].decode(), "complete" if length and len(rest) == length[0] else "truncated", rest.decode())
PY
    )
    expect_match "$out" '^HTTP/1.1 413 Content Too Large complete .*"code":413' "413 read whole after sending the body on ($i)"
done
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
pass "lingering close: the client that goes on sending still reads the whole 413"

# many connections: 120 idle sockets against max_connections 40 (one worker)
python3 - "$GW_PORT" "$GW_PID" >"$T/conns.out" <<'PY' || fail "connection flood: $(cat "$T/conns.out")"
import os, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
base = len(os.listdir("/proc/%s/fd" % pid))
socks = []
for i in range(120):
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
time.sleep(0.3)
fds = len(os.listdir("/proc/%s/fd" % pid))
# sockets the gateway closed at accept read EOF (or reset) at once
closed = 0
for s in socks:
    s.settimeout(0.05)
    try:
        if s.recv(1) == b"":
            closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
print("base fds", base, "with flood", fds, "closed at once", closed)
assert fds - base <= 45, "gateway holds %d more fds" % (fds - base)
assert closed >= 120 - 45, "only %d of 120 refused" % closed
# the idle ones are cut by header_read; afterwards the gateway serves again
time.sleep(1.5)
for s in socks:
    s.close()
PY
cat "$T/conns.out"
sleep 0.3
expect_eq "$(breq ok)" 200 "served again after the flood"
expect_eq "$(upstream_count)" "$((n0 + 1))" "only that request forwarded"
pass "connections beyond max_connections refused at accept; the gateway recovers"
check_forward_invariant
