#!/usr/bin/env bash
# Two gateway binaries against nginx in one run (issue 17, two workers): nginx (bench/run.sh's
# peer, with its access log), authgate built from the old code and from the new, the same
# authgate variant (bench/peers/authgate.sh: prod by default) and worker count each, all
# running at once; per slice `loadgen --closed` (64 keep-alive TLS connections) against each
# in rotated order. Per slice: req/s, CPU us per request and the cores used (req/s x CPU/req)
# of each target's processes, context switches per request (every thread, warm-up included)
# and, for the gateways, the busiest thread's share of the CPU of the two busiest threads
# (the workers; when one worker idles, the second is the audit writer). Prints the medians
# of the per-slice ratios to nginx [IQR; min-max] and of new/old. Loopback only, bounded,
# every process it starts is stopped on exit.
#   bench/ab.sh --old BIN --new BIN [--workers 2] [--slices 12] [--seconds 2] [--variant prod]
#   (the build in $AG_BENCH_BUILD, default build-bench, provides loadgen)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/peers/upstream.sh
source bench/peers/nginx.sh
source bench/peers/authgate.sh
OLD="" NEW="" W=2 SLICES=12 SECS=2 VARIANT=prod
while (($#)); do
  case $1 in
    --old) OLD=${2:?}; shift ;;
    --new) NEW=${2:?}; shift ;;
    --workers) W=${2:?}; shift ;;
    --slices) SLICES=${2:?}; shift ;;
    --seconds) SECS=${2:?}; shift ;;
    --variant) VARIANT=${2:?}; shift ;;
    *) echo "usage: bench/ab.sh --old BIN --new BIN [--workers N] [--slices N] [--seconds S] [--variant prod|rbac]" >&2; exit 2 ;;
  esac
  shift
done
[[ -x $OLD && -x $NEW ]] || { echo "ab.sh: --old and --new must be authgate binaries" >&2; exit 2; }
((W >= 1 && W <= 8 && SLICES >= 1 && SLICES <= 60 && SECS >= 1 && SECS <= 10)) ||
  { echo "ab.sh: --workers 1..8, --slices 1..60, --seconds 1..10" >&2; exit 2; }
LOADGEN=${AG_BENCH_BUILD:-build-bench}/loadgen
[[ -x $LOADGEN ]] || { echo "ab.sh: $LOADGEN missing (build the loadgen target)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
d=$(mktemp -d /tmp/agab.XXXXXX)
trap 'ag_stop_all; rm -rf "$d"' EXIT
mkdir -p "$d/old" "$d/new" "$d/nginx"
ag_make_cert "$d/old"
node bench/mkjwt.mjs "$d/old" 1000 >/dev/null
authgate_policy_files "$d/old"
cp -r "$d/old/." "$d/new/" # same keys, tokens and policy; own config, audit file, admin port
cp -r "$d/old/." "$d/nginx/"
up=$(ag_free_port)
peer_upstream_start "$d/nginx" "$up"
ag_wait_port "$up" 60 || { echo "ab.sh: upstream did not start" >&2; exit 1; }
declare -A TPORT TPID
TPORT[nginx]=$(ag_free_port)
peer_nginx_start "$d/nginx" "${TPORT[nginx]}" "$W" "$up"
TPID[nginx]=$AG_LAST_PID
for t in old new; do
  TPORT[$t]=$(ag_free_port)
  bin=$OLD
  [[ $t == new ]] && bin=$NEW
  AUTHGATE=$bin peer_authgate_start "$d/$t" "${TPORT[$t]}" "$W" "$up" "$VARIANT"
  TPID[$t]=$AG_LAST_PID
done
for t in nginx old new; do
  ag_wait_port "${TPORT[$t]}" 200 || { echo "ab.sh: $t did not start" >&2; exit 1; }
done

# ctx_switches PID: voluntary + involuntary context switches of every thread of PID's tree
ctx_switches() {
  local p n=0 v
  for p in $(ag_proc_tree "$1"); do
    v=$(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }')
    n=$((n + v))
  done
  echo "$n"
}
# thread_ticks PID: "TID utime+stime" per thread
thread_ticks() {
  local t st f
  for t in /proc/"$1"/task/*; do
    st=$(cat "$t/stat" 2>/dev/null) || continue
    st=${st##*) }
    read -r -a f <<<"$st"
    echo "${t##*/} $((f[11] + f[12]))"
  done
}

