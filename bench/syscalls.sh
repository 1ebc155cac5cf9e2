#!/usr/bin/env bash
# Syscalls and context switches per request (issue 17): nginx (bench/run.sh's peer, with its
# access log) and the authgate targets of bench/peers/authgate.sh (rbac, prod: production
# settings with the audit writer thread and /metrics scraped once a second), 1 worker each,
# driven by bench/loadgen --closed over 64 keep-alive TLS connections. `perf stat` counts
# every syscall tracepoint (syscalls:sys_enter_*) and the context switches and CPU
# migrations of the target's processes and threads, enabled by loadgen exactly while its
# measured window is open (--window-ctl), and the counts are divided by the requests
# completed in that window. Prints Markdown tables: syscalls per request by name, then
# context switches per request by thread. Loopback only, bounded, every process it starts
# is stopped on exit.
#   bench/syscalls.sh [--targets nginx,authgate-rbac,authgate-prod] [--seconds S]
#   (needs perf with tracepoints, and the build in $AG_BENCH_BUILD, default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/peers/upstream.sh
source bench/peers/nginx.sh
source bench/peers/authgate.sh
TARGETS=nginx,authgate-rbac,authgate-prod SECS=5 CONNS=100
while (($#)); do
  case $1 in
    --targets) TARGETS=${2:?}; shift ;;
    --seconds) SECS=${2:?}; shift ;;
    --conns) CONNS=${2:?}; shift ;;
    *) echo "usage: bench/syscalls.sh [--targets a,b] [--seconds S] [--conns N]" >&2; exit 2 ;;
  esac
  shift
done
((SECS >= 1 && SECS <= 60)) || { echo "syscalls.sh: --seconds in 1..60" >&2; exit 2; }
((CONNS >= 1 && CONNS <= 1000)) || { echo "syscalls.sh: --conns in 1..1000" >&2; exit 2; }
BUILD=${AG_BENCH_BUILD:-build-bench}
AUTHGATE=${AUTHGATE:-$BUILD/authgate}
LOADGEN=$BUILD/loadgen
command -v perf >/dev/null || { echo "syscalls.sh: perf missing (linux-perf)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true # one perf descriptor per event and thread
d=$(mktemp -d /tmp/agsyscalls.XXXXXX)
trap 'ag_stop_all; rm -rf "$d"' EXIT
peer_fixture "$d"
up=$UP

start() { # TARGET PORT: sets gw (the pid whose process tree is measured)
  case $1 in
    nginx) peer_nginx_start "$d" "$2" 1 "$up" ;;
    authgate-*) peer_authgate_start "$d" "$2" 1 "$up" "${1#authgate-}" ;;
    *) echo "syscalls.sh: unknown target $1" >&2; exit 2 ;;
  esac
  gw=$AG_LAST_PID
  ag_wait_port "$2" 200 || { echo "$1 did not start" >&2; exit 1; }
}
scrape() { # /metrics once a second, as bench/run.sh does for authgate-prod
  local url="http://127.0.0.1:$(cat "$d/admin-port")/metrics"
  (for ((i = 0; i < SECS + 10; i++)); do
    curl -s -o /dev/null --max-time 2 "$url" || true
    sleep 1
  done) &
  AG_PIDS+=("$!")
  scraper=$!
}
lg() { # URL JSON [loadgen args..]
  local url=$1 json=$2
  shift 2
  "$LOADGEN" --closed --connections 64 --insecure --timeout 5 \
    --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 --tokens "$d/tokens.txt" \
    --json "$json" --quiet "$@" "$url"
}

