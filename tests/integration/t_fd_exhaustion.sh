#!/usr/bin/env bash
# Descriptor exhaustion (issue 11, soak and resource bounds): with the gateway's
# RLIMIT_NOFILE lowered to a few above what it uses idle, clients that hold connections
# open exhaust its descriptors. Accepting must not spin on the still-readable listener
# (its CPU time over 2 s stays low), must not crash; the pause is counted
# (authgate_accept_errors_total{reason="fd_exhausted"}) and logged, rate-limited; once the
# hogs close, a new request is served again.
. "$(dirname "$0")/lib.sh"

start_upstream
plain_config "$T/gw.json" '"timeouts": {"header_read": "60s", "idle": "60s"}'
start_gateway "$T/gw.json"
curl -sS --fail -o /dev/null "http://127.0.0.1:$GW_PORT/api" # warm: upstream pool, TLS-free
base=$(ls "/proc/$GW_PID/fd" | wc -l)
prlimit --pid "$GW_PID" --nofile=$((base + 8)):$((base + 8))

cpu_ticks() { awk '{print $14 + $15}' "/proc/$GW_PID/stat"; }
# 60 connections that send nothing and stay open until told (the file "$T/release").
python3 - "$GW_PORT" "$T" <<'PY' &
import os, socket, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
hogs = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
open(t + "/hogs.tmp", "w").write(str(len(hogs)))
os.rename(t + "/hogs.tmp", t + "/hogs")
deadline = time.time() + 30
while not os.path.exists(t + "/release") and time.time() < deadline:
    time.sleep(0.05)
for s in hogs:
    s.close()
PY
AG_PIDS+=($!)
wait_for_file "$T/hogs"
sleep 0.5 # the gateway accepts what it can and runs out of descriptors
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
kill -0 "$GW_PID" || fail "the gateway died"
used=$((c1 - c0))
hz=$(getconf CLK_TCK)
[ "$used" -le $((hz * 3 / 10)) ] ||
    fail "accept loop spins: $used ticks of CPU in 2 s (at most $((hz * 3 / 10)) expected)"
pass "descriptors exhausted: no spin ($used ticks of CPU in 2 s at $hz/s), no crash"

touch "$T/release"
ok=0
for _ in $(seq 1 50); do # accepting resumes within the back-off (at most 500 ms)
    if curl -sS --max-time 2 -o /dev/null "http://127.0.0.1:$GW_PORT/api" 2>/dev/null; then
        ok=1
        break
    fi
    sleep 0.1
done
expect_eq "$ok" 1 "a request after the hogs closed"
metrics=$(curl -sS "http://127.0.0.1:$ADMIN_PORT/metrics")
expect_match "$metrics" 'authgate_accept_errors_total\{reason="fd_exhausted"\} [1-9]' \
    "descriptor exhaustion counted"
warns=$(grep -c 'pausing accepts' "$GW_LOG" || true)
[ "$warns" -ge 1 ] && [ "$warns" -le 4 ] || fail "expected 1-4 rate-limited warnings, got $warns"
pass "recovered after the hogs closed; exhaustion counted and logged ($warns warning lines)"
