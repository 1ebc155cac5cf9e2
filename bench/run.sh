#!/usr/bin/env bash
# Side-by-side benchmark (issue 8): the same workload against the upstream directly, nginx
# (TLS reverse proxy, no auth), HAProxy (TLS + RS256 jwt_verify on every request) and the
# authgate targets, in rotating order over several rounds, at equal worker counts. Reports
# closed-loop req/s (wrk), open-loop latency at 50% of nginx's peak (bench/loadgen), CPU us
# per request of each target's own processes (/proc utime+stime), peak RSS (VmHWM) and
# memory per idle TLS connection; a Markdown table on stdout and JSON under bench/out/.
#   bench/run.sh [--quick | --full] [--targets a,b,..] [--no-deps] [--out DIR]
#   (env AG_BENCH_ROUNDS, AG_BENCH_WRK_SECONDS, AG_BENCH_LAT_SECONDS, AG_BENCH_IDLE_N override)
# quick (default): 1 worker, 3 rounds, < 3 minutes; full: 1 and all cores, < 15 minutes.
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
    --out) out_dir=${2:?}; shift ;;
    *) echo "usage: bench/run.sh [--quick|--full] [--targets a,b] [--no-deps] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
ALL_TARGETS=(direct nginx haproxy authgate-rbac authgate-azure authgate-cold)
if [[ $mode == quick ]]; then
  ROUNDS=3 WRK_D=3 LAT_D=2 LAT_WARM=1 IDLE_N=1000 WORKERS=(1) BUDGET=175 COLD_N=20000
else
  # 9500 idle connections, not 10,000: the hard fd limit here is 20000 and HAProxy
  # reserves two descriptors per connection of its maxconn.
  ROUNDS=3 WRK_D=8 LAT_D=8 LAT_WARM=2 IDLE_N=9500 WORKERS=(1 "$(nproc)") BUDGET=880 COLD_N=100000
fi
# Overrides for experiments (the defaults above are what the table's header states).
ROUNDS=${AG_BENCH_ROUNDS:-$ROUNDS} WRK_D=${AG_BENCH_WRK_SECONDS:-$WRK_D}
LAT_D=${AG_BENCH_LAT_SECONDS:-$LAT_D} IDLE_N=${AG_BENCH_IDLE_N:-$IDLE_N}
WRK_CONNS=64 LG_CONNS=64 USERS=1000
REQ_PATH=/api/v1/namespaces/default/pods/web-0
BUILD=${AG_BENCH_BUILD:-build-bench}
AUTHGATE=${AUTHGATE:-$BUILD/authgate}
LOADGEN=$BUILD/loadgen
CLK_TCK=$(getconf CLK_TCK)
log() { echo "bench: $*" >&2; }

# ---- dependencies, build, keys -------------------------------------------------------
if ((deps)); then scripts/deps.sh bench >&2; fi
for tool in wrk nginx haproxy node python3 curl openssl; do
  command -v "$tool" >/dev/null || { log "$tool missing: run scripts/deps.sh bench"; exit 1; }
done
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j2 --target loadgen >/dev/null
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

# wrk script: one Authorization header per request, cycling through a tokens file.
wrk_script() { # TOKENS_FILE -> prints script path
  local f=$1 s="$d/wrk-$(basename "$1" .txt).lua"
  [[ -f $s ]] || cat >"$s" <<EOF
local toks, i = {}, 0
for line in io.lines("$f") do if #line > 0 then toks[#toks + 1] = line end end
request = function()
  i = i % #toks + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. toks[i] })
end
EOF
  echo "$s"
}

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

declare -A URL PIDS TOKENS
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
      TOKENS[$t]=$d/tokens.txt ;;
    haproxy)
      start_with_port haproxy peer_haproxy_start "$w" "$UP_PORT" || { skip "$t" "$w" "haproxy did not start: $(tail -2 "$d/haproxy-w$w.out")"; return 1; }
      TOKENS[$t]=$d/tokens.txt ;;
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
      [[ $variant == azure ]] && TOKENS[$t]=$d/tokens_azure.txt ;;
  esac
  URL[$t]="https://127.0.0.1:$PORT$REQ_PATH" PIDS[$t]=$PID
  # preflight: HAProxy and every authgate target must authenticate for real
  if [[ $t == haproxy || $t == authgate-rbac || $t == authgate-cold ]]; then
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
  if [[ $t != direct ]]; then # what a default OpenSSL client (wrk) negotiates with it
    local info
    info=$(echo | timeout 5 openssl s_client -brief -connect "127.0.0.1:$PORT" 2>&1 |
      awk -F': ' '/^Protocol version/ { v = $2 } /^Ciphersuite/ { c = $2 } END { print v, c }')
    json_line kind '"tls"' workers "$w" target "$(jstr "$t")" negotiated "$(jstr "$info")"
  fi
  if [[ $t == authgate-cold ]]; then
    [[ -f $d/tokens_cold.txt ]] || node bench/mkjwt.mjs "$d" --cold "$COLD_N"
    TOKENS[$t]=$d/tokens_cold.txt
  fi
}
skip() { log "$1 ($2 worker(s)): $3"; json_line kind '"skip"' workers "$2" target "$(jstr "$1")" reason "$(jstr "$3")"; }

target_pids() { ag_proc_tree "${PIDS[$1]}"; }

