#!/usr/bin/env bash
# Proxy overhead benchmark (not a test): wrk against nginx serving a fixed ~300-byte JSON
# directly (plain HTTP), then through authgate (TLS in, plain HTTP upstream, keep-alive
# both sides). Prints requests/s, p50 and p99 for both and the throughput ratio.
#
#   bench/proxy_bench.sh [AUTHGATE_BINARY]    env: DURATION=10 CONNS=32 THREADS=1 WORKERS=1
#
# Bounded: each wrk run lasts DURATION seconds; every process started is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
AUTHGATE=${1:-${AUTHGATE:-$here/../build/authgate}}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
d=$(mktemp -d "${TMPDIR:-/tmp}/ag-proxy-bench.XXXXXX")
trap 'ag_stop_all; rm -rf "$d"' EXIT

body='{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"12345"},"items":[{"metadata":{"name":"bench","namespace":"default","uid":"9f1c5a9e-0000-4000-8000-000000000000"},"spec":{"nodeName":"node-1"},"status":{"phase":"Running","podIP":"10.0.0.7"}}],"note":"fixed 300-byte body for proxy overhead runs"}'
up=$(ag_free_port)
ag_nginx_start "$d" upstream "  server { listen 127.0.0.1:$up; location / { default_type application/json; return 200 '$body'; } }"
ag_wait_port "$up" || { cat "$d"/upstream.error.log; exit 1; }

ag_make_cert "$d"
cat >"$d/gw.json" <<JSON
{
  "listen": {"address": "127.0.0.1:0"},
  "insecure_passthrough": true,
  "tls": {"cert": "$d/cert.pem", "key": "$d/key.pem"},
  "upstream": {"url": "http://127.0.0.1:$up", "pool_size": 256},
  "workers": $WORKERS,
  "log": {"level": "info"}
}
JSON
"$AUTHGATE" serve --config "$d/gw.json" >"$d/gw.log" 2>&1 &
AG_PIDS+=("$!")
for _ in $(seq 1 100); do grep -q "listening on" "$d/gw.log" 2>/dev/null && break; sleep 0.05; done
gw=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$d/gw.log" | head -1)
[ -n "$gw" ] || { echo "authgate did not start:"; cat "$d/gw.log"; exit 1; }
curl -sS --fail -k "https://127.0.0.1:$gw/api/v1/pods" >/dev/null

# For context: the same gateway with a plain-HTTP listener (the proxy hop without TLS).
sed -e '/"tls"/d' "$d/gw.json" >"$d/gw-plain.json"
"$AUTHGATE" serve --config "$d/gw-plain.json" >"$d/gw-plain.log" 2>&1 &
AG_PIDS+=("$!")
for _ in $(seq 1 100); do grep -q "listening on" "$d/gw-plain.log" 2>/dev/null && break; sleep 0.05; done
gwp=$(sed -n 's/.*listening on [^ ]*:\([0-9]*\) .*/\1/p' "$d/gw-plain.log" | head -1)

run() { # run NAME URL -> "rps p50_ms p99_ms"
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$2" >"$d/$1.wrk" 2>&1
    awk '
      function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
      /Requests\/sec/ {rps=$2}
      $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
      END {printf "%.0f %.3f %.3f\n", rps, p50, p99}' "$d/$1.wrk"
}
read -r d_rps d_p50 d_p99 < <(run direct "http://127.0.0.1:$up/api/v1/pods")
read -r g_rps g_p50 g_p99 < <(run authgate "https://127.0.0.1:$gw/api/v1/pods")
read -r p_rps p_p50 p_p99 < <(run plain "http://127.0.0.1:$gwp/api/v1/pods")
errs=$(grep -E "Non-2xx|Socket errors" "$d/authgate.wrk" || true)

printf '%-34s %12s %10s %10s\n' "target (wrk -t$THREADS -c$CONNS -d${DURATION}s)" "req/s" "p50 ms" "p99 ms"
printf '%-34s %12s %10s %10s\n' "nginx direct (plain HTTP)" "$d_rps" "$d_p50" "$d_p99"
printf '%-34s %12s %10s %10s\n' "authgate (TLS in, $WORKERS worker) -> nginx" "$g_rps" "$g_p50" "$g_p99"
printf '%-34s %12s %10s %10s\n' "authgate (plain in) -> nginx" "$p_rps" "$p_p50" "$p_p99"
awk -v a="$g_rps" -v b="$d_rps" -v p="$p_rps" 'BEGIN {printf "throughput ratio authgate/direct: %.2f (TLS in), %.2f (plain in)\n", a / b, p / b}'
[ -z "$errs" ] || echo "authgate run: $errs"
