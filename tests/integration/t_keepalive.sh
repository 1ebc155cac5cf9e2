#!/usr/bin/env bash
# Keep-alive: many requests over few client connections reach the upstream over few
# pooled connections; pipelined requests are answered in order.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"limits": {"header_count": 50}'
start_gateway "$T/gw.json"

urls=()
for i in $(seq 1 50); do urls+=("http://127.0.0.1:$GW_PORT/api/v1/item/$i"); done
curl -sS --fail "${urls[@]}" >/dev/null
curl -sS --fail "${urls[@]}" >/dev/null
expect_eq "$(upstream_count)" "100" "requests forwarded"
conns=$(sed 's/.*"conn":\([0-9]*\).*/\1/' "$UP_LOG" | sort -u | wc -l)
[ "$conns" -le 3 ] || fail "100 requests used $conns upstream connections"
pass "100 requests over $conns upstream connection(s)"

metrics=$(curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
expect_match "$metrics" 'authgate_upstream_reused_total [0-9]{2,}' "reuse counter"
pass "reuse visible in /metrics"

# Pipelining: three requests in one write, three answers in order.
out=$(printf 'GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$GW_PORT")
order=$(grep -o '"target":"/p/[0-9]"' <<<"$out" | tr -d '\n')
expect_eq "$order" '"target":"/p/1""target":"/p/2""target":"/p/3"' "pipelined order"
pass "pipelined requests answered in order"

# HTTP/1.0 without keep-alive: the gateway closes after the response.
out=$(printf 'GET /v10 HTTP/1.0\r\nHost: x\r\n\r\n' | raw "$GW_PORT")
expect_match "$out" '^HTTP/1.1 200' "HTTP/1.0 answered"
expect_match "$out" 'Connection: close' "HTTP/1.0 closes"
pass "HTTP/1.0 request"

# A thousand pipelined requests answered by the gateway itself (OPTIONS *) in one write:
# answered in order, iteratively (a regression test for unbounded recursion).
out=$(python3 -c '
import sys
sys.stdout.buffer.write(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" * 999 +
                        b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")' | raw "$GW_PORT")
expect_eq "$(grep -c '^HTTP/1.1 200 OK' <<<"$out")" "1000" "pipelined local answers"
pass "1000 pipelined requests answered without recursion"

# The upstream closes idle keep-alive connections after 300 ms (Node adds its own slack): the pooled connection is
# dropped when the server closes it, and later requests go out on a fresh one, error-free.
kill "$UP_PID"
start_upstream --keepalive-ms 300
plain_config "$T/gw2.json" '"workers": 1'
sed -i 's/"workers": 2,//' "$T/gw2.json"
start_gateway "$T/gw2.json" gw2
for i in 1 2 3; do
    curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/ka/$i"
    sleep 1.6
done
expect_eq "$(sed 's/.*"conn":\([0-9]*\).*/\1/' "$UP_LOG" | sort -u | wc -l)" "3" "one fresh upstream connection per idle gap"
metrics=$(curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
expect_match "$metrics" 'authgate_upstream_connections_open 0' "closed idle connections are gone"
expect_match "$metrics" 'authgate_http_requests_total\{code="200"\} 3' "no errors"
pass "upstream-closed idle connections leave the pool cleanly"

# HEAD: the length is relayed, no body follows, and the connection serves the next request.
out=$(printf 'HEAD /big?bytes=100&cl=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /after-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | raw "$GW_PORT")
expect_match "$out" 'Content-Length: 100' "HEAD length relayed"
expect_eq "$(grep -c '^HTTP/1.1 200' <<<"$out")" "2" "HEAD then GET on one connection"
expect_match "$out" '"target":"/after-head"' "request after HEAD answered"
pass "HEAD relays the length without a body; the connection goes on"

# An HTTP/1.0 client gets a streamed (chunked upstream) body close-delimited, never chunked.
out=$(printf 'GET /watch?events=2&interval=50 HTTP/1.0\r\nHost: x\r\n\r\n' | raw "$GW_PORT")
expect_no_match "$out" 'Transfer-Encoding' "no chunked framing to HTTP/1.0"
expect_match "$out" 'Connection: close' "closed after the body"
expect_eq "$(grep -c ADDED <<<"$out")" "2" "both events"
pass "HTTP/1.0 client gets a close-delimited body"
