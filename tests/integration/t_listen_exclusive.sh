#!/usr/bin/env bash
# One process per address (issue 11, defect 4): the gateway binds each listener (main,
# admin, webhooks) with one socket without SO_REUSEPORT. Starting on an address something
# already listens on fails with "address HOST:PORT is already in use" and exit 2 (another
# authgate, a plain socket; `authgate demo --listen` too, it does not pick another port);
# and while the gateway runs, no socket can join its addresses, not even one of the same
# user asking for SO_REUSEPORT (which would silently get a share of the connections).
. "$(dirname "$0")/lib.sh"

start_upstream
gen_certs
WH="\"webhooks\": {\"address\": \"127.0.0.1:0\",
     \"tls\": {\"cert\": \"$PKI/server.crt\", \"key\": \"$PKI/server.key\",
             \"client_ca\": \"$PKI/ca.crt\", \"client_auth\": \"require\"}}"
plain_config "$T/gw.json" "$WH"
start_gateway "$T/gw.json"
WH_PORT=$(sed -n 's/.*webhooks on [^ ]*:\([0-9]*\).*/\1/p' "$GW_LOG" | head -1)
[ -n "$WH_PORT" ] && [ -n "$ADMIN_PORT" ] || fail "ports not reported"

# second_serve NAME LISTEN ADMIN WEBHOOKS BUSY: another `authgate serve` with these
# addresses must exit 2 naming the busy one, and must not have served anything.
second_serve() {
    cat >"$T/$1.json" <<JSON
{
  "listen": {"address": "$2"},
  "upstream": {"url": "http://127.0.0.1:$UP_PORT"},
  "admin": {"address": "$3"},
  "webhooks": {"address": "$4",
     "tls": {"cert": "$PKI/server.crt", "key": "$PKI/server.key",
             "client_ca": "$PKI/ca.crt", "client_auth": "require"}},
  "workers": 2
}
JSON
    local rc=0
    timeout 10 "$AUTHGATE" serve --config "$T/$1.json" >"$T/$1.log" 2>&1 || rc=$?
    expect_eq "$rc" 2 "$1: exit code"
    expect_match "$(cat "$T/$1.log")" "address $5 is already in use" "$1: message"
    expect_no_match "$(cat "$T/$1.log")" "listening on" "$1: did not start"
}
second_serve main "127.0.0.1:$GW_PORT" 127.0.0.1:0 127.0.0.1:0 "127.0.0.1:$GW_PORT"
second_serve admin 127.0.0.1:0 "127.0.0.1:$ADMIN_PORT" 127.0.0.1:0 "127.0.0.1:$ADMIN_PORT"
second_serve webhooks 127.0.0.1:0 127.0.0.1:0 "127.0.0.1:$WH_PORT" "127.0.0.1:$WH_PORT"
pass "a second authgate on the main, admin or webhooks address exits 2: already in use"

# While the gateway runs, a socket asking for SO_REUSEPORT (and SO_REUSEADDR) cannot bind
# any of its addresses.
join=$(python3 - "$GW_PORT" "$ADMIN_PORT" "$WH_PORT" <<'PY'
import errno, socket, sys
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind(("127.0.0.1", port))
        s.listen(8)
        print(port, "joined")
    except OSError as e:
        print(port, errno.errorcode.get(e.errno, e.errno))
    s.close()
PY
)
expect_eq "$join" "$GW_PORT EADDRINUSE
$ADMIN_PORT EADDRINUSE
$WH_PORT EADDRINUSE" "SO_REUSEPORT bind to the gateway's ports"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/api")
expect_eq "$code" 200 "the gateway still serves"
pass "with the gateway running, an SO_REUSEPORT socket cannot join its addresses"

# A port held by a plain socket (bound and listening, no SO_REUSEPORT): serve and demo
# refuse it; demo does not fall back to another port.
python3 - "$T/busy.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
PY
AG_PIDS+=($!)
wait_for_file "$T/busy.port"
BUSY=$(cat "$T/busy.port")
second_serve plain "127.0.0.1:$BUSY" 127.0.0.1:0 127.0.0.1:0 "127.0.0.1:$BUSY"
rc=0
timeout 10 "$AUTHGATE" demo --listen "127.0.0.1:$BUSY" >"$T/demo.out" 2>"$T/demo.log" || rc=$?
expect_eq "$rc" 2 "demo on a busy port: exit code"
expect_match "$(cat "$T/demo.log")" "address 127.0.0.1:$BUSY is already in use" "demo: message"
expect_no_match "$(cat "$T/demo.out")" "https://" "demo printed no gateway address"
pass "a port held by another program: serve and demo --listen exit 2, no other port picked"
