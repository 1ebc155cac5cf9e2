#!/usr/bin/env bash
# SIGTERM: /readyz turns 503 at once, new connections are refused, a request in flight
# finishes, then the process exits 0. A drain that outlasts timeouts.drain is cut short.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"timeouts": {"drain": "5s"}'
start_gateway "$T/gw.json"
# forwarded: requests the gateway has sent upstream so far (on a new or a pooled
# connection). Waiting for it to grow replaces a fixed sleep, which a loaded machine can
# outlast before the request is even sent.
forwarded() {
    curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk '$1 == "authgate_upstream_connects_total" || $1 == "authgate_upstream_reused_total" {n += $2}
             END {print n + 0}'
}
forwarding() { [ "$(forwarded)" -gt "$1" ]; }

expect_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" "200" "ready"
expect_eq "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz")" "200" "healthz"

# SIGHUP runs the reload hooks and nothing else: the gateway keeps serving.
kill -HUP "$GW_PID"
wait_until 10 "the SIGHUP log line" grep -Eq 'SIGHUP: running [0-9]+ reload hook' "$GW_LOG"
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/after-hup"
pass "SIGHUP handled without disruption"

# A slow request in flight: the upstream reads the 2 MB body in 64 KiB steps, 30 ms apart.
head -c $((2 * 1024 * 1024)) /dev/zero >"$T/body"
sent=$(forwarded)
curl -sS -H 'Expect:' --data-binary @"$T/body" -o "$T/inflight.out" -w '%{http_code}' \
    "http://127.0.0.1:$GW_PORT/slow?ms=30" >"$T/inflight.code" &
client=$!
wait_until 10 "the slow request to reach the upstream" forwarding "$sent"
kill -TERM "$GW_PID"
# /readyz answers 503 as soon as the signal is handled (while the request is in flight)
not_ready() { [ "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz")" = 503 ]; }
wait_until 5 "readyz 503 while draining" not_ready
kill -0 "$client" 2>/dev/null || fail "the in-flight request ended before readyz turned 503"
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
wait_until 10 "the watch to reach the upstream" forwarding 0
start=$(date +%s%N)
kill -TERM "$GW_PID"
rc=0
wait "$GW_PID" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" "0" "exit status after drain timeout"
[ "$ms" -ge 900 ] && [ "$ms" -lt 10000 ] || fail "drain took ${ms} ms, expected about 1000 (the watch lasts 100 s)"
pass "drain timeout cuts a watch after ${ms} ms, exit 0"

# A second signal does not wait for the drain.
plain_config "$T/gw3.json" '"timeouts": {"drain": "30s"}'
start_gateway "$T/gw3.json" gw3
curl -sS -N -o /dev/null "http://127.0.0.1:$GW_PORT/watch?events=1000&interval=100" &
wait_until 10 "the watch to reach the upstream" forwarding 0
start=$(date +%s%N)
kill -TERM "$GW_PID"
sleep 0.2
kill -INT "$GW_PID"
rc=0
wait "$GW_PID" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$rc" "0" "exit status after a second signal"
[ "$ms" -lt 10000 ] || fail "second signal took ${ms} ms (drain timeout 30 s)"
pass "a second stop signal closes everything at once (${ms} ms)"
