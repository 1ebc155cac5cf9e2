#!/usr/bin/env bash
# SIGTERM: /readyz turns 503 at once, new connections are refused, a request in flight
# finishes, then the process exits 0. A drain that outlasts timeouts.drain is cut short.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"timeouts": {"drain": "5s"}'
start_gateway "$T/gw.json"

expect_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" "200" "ready"
expect_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz")" "200" "healthz"

# SIGHUP runs the reload hooks and nothing else: the gateway keeps serving.
kill -HUP "$GW_PID"
sleep 0.2
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/after-hup"
expect_match "$(cat "$GW_LOG")" 'SIGHUP: running [0-9]+ reload hook' "SIGHUP logged"
pass "SIGHUP handled without disruption"

# A slow request in flight: the upstream reads the 2 MB body in 64 KiB steps, 30 ms apart.
head -c $((2 * 1024 * 1024)) /dev/zero >"$T/body"
curl -sS -H 'Expect:' --data-binary @"$T/body" -o "$T/inflight.out" -w '%{http_code}' \
    "http://127.0.0.1:$GW_PORT/slow?ms=30" >"$T/inflight.code" &
client=$!
sleep 0.3
kill -TERM "$GW_PID"
sleep 0.2
code=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz" || true)
expect_eq "$code" "503" "readyz while draining"
if curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$GW_PORT/new" 2>/dev/null; then
    fail "a new connection was served while draining"
fi
wait "$client" || true
expect_eq "$(cat "$T/inflight.code")" "200" "in-flight request finished"
expect_match "$(cat "$T/inflight.out")" '"bodyLen":2097152' "in-flight body complete"
rc=0
wait "$GW_PID" || rc=$?
expect_eq "$rc" "0" "exit status after drain"
pass "SIGTERM: not ready, no new connections, in-flight request completed, exit 0"

# A watch that never ends is cut at the drain timeout, and the exit is still 0.
plain_config "$T/gw2.json" '"timeouts": {"drain": "1s"}'
start_gateway "$T/gw2.json" gw2
curl -sS -N -o /dev/null "http://127.0.0.1:$GW_PORT/watch?events=1000&interval=100" &
sleep 0.3
start=$(date +%s%N)
kill -TERM "$GW_PID"
rc=0
wait "$GW_PID" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" "0" "exit status after drain timeout"
[ "$ms" -ge 900 ] && [ "$ms" -lt 4000 ] || fail "drain took ${ms} ms, expected about 1000"
pass "drain timeout cuts a watch after ${ms} ms, exit 0"

# A second signal does not wait for the drain.
plain_config "$T/gw3.json" '"timeouts": {"drain": "30s"}'
start_gateway "$T/gw3.json" gw3
curl -sS -N -o /dev/null "http://127.0.0.1:$GW_PORT/watch?events=1000&interval=100" &
sleep 0.3
start=$(date +%s%N)
kill -TERM "$GW_PID"
sleep 0.2
kill -INT "$GW_PID"
rc=0
wait "$GW_PID" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" "0" "exit status after a second signal"
[ "$ms" -lt 3000 ] || fail "second signal took ${ms} ms"
pass "a second stop signal closes everything at once (${ms} ms)"
