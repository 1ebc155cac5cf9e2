#!/usr/bin/env bash
# bench/loadgen against a local nginx (plain + TLS on free loopback ports): the open-loop
# schedule sends exactly rate x duration measured requests, tokens go round robin, non-2xx
# statuses are counted, a stalled server shows up in the latency from the intended send
# time (no coordinated omission) but not in the service time, --closed measures req/s and
# the server's CPU over its window, --hold-request holds connections that served a request,
# and the safety bounds refuse remote targets and over-long runs. About 15 s.
set -euo pipefail
src=${AG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
LOADGEN=${LOADGEN:-${AG_BUILD_DIR:-$src/build}/loadgen}
source "$src/bench/lib.sh"
[[ -x $LOADGEN ]] || { echo "FAIL: $LOADGEN not built"; exit 1; }
command -v nginx >/dev/null || { echo "FAIL: nginx not installed (scripts/deps.sh bench)"; exit 1; }

d=$(mktemp -d /tmp/t_loadgen.XXXXXX)
trap 'ag_stop_all; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ag_make_cert "$d" || fail "openssl could not make a certificate"
for ((i = 1; i <= 50; i++)); do echo "user$i.token-$RANDOM"; done >"$d/tokens"
printf '\n\r\n' >>"$d/tokens" # blank lines are skipped

# nginx: /ok answers a small JSON, /missing 404; the TLS server logs each bearer token.
for attempt in 1 2 3 4 5; do
  http_port=$(ag_free_port) tls_port=$(ag_free_port)
  ag_nginx_start "$d" ng "
  log_format tok '\$http_authorization';
  server {
    listen 127.0.0.1:$http_port;
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem;
    ssl_protocols TLSv1.2; ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
    access_log $d/tokens.log tok;
    location /ok { default_type application/json; return 200 '{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}'; }
    location /missing { return 404; }
    location /short { keepalive_requests 5; return 200 'short'; }
    location /drop { return 444; }
  }"
  ag_wait_port "$http_port" 40 && ag_wait_port "$tls_port" 40 && break
  ag_stop_all
  [[ $attempt == 5 ]] && fail "nginx did not start: $(cat "$d/ng.error.log" "$d/ng.out" 2>/dev/null)"
done
ngpid=$AG_LAST_PID

jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# 1. TLS, verified against the test CA, 500/s for 3 s after 0.5 s of warm-up, 50 tokens.
: >"$d/tokens.log"
"$LOADGEN" --rate 500 --duration 3 --warmup 0.5 --connections 8 --cacert "$d/cert.pem" \
  --servername localhost --tokens "$d/tokens" --json "$d/tls.json" \
  "https://127.0.0.1:$tls_port/ok" >"$d/tls.txt" || fail "TLS run failed: $(cat "$d/tls.txt")"
cat "$d/tls.txt"
[[ $(jget "$d/tls.json" 'd["scheduled"]') == 1500 ]] || fail "scheduled != 1500"
[[ $(jget "$d/tls.json" 'd["completed"]') == 1500 ]] || fail "completed != 1500"
[[ $(jget "$d/tls.json" 'd["ok_2xx"]') == 1500 ]] || fail "ok_2xx != 1500"
[[ $(jget "$d/tls.json" 'd["failed"]') == 0 ]] || fail "failed requests"
[[ $(jget "$d/tls.json" 'd["tokens"]') == 50 ]] || fail "tokens != 50"
[[ $(jget "$d/tls.json" 'abs(d["achieved_rate"] - 500) < 50') == True ]] || fail "achieved rate"
l='d["latency_us"]["from_intended"]'
[[ $(jget "$d/tls.json" "0 < $l[\"min\"] <= $l[\"p50\"] <= $l[\"p90\"] <= $l[\"p99\"] <= $l[\"p99_9\"] <= $l[\"p99_99\"] <= $l[\"max\"] < 2e6") == True ]] ||
  fail "percentiles not ordered or not sane"
[[ $(jget "$d/tls.json" "$l[\"count\"]") == 1500 ]] || fail "histogram count"
[[ $(jget "$d/tls.json" "$l[\"p50\"] >= d[\"latency_us\"][\"service\"][\"p50\"]") == True ]] ||
  fail "latency from the intended time below the service time"
# warm-up requests are sent too (1750 in all); tokens are used round robin: 35 each
sleep 0.2
[[ $(wc -l <"$d/tokens.log") == 1750 ]] || fail "nginx saw $(wc -l <"$d/tokens.log") requests, want 1750"
[[ $(sort -u "$d/tokens.log" | wc -l) == 50 ]] || fail "not every token was used"
[[ $(sort "$d/tokens.log" | uniq -c | awk '{print $1}' | sort -u) == 35 ]] || fail "tokens not round robin"
grep -qv '^Bearer user[0-9]*\.token-[0-9]*$' "$d/tokens.log" && fail "malformed Authorization header"

# 2. non-2xx counted by status, not as failures; Connection: close reconnects (TLS resumed).
"$LOADGEN" --rate 200 --duration 1 --warmup 0 --connections 4 --insecure -H "Connection: close" \
  --json "$d/404.json" --quiet "https://127.0.0.1:$tls_port/missing" || fail "404 run failed"
[[ $(jget "$d/404.json" 'd["non_2xx"]') == "{'404': 200}" ]] || fail "404s not counted"
[[ $(jget "$d/404.json" 'd["completed"]') == 200 ]] || fail "404 run incomplete"

# 3. a server that ends keep-alive every 5 requests costs reconnects, not errors; one that
#    drops the connection without answering is counted as eof errors (and exit status 1).
"$LOADGEN" --rate 300 --duration 1 --warmup 0 --connections 4 --insecure --json "$d/short.json" \
  --quiet "https://127.0.0.1:$tls_port/short" || fail "short keep-alive run failed"
[[ $(jget "$d/short.json" 'd["ok_2xx"]') == 300 ]] || fail "reconnects lost requests"
"$LOADGEN" --rate 100 --duration 1 --warmup 0 --connections 4 --json "$d/drop.json" --quiet \
  "http://127.0.0.1:$http_port/drop" && fail "dropped requests did not fail the run"
[[ $(jget "$d/drop.json" 'd["failed"] == 100 and d["errors"]["eof"] == 100 and d["completed"] == 0') == True ]] ||
  fail "dropped requests not counted as eof: $(cat "$d/drop.json")"

# 4. no coordinated omission: stop the nginx worker for 0.5 s in the middle of a plain run.
#    The ~100 requests due during the stall wait, and that wait is in their latency.
worker=$(cat /proc/"$ngpid"/task/*/children | head -1)
[[ -n $worker ]] || fail "no nginx worker"
"$LOADGEN" --rate 200 --duration 3 --warmup 0 --connections 4 --json "$d/stall.json" --quiet \
  "http://127.0.0.1:$http_port/ok" &
lgpid=$!
sleep 1.5
kill -STOP "$worker"
sleep 0.5
kill -CONT "$worker"
wait "$lgpid" || fail "stall run failed"
python3 - "$d/stall.json" <<'EOF' || fail "stall not visible in the latency from the intended time"
import json, sys
d = json.load(open(sys.argv[1]))
lat, svc = d["latency_us"]["from_intended"], d["latency_us"]["service"]
print("stall: latency p90 %.0f us, max %.0f us; service p90 %.0f us" % (lat["p90"], lat["max"], svc["p90"]))
assert d["completed"] == 600, d["completed"]
assert lat["max"] > 400e3, lat   # the first request due in the stall waited ~0.5 s
assert lat["p90"] > 100e3, lat   # 1 in 6 requests was due during the stall
assert svc["p50"] < 50e3, svc    # once sent, requests were fast: omission would hide it
EOF

# 5. --closed: each connection sends again as soon as it is answered; req/s and the server's
#    CPU ticks over the measured window only (the requests the server logged cover warm-up
#    and the window, so they are more than the window counted). --window-ctl tells a reader
#    of the FIFO (perf stat --control, bench/syscalls.sh) when the window opens and closes.
ngpids=$(ag_proc_tree "$ngpid" | paste -sd,)
: >"$d/tokens.log"
mkfifo "$d/ctl"
timeout 30 cat "$d/ctl" >"$d/ctl.out" &
catpid=$!
if ! "$LOADGEN" --closed --duration 1 --warmup 0.3 --connections 4 --insecure --tokens "$d/tokens" \
  --cpu-pids "$ngpids" --json "$d/closed.json" --quiet --window-ctl "$d/ctl" \
  "https://127.0.0.1:$tls_port/ok"; then
  exec 3<>"$d/ctl" # lets the reader see end of file
  fail "closed run failed"
fi
wait "$catpid"
[[ $(cat "$d/ctl.out") == $'enable\ndisable' ]] || fail "--window-ctl wrote '$(cat "$d/ctl.out")'"
sleep 0.2
python3 - "$d/closed.json" "$(wc -l <"$d/tokens.log")" <<'EOF2' || fail "closed-loop figures"
import json, sys
d, logged = json.load(open(sys.argv[1])), int(sys.argv[2])
c = d["closed"]
print("closed: %.0f req/s over %.2f s, %d CPU ticks, %d requests logged" % (
    d["achieved_rate"], c["window_s"], c["cpu_ticks"], logged))
assert 0.95 < c["window_s"] < 1.2, c
assert d["completed"] > 100 and d["failed"] == 0 and d["ok_2xx"] == d["completed"], d
assert abs(d["achieved_rate"] - d["completed"] / c["window_s"]) < d["achieved_rate"] * 1e-3, d
assert sum(d["errors"].values()) == 0, d["errors"]  # none, not even outside the window
assert c["clk_tck"] > 0 and c["cpu_ticks"] >= c["cpu_sys_ticks"] >= 0, c
assert logged > d["completed"], (logged, d["completed"])
EOF2

# 6. --hold-request: N connections each answered one request, then held idle.
: >"$d/tokens.log"
"$LOADGEN" --hold 20 --hold-request --hold-time 1 --insecure --tokens "$d/tokens" \
  "https://127.0.0.1:$tls_port/ok" >"$d/hold.out" || fail "hold run failed: $(cat "$d/hold.out")"
grep -q '^READY 20 FAILED 0$' "$d/hold.out" || fail "hold: $(cat "$d/hold.out")"
[[ $(wc -l <"$d/tokens.log") == 20 ]] || fail "hold: nginx saw $(wc -l <"$d/tokens.log") requests, want 20"
out=$("$LOADGEN" --hold 3 --hold-request --hold-time 1 --insecure "https://127.0.0.1:$tls_port/missing") &&
  fail "hold with 404 answers succeeded"
grep -q '^READY 0 FAILED 3$' <<<"$out" || fail "hold 404: $out"

# 7. bounds: remote targets and over-long runs are refused before anything is sent.
out=$("$LOADGEN" --rate 10 --duration 1 http://192.0.2.1/ 2>&1) && fail "remote target accepted"
grep -q "not a loopback address" <<<"$out" || fail "remote refusal message: $out"
out=$("$LOADGEN" --rate 10 --duration 200 "http://127.0.0.1:$http_port/ok" 2>&1) && fail "200 s run accepted"
grep -q "max-duration" <<<"$out" || fail "duration refusal message: $out"
echo "PASS t_loadgen"