raw=$d/raw.jsonl
: >"$raw"
order=(nginx old new)
for ((r = 0; r < SLICES; r++)); do
  for ((k = 0; k < 3; k++)); do
    t=${order[$(((r + k) % 3))]}
    thread_ticks "${TPID[$t]}" >"$d/t0"
    cs0=$(ctx_switches "${TPID[$t]}")
    "$LOADGEN" --closed --duration "$SECS" --warmup 0.5 --connections 64 --timeout 5 \
      --tokens "$d/old/tokens.txt" --insecure --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 \
      --cpu-pids "$(ag_proc_tree "${TPID[$t]}" | paste -sd,)" --json "$d/o.json" --quiet \
      "https://127.0.0.1:${TPORT[$t]}/api/v1/namespaces/default/pods/web-0" >&2 || true
    cs1=$(ctx_switches "${TPID[$t]}")
    thread_ticks "${TPID[$t]}" >"$d/t1"
    python3 - "$d/o.json" "$t" "$r" "$d/t0" "$d/t1" "$((cs1 - cs0))" >>"$raw" <<'PY'
import json, sys
f, t, r, a, b, cs = sys.argv[1:7]
d = json.load(open(f))
c, n = d["closed"], d["completed"]
row = {"t": t, "r": int(r), "rps": d["achieved_rate"],
       "cpu": c["cpu_ticks"] * 1e6 / c["clk_tck"] / n if n else None,
       "cs_per_req": int(cs) / (d["achieved_rate"] * (c["window_s"] + 0.5)) if n else None}
t0 = dict(map(int, l.split()) for l in open(a))
busy = sorted((v - t0.get(k, 0) for k, v in (map(int, l.split()) for l in open(b))), reverse=True)
if t != "nginx" and sum(busy[:2]):
    row["busiest_share"] = busy[0] / sum(busy[:2])
print(json.dumps(row))
PY
  done
done
python3 - "$raw" "$W" "$VARIANT" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
w, variant = sys.argv[2:4]
by = {}
for x in rows:
    by.setdefault(x["r"], {})[x["t"]] = x
def q(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return "-"
    qs = st.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return f"{st.median(v):.2f} [{qs[0]:.2f}-{qs[2]:.2f}; {v[0]:.2f}-{v[-1]:.2f}]"
def ratio(t, u, f):
    return [f(s[t]) / f(s[u]) for s in by.values() if t in s and u in s and f(s[t]) and f(s[u])]
rps = lambda x: x["rps"]
cpu = lambda x: x["cpu"]
cores = lambda x: x["rps"] * x["cpu"] if x["cpu"] else None
print(f"authgate-{variant} old vs new against nginx, {w} worker(s) each, {len(by)} slices; "
      "median [IQR; min-max] of the per-slice ratios\n")
print("| target | req/s vs nginx | CPU/req vs nginx | cores used vs nginx | busiest thread's share "
      "| context switches/req |")
print("|---|---|---|---|---|---|")
for t in ("old", "new"):
    print(f"| {t} | {q(ratio(t, 'nginx', rps))} | {q(ratio(t, 'nginx', cpu))} | "
          f"{q(ratio(t, 'nginx', cores))} | {q([s[t].get('busiest_share') for s in by.values() if t in s])} | "
          f"{q([s[t]['cs_per_req'] for s in by.values() if t in s])} |")
print(f"| nginx | - | - | - | - | {q([s['nginx']['cs_per_req'] for s in by.values() if 'nginx' in s])} |")
print(f"\nnew/old in the same slice: req/s {q(ratio('new', 'old', rps))}, "
      f"CPU/req {q(ratio('new', 'old', cpu))}")
for t in ("nginx", "old", "new"):
    print(f"{t}: req/s median {st.median(x['rps'] for x in rows if x['t'] == t):,.0f}, "
          f"CPU us/req median {st.median(x['cpu'] for x in rows if x['t'] == t and x['cpu']):.1f}")
PY
