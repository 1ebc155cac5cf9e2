#!/usr/bin/env bash
# Side-by-side benchmark (issues 8, 17): the same workload against the upstream directly,
# nginx (TLS reverse proxy with its access log), HAProxy (TLS + RS256 jwt_verify on every
# request, with its log) and the authgate targets (authgate-prod: production settings with
# audit), at equal worker counts, in many short slices with the target order rotated per
# slice. Per slice: closed-loop req/s and CPU us per request of the target's own processes
# (bench/loadgen --closed, /proc utime+stime across the measured window), and open-loop p99
# at 50% of nginx's median peak (bench/loadgen); ratios to nginx/HAProxy are taken within
# each slice and reported as the median with IQR and min-max. Then memory per idle
# keep-alive TLS connection (each served one request first) beside mbedTLS's own floor
# (bench/tlsfloor). A Markdown table on stdout and JSON under bench/out/.
#   bench/run.sh [--quick | --full] [--targets a,b,..|all] [--no-deps] [--out DIR]
#   (env AG_BENCH_SLICES, AG_BENCH_SLICE_SECONDS, AG_BENCH_IDLE_N, AG_BENCH_WORKERS override;
#   AG_BENCH_WORKERS="1 2" measures 1 and 2 workers; AG_BENCH_RECORD_LAYER=mbedtls runs the
#   authgate targets with tls.record_layer "mbedtls")
# quick (default): 1 worker, 3 slices of 1 s, every target, < 4 minutes; full: 1 and all
# cores, 20 slices of 2 s, nginx/haproxy/authgate-prod/authgate-rbac, 10,000 idle
# connections, about 21 minutes (1,239 s at load 13).
# Everything runs on loopback, on free ports, from configs generated into a temp dir; every
# process it starts is stopped on exit. An authgate target whose preflight fails is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/peers/upstream.sh
source bench/peers/nginx.sh
source bench/peers/haproxy.sh
source bench/peers/authgate.sh

mode=quick deps=1 only="" out_dir=bench/out
while (($#)); do
  case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --no-deps) deps=0 ;;
    --targets) only=${2:?}; shift ;;
    --rounds) echo "bench/run.sh: --rounds is gone: AG_BENCH_SLICES" >&2; exit 2 ;;
    --out) out_dir=${2:?}; shift ;;
    *) echo "usage: bench/run.sh [--quick|--full] [--targets a,b] [--no-deps] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
ALL_TARGETS=(direct nginx haproxy authgate-prod authgate-rbac authgate-azure authgate-cold)
if [[ $mode == quick ]]; then
  SLICES=3 SLICE_D=1 WARM=0.5 IDLE_N=1000 WORKERS=(1) BUDGET=230 COLD_N=20000
else
  SLICES=20 SLICE_D=2 WARM=0.5 IDLE_N=10000 WORKERS=(1 "$(nproc)") BUDGET=1600 COLD_N=100000
  [[ -n $only ]] || only=nginx,haproxy,authgate-prod,authgate-rbac
fi
[[ $only == all ]] && only=""
# Overrides for experiments (the defaults above are what the table's header states).
SLICES=${AG_BENCH_SLICES:-$SLICES} SLICE_D=${AG_BENCH_SLICE_SECONDS:-$SLICE_D}
IDLE_N=${AG_BENCH_IDLE_N:-$IDLE_N}
[[ -n ${AG_BENCH_WORKERS:-} ]] && read -r -a WORKERS <<<"$AG_BENCH_WORKERS"
export AG_BENCH_RECORD_LAYER=${AG_BENCH_RECORD_LAYER:-libcrypto}
LG_CONNS=64 USERS=1000
REQ_PATH=/api/v1/namespaces/default/pods/web-0
BUILD=${AG_BENCH_BUILD:-build-bench}
AUTHGATE=${AUTHGATE:-$BUILD/authgate}
LOADGEN=$BUILD/loadgen
TLSFLOOR=$BUILD/tlsfloor
CLK_TCK=$(getconf CLK_TCK)
log() { echo "bench: $*" >&2; }

