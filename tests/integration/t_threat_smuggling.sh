#!/usr/bin/env bash
# Request smuggling and framing through the real binary with authentication and
# authorization on (threat-model cases 14, 42, 2): every head two parsers could frame
# differently is refused and the connection closed; a request hidden in a body or behind a
# chunked body is never forwarded unjudged; bytes sent after a refused upgrade never reach
# the API server (CVE-2018-1002105). Requests carry alice's valid token (view in default),
# so a refusal is the framing check, not authentication.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/threat_lib.sh"

threat_start
OK=$(tok ok)
PODS=/api/v1/namespaces/default/pods
SECRET="GET /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\n\r\n"
no_secret_forwarded() {
    if grep -q '"target":"/api/v1/namespaces/default/secrets' "$UP_LOG"; then
        fail "$1: a request for secrets reached the upstream"
    fi
}

# case 42: framing the two ends could read differently -> 400, closed, nothing forwarded
framing() { # framing NAME HEADERS BODY
    local n0 out
    n0=$(upstream_count)
    out=$(printf "POST $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\n$2\r\n$3$SECRET" | rawsend)
    expect_eq "$(status_of "$out")" 400 "$1"
    expect_match "$out" '"kind":"Status"' "$1: Status body"
    expect_eq "$(grep -o 'HTTP/1.1 [0-9][0-9][0-9] ' <<<"$out" | wc -l)" 1 "$1: one answer, then closed (the pipelined request is never read)"
    expect_eq "$(upstream_count)" "$n0" "$1: nothing forwarded"
}
framing "TE chunked, identity" 'Transfer-Encoding: chunked, identity\r\n' '0\r\n\r\n'
framing "TE identity, chunked" 'Transfer-Encoding: identity, chunked\r\n' '0\r\n\r\n'
framing "TE xchunked" 'Transfer-Encoding: xchunked\r\n' '0\r\n\r\n'
framing "TE quoted" 'Transfer-Encoding: "chunked"\r\n' '0\r\n\r\n'
framing "TE vertical tab" 'Transfer-Encoding:\vchunked\r\n' '0\r\n\r\n'
framing "TE twice" 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n' '0\r\n\r\n'
framing "TE + CL" 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n' '0\r\n\r\n'
framing "CL + TE" 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n' '0\r\n\r\n'
framing "CL plus sign" 'Content-Length: +5\r\n' 'hello'
framing "CL negative" 'Content-Length: -5\r\n' 'hello'
framing "CL hex" 'Content-Length: 0x5\r\n' 'hello'
framing "CL two values" 'Content-Length: 5 5\r\n' 'hello'
framing "CL decimal point" 'Content-Length: 5.0\r\n' 'hello'
framing "CL overflow" 'Content-Length: 184467440737095516170\r\n' 'hello'
framing "CL duplicate" 'Content-Length: 5\r\nContent-Length: 5\r\n' 'hello'
pass "case 42: ambiguous Content-Length / Transfer-Encoding refused before anything is forwarded"

# bad chunked bodies: the head was fine (a GET alice may send, so the body is read), the
# body framing is not -> 400, closed, the pipelined request behind it is never forwarded
chunk_bad() { # chunk_bad NAME BODY
    local out
    out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nTransfer-Encoding: chunked\r\n\r\n$2$SECRET" | rawsend)
    expect_eq "$(status_of "$out")" 400 "$1"
    expect_eq "$(grep -o 'HTTP/1.1 [0-9][0-9][0-9] ' <<<"$out" | wc -l)" 1 "$1: one answer, then closed"
    no_secret_forwarded "$1"
}
chunk_bad "chunk data without CRLF (issue 11, defect 1)" '5\r\nhelloXX0\r\n\r\n'
chunk_bad "bare LF ends the trailer section" '5\r\nhello\r\n0\r\n\n'
chunk_bad "trailer with obs-fold" '5\r\nhello\r\n0\r\nX-A: b\r\n c\r\n\r\n'
chunk_bad "chunk size overflow" 'fffffffffffffffff1\r\nx\r\n0\r\n\r\n'
chunk_bad "chunk size 0x" '0x5\r\nhello\r\n0\r\n\r\n'
chunk_bad "chunk size negative" '-1\r\nx\r\n0\r\n\r\n'
chunk_bad "chunk size bare LF" '5\nhello\r\n0\r\n\r\n'
chunk_bad "chunk data longer than size" '3\r\nhello\r\n0\r\n\r\n'
chunk_bad "chunk extension bare LF" '5;a=b\nhello\r\n0\r\n\r\n'
pass "case 42: malformed chunked bodies never let a hidden request through"