# ---- measurements -----------------------------------------------------------------------
measure_rps() { # TARGET WORKERS ROUND
  local t=$1 w=$2 r=$3 pids c0 c1 out reqs rps non2xx sockerr cpu
  pids=$(target_pids "$t")
  c0=$(ag_cpu_ticks $pids)
  out=$(wrk -t1 -c"$WRK_CONNS" -d"${WRK_D}s" --timeout 5s -s "$(wrk_script "${TOKENS[$t]}")" "${URL[$t]}" 2>&1) || true
  c1=$(ag_cpu_ticks $pids)
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' <<<"$out")
  sockerr=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  if [[ -z $reqs || -z $rps || $reqs == 0 ]]; then
    log "wrk failed against $t: $(tail -2 <<<"$out")"; return 0
  fi
  cpu=$(python3 -c "print(($c1 - $c0) * 1e6 / $CLK_TCK / $reqs)")
  if [[ $t == authgate-cold ]] && ((reqs > $(wc -l <"${TOKENS[$t]}"))); then
    log "note: $reqs requests over $(wc -l <"${TOKENS[$t]}") distinct tokens: the cold figure includes cache hits"
  fi
  json_line kind '"rps"' workers "$w" round "$r" target "$(jstr "$t")" rps "$rps" requests "$reqs" \
    cpu_us_per_req "$cpu" non2xx "${non2xx:-0}" socket_errors "${sockerr:-0}"
  log "w=$w round $r $t: $rps req/s, $(printf '%.1f' "$cpu") us CPU/req${non2xx:+, $non2xx non-2xx}"
}

measure_lat() { # TARGET WORKERS ROUND RATE
  local t=$1 w=$2 r=$3 rate=$4 f=$d/lat-$1-$2-$3.json tls=()
  [[ ${URL[$t]} == https* ]] && tls=(--insecure --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256)
  "$LOADGEN" --rate "$rate" --duration "$LAT_D" --warmup "$LAT_WARM" --connections "$LG_CONNS" \
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
  log "w=$w round $r $t at $rate/s: $(tail -1 "$raw" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("p50 %.0f p99 %.0f p99.9 %.0f us, %d failed" % (d["p50"], d["p99"], d["p99_9"], d["failed"]))')"
}

measure_idle() { # TARGET WORKERS
  local t=$1 w=$2 pids base after lgpid kib n=$IDLE_N
  pids=$(target_pids "$t")
  base=$(ag_mem_kb VmRSS $pids)
  "$LOADGEN" --hold "$n" --hold-time 60 --insecure "${URL[$t]}" >"$d/hold.out" 2>"$d/hold.err" &
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
  sleep 1
  after=$(ag_mem_kb VmRSS $(target_pids "$t"))
  ag_stop_pid "$lgpid"; wait "$lgpid" 2>/dev/null || true
  kib=$(python3 -c "print(($after - $base) / $n)")
  json_line kind '"idle"' workers "$w" target "$(jstr "$t")" n "$n" kib_per_conn "$kib"
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
for w in "${WORKERS[@]}"; do
  active=()
  for t in "${wanted[@]}"; do
    start_target "$t" "$w" && active+=("$t")
  done
  ((${#active[@]})) || continue
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${active[@]}"); do
      over_budget && { log "time budget reached: skipping the rest of the throughput rounds"; break 2; }
      measure_rps "$t" "$w" "$r"
      sleep 0.3
    done
  done
  ref=nginx
  [[ " ${active[*]} " == *" nginx "* ]] || ref=${active[0]}
  rate=$(($(median_rps "$ref" "$w") / 2))
  ((rate > 0)) || rate=1000
  for ((r = 0; r < ROUNDS; r++)); do
    for t in $(rotated "$r" "${active[@]}"); do
      over_budget && { log "time budget reached: skipping the rest of the latency rounds"; break 2; }
      measure_lat "$t" "$w" "$r" "$rate"
      sleep 0.3
    done
  done
  for t in "${active[@]}"; do
    json_line kind '"mem"' workers "$w" target "$(jstr "$t")" peak_rss_kb "$(ag_mem_kb VmHWM $(target_pids "$t"))"
  done
  for t in "${active[@]}"; do
    [[ $t == direct || $t == authgate-cold ]] && continue # plain HTTP; same gateway as rbac
    over_budget && { log "time budget reached: skipping idle-connection memory"; break; }
    measure_idle "$t" "$w"
  done
  for t in "${active[@]}"; do
    [[ $t == direct ]] || ag_stop_pid "${PIDS[$t]}"
  done
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
           "kernel": "$(uname -r)", "rounds": $ROUNDS, "wrk_seconds": $WRK_D,
           "wrk_connections": $WRK_CONNS, "lat_seconds": $LAT_D, "lat_warmup": $LAT_WARM,
           "loadgen_connections": $LG_CONNS, "idle_connections": $IDLE_N, "users": $USERS,
           "nginx": "$(nginx -v 2>&1 | cut -d/ -f2)", "haproxy": "$(haproxy -v | awk 'NR==1 { print $3 }')",
           "loadavg_start": "$load_start", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
           "elapsed_s": $SECONDS}, open(sys.argv[1], "w"))
PY
python3 bench/report.py "$raw" "$d/meta.json" "$out_dir/bench-$mode-$stamp.json"
log "JSON: $out_dir/bench-$mode-$stamp.json (${SECONDS}s)"