# ---- dependencies, build, keys -------------------------------------------------------
if ((deps)); then scripts/deps.sh bench >&2; fi
for tool in nginx haproxy node python3 curl openssl; do
  command -v "$tool" >/dev/null || { log "$tool missing: run scripts/deps.sh bench"; exit 1; }
done
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j2 --target loadgen tlsfloor >/dev/null
authgate_built=1
cmake --build "$BUILD" -j2 --target authgate >"$BUILD/bench-authgate-build.log" 2>&1 || authgate_built=0

d=$(mktemp -d /tmp/agbench.XXXXXX)
cleanup() { ag_stop_all; rm -rf "$d"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ag_make_cert "$d"
node bench/mkjwt.mjs "$d" "$USERS"
raw=$d/raw.jsonl
: >"$raw"

json_line() { python3 -c 'import json,sys; print(json.dumps(dict(zip(sys.argv[1::2], [json.loads(v) for v in sys.argv[2::2]]))))' "$@" >>"$raw"; }
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }

over_budget() { ((SECONDS > BUDGET)); }

# start_with_port NAME FN ARGS..: runs FN DIR PORT ARGS.. on a free port until the port
# answers (5 tries); sets PORT and PID. FN must set AG_LAST_PID.
start_with_port() {
  local name=$1 fn=$2 attempt
  shift 2
  for attempt in 1 2 3 4 5; do
    PORT=$(ag_free_port)
    "$fn" "$d" "$PORT" "$@"
    PID=$AG_LAST_PID
    if ag_wait_port "$PORT" 60 && kill -0 "$PID" 2>/dev/null; then return 0; fi
    ag_stop_pid "$PID"
    if ((attempt >= 2)) && ! grep -qi "address already in use" "$d"/*.out "$d"/*.log 2>/dev/null; then
      return 1 # it fails for another reason than a port taken meanwhile
    fi
  done
  return 1
}

# ---- upstream ---------------------------------------------------------------------------
start_with_port upstream peer_upstream_start || { log "upstream did not start: $(tail -3 "$d"/upstream.error.log)"; exit 1; }
UP_PORT=$PORT UP_PID=$PID
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UP_PORT$REQ_PATH")
[[ $code == 200 ]] || { log "upstream answers $code"; exit 1; }

declare -A URL PIDS TOKENS SCRAPER LOGFILE
# start_target NAME WORKERS: starts it, runs its preflight; returns 1 (with a SKIP record) if
# it cannot be measured.
start_target() {
  local t=$1 w=$2 why
  case $t in
    direct)
      URL[$t]="http://127.0.0.1:$UP_PORT$REQ_PATH" PIDS[$t]=$UP_PID TOKENS[$t]=$d/tokens.txt
      return 0 ;;
    nginx)
      start_with_port nginx peer_nginx_start "$w" "$UP_PORT" || { skip "$t" "$w" "nginx did not start"; return 1; }
      TOKENS[$t]=$d/tokens.txt LOGFILE[$t]=$d/nginx-w$w.access.log ;;
    haproxy)
      start_with_port haproxy peer_haproxy_start "$w" "$UP_PORT" || { skip "$t" "$w" "haproxy did not start: $(tail -2 "$d/haproxy-w$w.out")"; return 1; }
      TOKENS[$t]=$d/tokens.txt LOGFILE[$t]=$d/haproxy-w$w.access.log ;;
    authgate-*)
      local variant=${t#authgate-}
      if ((!authgate_built)) || [[ ! -x $AUTHGATE ]]; then
        skip "$t" "$w" "SKIP: authgate serve not ready (build failed: $(tail -1 "$BUILD/bench-authgate-build.log"))"; return 1
      fi
      if ! start_with_port "$t" peer_authgate_start "$w" "$UP_PORT" "$variant"; then
        why=$(tail -1 "$AG_LAST_LOG" 2>/dev/null | cut -c1-200)
        skip "$t" "$w" "SKIP: authgate serve not ready (${why:-exited without a message})"; return 1
      fi
      TOKENS[$t]=$d/tokens.txt
      [[ $variant == azure ]] && TOKENS[$t]=$d/tokens_azure.txt
      [[ $variant == prod ]] && LOGFILE[$t]=$d/audit-w$w.log ;;
  esac
  URL[$t]="https://127.0.0.1:$PORT$REQ_PATH" PIDS[$t]=$PID
  # preflight: HAProxy and every authgate target must authenticate for real
  if [[ $t == haproxy || $t == authgate-rbac || $t == authgate-cold || $t == authgate-prod ]]; then
    head -1 "${TOKENS[$t]}" >"$d/pf-good.txt"
    if ! why=$(authgate_preflight "${URL[$t]}" "$d/pf-good.txt" user-1 "$d"); then
      [[ $t == haproxy ]] && skip "$t" "$w" "preflight failed: $why" ||
        skip "$t" "$w" "SKIP: authgate serve not ready (preflight: $why)"
      ag_stop_pid "$PID"; return 1
    fi
  elif [[ $t == authgate-azure ]]; then
    head -1 "${TOKENS[$t]}" >"$d/pf-good.txt"
    local first_oid
    first_oid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_oid"])' "$d/claims.json")
    if ! why=$(authgate_preflight "${URL[$t]}" "$d/pf-good.txt" "$first_oid" "$d"); then
      skip "$t" "$w" "SKIP: authgate serve not ready (preflight: $why)"; ag_stop_pid "$PID"; return 1
    fi
  else
    code=$(curl -sk -o /dev/null -w '%{http_code}' "${URL[$t]}")
    [[ $code == 200 ]] || { skip "$t" "$w" "preflight: answered $code"; ag_stop_pid "$PID"; return 1; }
  fi
  if [[ $t != direct ]]; then # what a default OpenSSL client (s_client) negotiates with it
    local info
    info=$(echo | timeout 5 openssl s_client -brief -connect "127.0.0.1:$PORT" 2>&1 |
      awk -F': ' '/^Protocol version/ { v = $2 } /^Ciphersuite/ { c = $2 } END { print v, c }')
    json_line kind '"tls"' workers "$w" target "$(jstr "$t")" negotiated "$(jstr "$info")"
  fi
  if [[ $t == authgate-cold ]]; then
    [[ -f $d/tokens_cold.txt ]] || node bench/mkjwt.mjs "$d" --cold "$COLD_N"
    TOKENS[$t]=$d/tokens_cold.txt
  fi
  [[ $t == authgate-prod ]] && start_scraper "$t" "$w"
  return 0
}

# authgate-prod: /metrics scraped once a second while the target lives (bounded: at most
# the run's budget), as a Prometheus server would; a scrape that fails is recorded.
start_scraper() {
  local t=$1 w=$2 url
  url="http://127.0.0.1:$(cat "$d/admin-port")/metrics"
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url") || true
  [[ $code == 200 ]] || log "$t: /metrics answered $code"
  (
    for ((i = 0; i < BUDGET + 120; i++)); do
      curl -s -o /dev/null --max-time 2 "$url" || echo "scrape failed" >>"$d/scrape-w$w.err"
      sleep 1
    done
  ) &
  SCRAPER[$t]=$!
  AG_PIDS+=("$!")
}

stop_target() { # TARGET
  local t=$1
  [[ -n ${SCRAPER[$t]:-} ]] && ag_stop_pid "${SCRAPER[$t]}"
  SCRAPER[$t]=""
  [[ $t == direct ]] || ag_stop_pid "${PIDS[$t]}"
}
skip() { log "$1 ($2 worker(s)): $3"; json_line kind '"skip"' workers "$2" target "$(jstr "$1")" reason "$(jstr "$3")"; }

target_pids() { ag_proc_tree "${PIDS[$1]}"; }

# ---- measurements -----------------------------------------------------------------------
# worker_reqs ADMIN_PORT: each worker's answered requests (authgate_worker_requests_total)
worker_reqs() {
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk '$1 ~ /^authgate_worker_requests_total[{]/ { printf "%s ", $2 }'
}

measure_rps() { # TARGET WORKERS SLICE: closed loop, CPU across the measured window only
  local t=$1 w=$2 r=$3 f=$d/rps-$1-$2-$3.json tls=() split0="" split1=""
  [[ ${URL[$t]} == https* ]] && tls=(--insecure --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256)
  # authgate-prod on several workers: how its requests were spread over them (warm-up too)
  [[ $t == authgate-prod && $w -gt 1 ]] && split0=$(worker_reqs "$(cat "$d/admin-port")")
  "$LOADGEN" --closed --duration "$SLICE_D" --warmup "$WARM" --connections "$LG_CONNS" \
    --timeout 5 --tokens "${TOKENS[$t]}" "${tls[@]}" --cpu-pids "$(target_pids "$t" | paste -sd,)" \
    --json "$f" --quiet "${URL[$t]}" >&2 || true
  [[ -s $f ]] || { log "loadgen --closed failed against $t"; return 0; }
  [[ -n $split0 ]] && split1=$(worker_reqs "$(cat "$d/admin-port")")
  python3 - "$f" "$w" "$r" "$t" "$split0" "$split1" >>"$raw" <<'PY'
import json, sys
f, w, r, t, s0, s1 = sys.argv[1:7]
d = json.load(open(f))
c = d["closed"]
n = d["completed"]
row = {"kind": "rps", "workers": int(w), "round": int(r), "target": t,
       "rps": d["achieved_rate"], "requests": n,
       "cpu_us_per_req": c["cpu_ticks"] * 1e6 / c["clk_tck"] / n if n else None,
       "non2xx": sum(d["non_2xx"].values()), "socket_errors": d["failed"]}
per = [int(b) - int(a) for a, b in zip(s0.split(), s1.split())]
if len(per) > 1 and sum(per) > 0:
    row["busiest_worker_share"] = max(per) / sum(per)
print(json.dumps(row))
PY
  log "w=$w slice $r $t: $(tail -1 "$raw" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f req/s, %.1f us CPU/req%s%s" % (d["rps"], d["cpu_us_per_req"] or 0, ", busiest worker %.0f%% of the requests" % (100 * d["busiest_worker_share"]) if "busiest_worker_share" in d else "", ", %d bad" % (d["non2xx"] + d["socket_errors"]) if d["non2xx"] + d["socket_errors"] else ""))')"
}

measure_lat() { # TARGET WORKERS SLICE RATE
  local t=$1 w=$2 r=$3 rate=$4 f=$d/lat-$1-$2-$3.json tls=()
  [[ ${URL[$t]} == https* ]] && tls=(--insecure --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256)
  "$LOADGEN" --rate "$rate" --duration "$SLICE_D" --warmup "$WARM" --connections "$LG_CONNS" \
    --timeout 5 --tokens "${TOKENS[$t]}" "${tls[@]}" --json "$f" --quiet "${URL[$t]}" >&2 || true
  [[ -s $f ]] || { log "loadgen failed against $t"; return 0; }
  python3 - "$f" "$w" "$r" "$t" >>"$raw" <<'PY'
import json, sys
f, w, r, t = sys.argv[1:5]
d = json.load(open(f))
l = d["latency_us"]["from_intended"]
print(json.dumps({"kind": "lat", "workers": int(w), "round": int(r), "target": t,
                  "rate": d["rate"], "p50": l["p50"], "p99": l["p99"], "p99_9": l["p99_9"],
                  "p99_99": l["p99_99"], "max": l["max"], "failed": d["failed"],
                  "non2xx": sum(d["non_2xx"].values()), "achieved_rate": d["achieved_rate"]}))
PY
  log "w=$w slice $r $t at $rate/s: $(tail -1 "$raw" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("p50 %.0f p99 %.0f p99.9 %.0f us, %d failed" % (d["p50"], d["p99"], d["p99_9"], d["failed"]))')"
}

# Memory per idle keep-alive TLS connection: N connections each answered one request (with
# one user's token), then left idle for 3 s before the target's RSS is read.
measure_idle() { # TARGET WORKERS
  local t=$1 w=$2 pids base after lgpid kib n=$IDLE_N
  # HAProxy reserves two descriptors per connection of its maxconn and refuses to start
  # when the hard fd limit (20000 here) is below that: it is measured at 9,900.
  [[ $t == haproxy ]] && ((n > 9900)) && n=9900
  pids=$(target_pids "$t")
  base=$(ag_mem_kb VmRSS $pids)
  # one user: the token cache is per user, not per connection (its entries would count here)
  head -1 "${TOKENS[$t]}" >"$d/hold-token.txt"
  "$LOADGEN" --hold "$n" --hold-request --hold-time 90 --tokens "$d/hold-token.txt" --insecure \
    --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 "${URL[$t]}" >"$d/hold.out" 2>"$d/hold.err" &
  lgpid=$!
  for ((i = 0; i < 1200; i++)); do
    grep -q '^READY' "$d/hold.out" 2>/dev/null && break
    kill -0 "$lgpid" 2>/dev/null || break
    sleep 0.05
  done
  if ! grep -q "^READY $n FAILED 0" "$d/hold.out" 2>/dev/null; then
    log "idle connections to $t: $(cat "$d/hold.out" "$d/hold.err" | tail -2)"
    ag_stop_pid "$lgpid"; wait "$lgpid" 2>/dev/null || true
    return 0
  fi
  sleep 3
  after=$(ag_mem_kb VmRSS $(target_pids "$t"))
  ag_stop_pid "$lgpid"; wait "$lgpid" 2>/dev/null || true
  kib=$(python3 -c "print(($after - $base) / $n)")
  local layer='"-"' # OpenSSL peers: no record layer of mbedTLS's, no floor
  [[ $t == authgate* ]] && layer=$(jstr "$AG_BENCH_RECORD_LAYER")
  json_line kind '"idle"' workers "$w" target "$(jstr "$t")" n "$n" kib_per_conn "$kib" \
    record_layer "$layer"
  log "w=$w $t: $(printf '%.1f' "$kib") KiB per idle TLS connection (n=$n)"
  sleep 1 # let the target tear the connections down before the next one is measured
}

rotated() { # ROUND NAMES...: the names rotated left by ROUND
  local r=$1
  shift
  local a=("$@") n=$#
  for ((i = 0; i < n; i++)); do echo "${a[(i + r) % n]}"; done
}

median_rps() { # TARGET WORKERS
  python3 - "$raw" "$1" "$2" <<'PY'
import json, statistics, sys
raw, t, w = sys.argv[1], sys.argv[2], int(sys.argv[3])
v = [r["rps"] for r in map(json.loads, open(raw)) if r["kind"] == "rps" and r["target"] == t and r["workers"] == w]
print(int(statistics.median(v)) if v else 0)
PY
}

# ---- the run ------------------------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
wanted=()
for t in "${ALL_TARGETS[@]}"; do
  [[ -z $only || ",$only," == *",$t,"* ]] && wanted+=("$t")
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "$mode mode: targets ${wanted[*]}; workers ${WORKERS[*]}; budget ${BUDGET}s"
# mbedTLS's own memory per server session and record-crypto cost (the floor beside which
# the idle memory of the authgate targets is reported)
if "$TLSFLOOR" --sessions 200 --json "$d/floor.json" >"$d/floor.txt" 2>&1; then
  json_line kind '"floor"' floor "$(cat "$d/floor.json")"
  log "$(grep 'memory floor' "$d/floor.txt")"
else
  log "tlsfloor failed: $(tail -1 "$d/floor.txt")"
fi
# lines of a target's log, rotated backups (FILE.1, ...) included
log_lines() { [[ -n ${LOGFILE[$1]:-} && -f ${LOGFILE[$1]} ]] && cat "${LOGFILE[$1]}"* | wc -l || echo 0; }
metric() { # ADMIN_PORT NAME: a counter's value from /metrics (0 when absent)
  curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
for w in "${WORKERS[@]}"; do
  active=()
  for t in "${wanted[@]}"; do
    start_target "$t" "$w" && active+=("$t")
  done
  ((${#active[@]})) || continue
  for ((r = 0; r < SLICES; r++)); do
    for t in $(rotated "$r" "${active[@]}"); do
      over_budget && { log "time budget reached: skipping the rest of the throughput slices"; break 2; }
      measure_rps "$t" "$w" "$r"
    done
  done
  ref=nginx
  [[ " ${active[*]} " == *" nginx "* ]] || ref=${active[0]}
  rate=$(($(median_rps "$ref" "$w") / 2))
  ((rate > 0)) || rate=1000
  for ((r = 0; r < SLICES; r++)); do
    for t in $(rotated "$r" "${active[@]}"); do
      over_budget && { log "time budget reached: skipping the rest of the latency slices"; break 2; }
      measure_lat "$t" "$w" "$r" "$rate"
    done
  done
  sleep 1.5 # buffered access logs reach their files (nginx flushes every second)
  for t in "${active[@]}"; do
    [[ -n ${LOGFILE[$t]:-} ]] &&
      json_line kind '"log"' workers "$w" target "$(jstr "$t")" lines "$(log_lines "$t")" file "$(jstr "$(basename "${LOGFILE[$t]}")")"
    if [[ $t == authgate-prod ]]; then # what the audit queue took and what it dropped
      ap=$(cat "$d/admin-port")
      json_line kind '"audit"' workers "$w" target "$(jstr "$t")" \
        events "$(metric "$ap" authgate_audit_events_total)" dropped "$(metric "$ap" authgate_audit_dropped_total)"
    fi
  done
  for t in "${active[@]}"; do
    json_line kind '"mem"' workers "$w" target "$(jstr "$t")" peak_rss_kb "$(ag_mem_kb VmHWM $(target_pids "$t"))"
  done
  for t in "${active[@]}"; do
    # direct is plain HTTP; azure and cold are rbac's gateway with other tokens and policy
    [[ $t == direct || $t == authgate-cold || $t == authgate-azure ]] && continue
    over_budget && { log "time budget reached: skipping idle-connection memory"; break; }
    # on a fresh start: memory the slices freed is resident and would take the new
    # connections' allocations without the RSS growing, for every target
    stop_target "$t"
    start_target "$t" "$w" || continue
    measure_idle "$t" "$w"
  done
  for t in "${active[@]}"; do stop_target "$t"; done
done

# ---- report -------------------------------------------------------------------------------
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || commit="$commit+dirty"
python3 - "$d/meta.json" <<PY
import json, sys
json.dump({"mode": "$mode", "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "commit": "$commit",
           "cpus": $(nproc), "cpu_model": "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)",
           "kernel": "$(uname -r)", "slices": $SLICES, "slice_seconds": $SLICE_D,
           "warmup_seconds": $WARM, "loadgen_connections": $LG_CONNS, "idle_connections": $IDLE_N, "users": $USERS,
           "nginx": "$(nginx -v 2>&1 | cut -d/ -f2)", "haproxy": "$(haproxy -v | awk 'NR==1 { print $3 }')",
           "loadavg_start": "$load_start", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
           "elapsed_s": $SECONDS}, open(sys.argv[1], "w"))
PY
python3 bench/report.py "$raw" "$d/meta.json" "$out_dir/bench-$mode-$stamp.json"
log "JSON: $out_dir/bench-$mode-$stamp.json (${SECONDS}s)"
