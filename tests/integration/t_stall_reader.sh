#!/usr/bin/env bash
# A client that never reads a large response holds a bounded amount of gateway memory
# (issue 11): the upstream offers 200 MB, the client (a small fixed receive buffer) reads
# nothing for 10 s. The gateway must stop reading the upstream once its queue to the
# client is full (proxy/http/http1_relay.c backpressure, AG_H1C_WRITE_HIGH), so the upstream's writes
# block: the bytes it got out stop growing and stay far below 200 MB (what the kernel
# socket buffers on the way hold), and the gateway's VmRSS grows by less than 4 MB. Then
# the client reads everything: all 200 MB arrive. Once over plain HTTP and once over TLS
# (the mbedTLS write side queues ciphertext in the same stream queue, so it is bounded
# the same way).
. "$(dirname "$0")/lib.sh"

SIZE=$((200 * 1024 * 1024))
# The upstream: one response of SIZE bytes per request (Content-Length), written in 64 KiB
# blocking sends on a socket with a 64 KiB send buffer; the bytes accepted by the kernel so
# far are written to $T/sent every 100 ms.
cat >"$T/up.py" <<'PY'
import os, sys, threading, time
from upstream_raw import send_bytes, serve_forever
size, sent_file, port_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sent = [0]
def report():
    while True:
        with open(sent_file + ".tmp", "w") as f:
            f.write(str(sent[0]))
        os.replace(sent_file + ".tmp", sent_file)
        time.sleep(0.1)
def count(n):
    sent[0] += n
def serve(c, head):
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Length: %d\r\n\r\n" % size)
    try:
        send_bytes(c, size, count)
    except OSError:
        pass
threading.Thread(target=report, daemon=True).start()
serve_forever(serve, port_file, 8)
PY

# The client: connects (receive buffer fixed at 16 KiB, so the kernel does not grow it),
# sends the request, reads nothing for STALL seconds (touching $T/stalled when it starts
# waiting), then reads to the end and prints the body length.
cat >"$T/client.py" <<'PY'
import socket, ssl, sys, time, os
port, tls, stall, marker = int(sys.argv[1]), sys.argv[2] == "tls", float(sys.argv[3]), sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", port))
if tls:
    ctx = ssl.create_default_context(cafile=sys.argv[5])
    s = ctx.wrap_socket(s, server_hostname="localhost")
s.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
open(marker, "w").write("1")
time.sleep(stall)
s.settimeout(60)
got, head = 0, b""
while b"\r\n\r\n" not in head:
    head += s.recv(65536)
body = len(head.split(b"\r\n\r\n", 1)[1])
while body < int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
    d = s.recv(1 << 20)
    if not d:
        break
    body += len(d)
print(head.split(b" ")[1].decode(), body)
PY

PYTHONPATH="$AG_SOURCE_DIR/tests/integration" python3 "$T/up.py" "$SIZE" "$T/sent" "$T/up.port" >"$T/up.out" 2>&1 &
AG_PIDS+=($!)
wait_for_file "$T/up.port"
wait_for_file "$T/sent"
UP_PORT=$(cat "$T/up.port")
gen_certs

stall_case() { # stall_case plain|tls
    rm -f "$T/stalled"
    if [ "$1" = tls ]; then
        plain_config "$T/gw-$1.json" "\"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\"}"
    else
        plain_config "$T/gw-$1.json"
    fi
    start_gateway "$T/gw-$1.json" "gw-$1"
    local rss0 s0 s5 s10 rss10 out
    s0=$(cat "$T/sent") # the upstream's counter is cumulative over both cases
    rss0=$(awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status")
    python3 "$T/client.py" "$GW_PORT" "$1" 10 "$T/stalled" "$PKI/ca.crt" >"$T/client-$1.out" 2>&1 &
    local cpid=$!
    wait_for_file "$T/stalled" 200
    sleep 5
    s5=$(($(cat "$T/sent") - s0))
    sleep 4.5
    s10=$(($(cat "$T/sent") - s0))
    rss10=$(awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status")
    echo "# $1: upstream sent $s5 bytes after 5 s, $s10 after 9.5 s; gateway VmRSS $rss0 -> $rss10 kB"
    ((s10 < 64 * 1024 * 1024)) || fail "$1: the upstream got $s10 bytes out to a client that reads nothing"
    ((s10 - s5 < 1024 * 1024)) || fail "$1: the upstream kept writing ($s5 -> $s10 bytes): no backpressure"
    if ! sanitized; then # ASan's allocator quarantine makes RSS meaningless
        ((rss10 - rss0 < 4096)) || fail "$1: gateway VmRSS grew $((rss10 - rss0)) kB for one stalled client"
    fi
    wait "$cpid" || fail "$1: client failed: $(cat "$T/client-$1.out")"
    out=$(cat "$T/client-$1.out")
    expect_eq "$out" "200 $SIZE" "$1: the whole body after the stall"
    kill "$GW_PID" && wait "$GW_PID" || true
    pass "$1: a stalled reader holds the upstream back; RSS +$((rss10 - rss0)) kB, upstream ahead by $s10 bytes"
}

stall_case plain
stall_case tls
