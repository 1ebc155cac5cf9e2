#!/usr/bin/env bash
# Limits and timeouts: header bytes and header count (431), URL length (414), a slow head
# (408 and close), an idle keep-alive connection (closed), an upstream that never answers
# (504 Timeout) or is down (503 ServiceUnavailable, as kube-apiserver's proxy answers an
# unreachable backend). Every answer is a Kubernetes Status JSON body whose reason is the
# one kube-apiserver pairs with the code.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"limits": {"header_bytes": 4096, "header_count": 20, "url_bytes": 1024},
  "timeouts": {"header_read": "500ms", "idle": "700ms", "upstream_first_byte": "800ms"}'
sed -i 's/"workers": 2/"workers": 1/' "$T/gw.json" # one pool: both body-stall paths below
start_gateway "$T/gw.json"

check_status() { # check_status RESPONSE CODE WHAT
    expect_eq "$(status_of "$1")" "$2" "$3"
    expect_match "$1" '"kind":"Status"' "$3: Status body"
    expect_match "$1" "\"code\":$2" "$3: Status code"
    expect_match "$1" 'Content-Type: application/json' "$3: content type"
    local reason
    case $2 in
    408 | 504) reason=Timeout ;;
    503) reason=ServiceUnavailable ;;
    5??) reason=InternalError ;;
    *) reason=BadRequest ;;
    esac
    expect_match "$1" "\"reason\":\"$reason\"" "$3: Status reason"
}

big=$(head -c 5000 /dev/zero | tr '\0' a)
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n' "$big" | raw "$GW_PORT")
check_status "$out" 431 "header bytes"
hdrs=$(for i in $(seq 1 25); do printf 'X-H%d: v\r\n' "$i"; done; printf x)
out=$(printf 'GET / HTTP/1.1\r\nHost: x\r\n%s\r\n' "${hdrs%x}" | raw "$GW_PORT")
check_status "$out" 431 "header count"
long=$(head -c 2000 /dev/zero | tr '\0' b)
out=$(printf 'GET /%s HTTP/1.1\r\nHost: x\r\n\r\n' "$long" | raw "$GW_PORT")
check_status "$out" 414 "URL length"
pass "431 for header bytes and count, 414 for the URL"

# send_until_close BYTES: sends BYTES (with \r\n escapes) and prints what the gateway
# answers until it closes the connection, then "ELAPSED <seconds>".
send_until_close() {
    python3 - "$GW_PORT" "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
t0 = time.time(); data = b""
while True:
    c = s.recv(4096)
    if not c: break
    data += c
sys.stdout.write(data.decode() + "\nELAPSED %.1f\n" % (time.time() - t0))
PY
}

out=$(send_until_close 'GET / HTTP/1.1\r\nHost: x\r\n') # never finishes the head
check_status "$out" 408 "slow head"
pass "408 and close for a head that never completes"

out=$(python3 - "$GW_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.2)
first = s.recv(65536)
t0 = time.time()
rest = s.recv(65536)  # the server closes the idle connection
print("closed" if rest == b"" else "data", "%.1f" % (time.time() - t0), first.split(b"\r\n")[0].decode())
PY
)
expect_match "$out" '^closed 0\.[4-9] HTTP/1.1 200' "idle keep-alive closed after the idle timeout"
pass "idle keep-alive connection closed"

for path in pooled fresh; do # the pooled connection from /idle first, then a new one
    out=$(send_until_close 'POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789')
    check_status "$out" 408 "stalled request body"
    expect_match "$out" 'ELAPSED (0\.[5-9]|1\.[0-9])' "body stall answered after about timeouts.idle"
    pass "408 for a request body that stalls ($path upstream connection)"
done

out=$(printf 'GET /hang HTTP/1.1\r\nHost: x\r\n\r\n' | raw "$GW_PORT")
check_status "$out" 504 "upstream first byte"
pass "504 when the upstream does not answer"

kill "$UP_PID"
wait "$UP_PID" 2>/dev/null || true # gone, not just signalled (a loaded machine is slow to exit)
out=$(printf 'GET /down HTTP/1.1\r\nHost: x\r\n\r\n' | raw "$GW_PORT")
check_status "$out" 503 "upstream down"
metrics=$(curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
expect_match "$metrics" 'authgate_upstream_errors_total\{reason="connect"\} [1-9]' "connect errors counted"
expect_match "$metrics" 'authgate_upstream_errors_total\{reason="timeout"\} [1-9]' "timeouts counted"
expect_match "$metrics" 'authgate_http_requests_total\{code="431"\} 2' "431s counted"
pass "503 ServiceUnavailable when the upstream is down; errors in /metrics"