# a request hidden in a Content-Length body stays body: one upstream request
n0=$(upstream_count)
body=$(printf "$SECRET")
out=$(printf "POST $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nContent-Length: ${#body}\r\n\r\n%s" "$body" | rawsend)
# alice may not create pods: 403 and nothing forwarded; the body is never read as a request
expect_eq "$(status_of "$out")" 403 "create pods refused"
expect_eq "$(grep -o 'HTTP/1.1 [0-9][0-9][0-9] ' <<<"$out" | wc -l)" 1 "body not parsed as a second request"
expect_eq "$(upstream_count)" "$n0" "nothing forwarded"
n0=$(upstream_count)
out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nContent-Length: ${#body}\r\nConnection: close\r\n\r\n%s" "$body" | rawsend)
expect_eq "$(status_of "$out")" 200 "GET with a body"
expect_eq "$(upstream_count)" "$((n0 + 1))" "exactly one upstream request"
expect_match "$(last_upstream)" "\"bodyLen\":${#body}," "body forwarded as body"
no_secret_forwarded "CL body"
pass "case 42: a request inside a Content-Length body is forwarded as body, never as a request"

# requests pipelined behind a chunked body are judged on their own
n0=$(upstream_count)
out=$(printf "GET $PODS HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SECRET}GET $PODS HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" | rawsend)
expect_eq "$(grep -o 'HTTP/1.1 [0-9]*' <<<"$out" | awk '{print $2}' | paste -sd,)" "200,403,401" \
  "pipelined: allowed, then forbidden, then unauthenticated (identity is per request)"
expect_eq "$(upstream_count)" "$((n0 + 1))" "only the allowed request forwarded"
no_secret_forwarded "pipelined"
pass "case 42: pipelined requests are each authenticated and authorized"

# case 14: CVE-2018-1002105 -- an upgrade the API server refuses (403, connection left
# open) must not turn into a tunnel: nothing the client sends afterwards reaches it
mkdir -p "$T/up14"
python3 "$THREAT_SERVER" upgrade "$T/up14" >"$T/up14.out" 2>&1 &
AG_PIDS+=($!)
wait_for_file "$T/up14/up.port"
UP_PORT=$(cat "$T/up14/up.port") threat_config "$T/gw14.json"
start_gateway "$T/gw14.json" gw14
FR=$(tok frank)
python3 - "$GW_PORT" "$FR" "$OK" <<'PY' || fail "case 14 client side"
import socket, sys, time
port, frank, ok = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
head = ("GET /api/v1/namespaces/default/pods/web/exec?command=sh HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n" % frank).encode()
smuggled = b"GET /api/v1/namespaces/kube-system/secrets HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(head + smuggled)  # bytes right behind the upgrade head
data = b""
s.settimeout(3)
try:
    while b"\r\n\r\n" not in data:
        c = s.recv(4096)
        if not c:
            break
        data += c
    assert data.startswith(b"HTTP/1.1 403"), data
    time.sleep(0.2)
    s.sendall(smuggled)  # and after the refusal
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
except OSError:
    pass
print("client got", data.split(b"\r\n")[0].decode())
PY
sleep 0.5
expect_match "$(cat "$T/up14/up.bytes")" 'GET /api/v1/namespaces/default/pods/web/exec' "upgrade request reached the upstream"
if grep -q 'AFTER' "$T/up14/up.bytes"; then
    fail "bytes sent around a refused upgrade reached the upstream: $(grep -a -o 'AFTER.\{0,60\}' "$T/up14/up.bytes" | head -2)"
fi
pass "case 14: after a non-101 answer no client byte reaches the upstream"

# cases 1/9 via chunked trailers: a request body's trailer section must be empty (issue
# 11, defect 1), so identity or credential fields in a trailer are refused with the
# request and never reach the upstream (the raw upstream records the bytes it receives)
: >"$T/up14/up.bytes"
out=$(printf "GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $OK\r\nTransfer-Encoding: chunked\r\nTrailer: Impersonate-User, Authorization\r\n\r\n5\r\nhello\r\n0\r\nImpersonate-User: admin\r\nAuthorization: Bearer stolen-credential\r\nImpersonate-Group: system:masters\r\n\r\n" | rawsend)
sleep 0.5
expect_eq "$(status_of "$out")" 400 "request with trailer fields refused"
expect_match "$out" '"kind":"Status"' "trailer refusal: Status body"
expect_no_match "$(cat "$T/up14/up.bytes")" 'admin|stolen-credential|system:masters|^Trailer' "trailer fields forwarded"
pass "cases 1/9: trailers never carry identity or credentials upstream"