# perf_start TARGET PASS PIDS PERF_EVENTS..: perf stat on PIDS, its events disabled until
# "enable" reaches the FIFO $ctl; returns once perf is ready for it (perf answers a command
# only once its events are open: seconds for 360 tracepoints per thread).
perf_start() {
  local t=$1 pass=$2 pids=$3 a=""
  shift 3
  ctl=$d/ctl-$t-$pass
  mkfifo "$ctl" "$d/ack-$t-$pass"
  perf stat -D -1 --control "fifo:$ctl,$d/ack-$t-$pass" --per-thread -x';' \
    -o "$d/perf-$t-$pass.txt" "$@" -p "$pids" 2>"$d/perf-$t-$pass.err" &
  perfpid=$!
  exec 4<"$d/ack-$t-$pass"
  echo disable >"$ctl"
  read -r -t 60 a <&4 || true
  [[ $a == ack ]] || { echo "syscalls.sh: perf did not start: $(tail -2 "$d/perf-$t-$pass.err")" >&2; exit 1; }
}
perf_stop() {
  sleep 0.2
  kill -INT "$perfpid"
  wait "$perfpid" || true
  exec 4<&-
}
measure() { # TARGET PASS URL PIDS PERF_EVENTS..: counted across loadgen's measured window
  local t=$1 pass=$2 url=$3 pids=$4
  shift 4
  perf_start "$t" "$pass" "$pids" "$@"
  lg "$url" "$d/run-$t-$pass.json" --duration "$SECS" --warmup 1 --cpu-pids "$pids" \
    --window-ctl "$ctl"
  perf_stop
}
# new_conns TARGET URL PIDS: CONNS requests by curl, each on a new TLS connection (a full
# handshake: curl keeps no session between runs), every syscall counted
new_conns() {
  local t=$1 url=$2 pids=$3 tok i
  tok=$(head -1 "$d/tokens.txt")
  perf_start "$t" conn "$pids" -e 'syscalls:sys_enter_*'
  echo enable >"$ctl"
  for ((i = 0; i < CONNS; i++)); do
    curl -sk -o /dev/null --max-time 5 -H "Authorization: Bearer $tok" "$url" || true
  done
  echo disable >"$ctl"
  perf_stop
}

IFS=, read -ra targets <<<"$TARGETS"
for t in "${targets[@]}"; do
  port=$(ag_free_port) scraper=""
  start "$t" "$port"
  [[ $t == authgate-prod ]] && scrape
  url="https://127.0.0.1:$port/api/v1/namespaces/default/pods/web-0"
  lg "$url" "$d/warm-$t.json" --duration 2 --warmup 0.5 # token cache, connections warm
  pids=$(ag_proc_tree "$gw" | paste -sd,)
  # pass 1: every syscall counted (360 tracepoints per thread slow each context switch, so
  # the CPU and context switches come from pass 2, which counts only those)
  measure "$t" sc "$url" "$pids" -e 'syscalls:sys_enter_*'
  measure "$t" cs "$url" "$pids" -e context-switches,cpu-migrations,page-faults \
    -e sched:sched_waking -e sched:sched_switch --filter 'prev_state == 0' # involuntary
  new_conns "$t" "$url" "$pids"
  for p in ${pids//,/ }; do # thread roles: main (tid = pid), then by CPU used
    for task in /proc/"$p"/task/*; do
      echo "$p ${task##*/} $(cut -d' ' -f14,15 "$task/stat" 2>/dev/null)"
    done
  done >"$d/threads-$t.txt"
  [[ -n $scraper ]] && ag_stop_pid "$scraper"
  ag_stop_pid "$gw"
done

python3 - "$d" "$CONNS" "${targets[@]}" <<'PY'
import collections, json, re, sys
d, conns, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def perf_counts(path):  # {(tid, event): count}; perf --per-thread -x';' lines: comm-tid;count;;event;..
    out = collections.Counter()
    for line in open(path):
        f = line.strip().split(";")
        if len(f) < 4 or not re.fullmatch(r"[\d.]+", f[1]):
            continue
        out[(int(f[0].rsplit("-", 1)[1]), f[3].split(":")[-1] if f[3].startswith("sched:") else f[3])] += float(f[1])
    return out

def roles(t):  # tid -> label: the busiest thread is the worker, tid = first pid the main thread
    rows = [l.split() for l in open(f"{d}/threads-{t}.txt") if len(l.split()) == 4]
    first = int(rows[0][0]) if rows else 0
    total = sum(int(r[2]) + int(r[3]) for r in rows) or 1
    ranked = sorted(rows, key=lambda r: -(int(r[2]) + int(r[3])))
    out = {}
    for k, (pid, tid, ut, st) in enumerate(ranked):
        share = (int(ut) + int(st)) * 100 / total
        name = "busiest" if k == 0 else f"#{k + 1} by CPU"
        if int(tid) == first:
            name += ", main" if pid == tid else ""
        elif pid == tid:
            name += ", process"
        out[int(tid)] = f"{name} ({share:.0f}% of CPU)"
    return out

print("| target | requests (pass 1 / 2) | req/s | CPU us/req | of which kernel | syscalls/req | context switches/req | of which preempted | migrations/req | wakeups of other tasks/req | page faults/req |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
per, thr = {}, {}
for t in targets:
    r1, r2 = (json.load(open(f"{d}/run-{t}-{p}.json")) for p in ("sc", "cs"))
    n1, n2 = r1["completed"], r2["completed"]
    c = r2["closed"]
    sc, cs = perf_counts(f"{d}/perf-{t}-sc.txt"), perf_counts(f"{d}/perf-{t}-cs.txt")
    per[t] = collections.Counter()
    for (tid, ev), v in sc.items():
        per[t][ev.replace("syscalls:sys_enter_", "")] += v / n1
    tot = lambda ev: sum(v for (tid, e), v in cs.items() if e == ev) / n2
    print(f"| {t} | {n1:,} / {n2:,} | {r2['achieved_rate']:,.0f} | {c['cpu_ticks'] * 1e6 / c['clk_tck'] / n2:.1f} | "
          f"{c['cpu_sys_ticks'] * 1e6 / c['clk_tck'] / n2:.1f} | "
          f"{sum(per[t].values()):.2f} | {tot('context-switches'):.3f} | {tot('sched_switch'):.3f} | {tot('cpu-migrations'):.3f} | {tot('sched_waking'):.3f} | {tot('page-faults'):.3f} |")
    names = roles(t)
    thr[t] = []
    for tid in sorted({tid for tid, _ in cs}, key=lambda x: names.get(x, "~")):
        v = [cs.get((tid, e), 0) / n2
             for e in ("context-switches", "sched_switch", "cpu-migrations", "sched_waking")]
        mine = {e.replace("syscalls:sys_enter_", ""): val / n1 for (ti, e), val in sc.items() if ti == tid}
        top = ", ".join(f"{k} {x:.3f}" for k, x in sorted(mine.items(), key=lambda kv: -kv[1]) if x >= 0.001)
        if v[0] or mine:
            thr[t].append((names.get(tid, f"tid {tid}"), sum(mine.values()), *v, top))
names = sorted({k for t in targets for k in per[t]}, key=lambda k: -max(per[t].get(k, 0) for t in targets))
print("\n| syscall per request | " + " | ".join(targets) + " |")
print("|---|" + "---:|" * len(targets))
for k in names:
    if max(per[t].get(k, 0) for t in targets) >= 0.0005:
        print(f"| {k} | " + " | ".join(f"{per[t].get(k, 0):.3f}" for t in targets) + " |")
conn = {t: collections.Counter() for t in targets}
for t in targets:
    for (tid, ev), v in perf_counts(f"{d}/perf-{t}-conn.txt").items():
        conn[t][ev.replace("syscalls:sys_enter_", "")] += v / conns
names = sorted({k for t in targets for k in conn[t]}, key=lambda k: -max(conn[t].get(k, 0) for t in targets))
print(f"\n| syscall per new TLS connection (curl, one request, {conns} connections) | " + " | ".join(targets) + " |")
print("|---|" + "---:|" * len(targets))
for k in names:
    if max(conn[t].get(k, 0) for t in targets) >= 0.05:
        print(f"| {k} | " + " | ".join(f"{conn[t].get(k, 0):.2f}" for t in targets) + " |")
print("| total | " + " | ".join(f"{sum(conn[t].values()):.2f}" for t in targets) + " |")
print("\n| target | thread | syscalls/req | context switches/req | preempted | migrations | wakeups | syscalls |")
print("|---|---|---:|---:|---:|---:|---:|---|")
for t in targets:
    for name, s, cs_, pre, mig, wk, top in thr[t]:
        print(f"| {t} | {name} | {s:.3f} | {cs_:.3f} | {pre:.3f} | {mig:.3f} | {wk:.3f} | {top} |")
PY
