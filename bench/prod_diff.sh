#!/usr/bin/env bash
# What each production setting costs per request (issue 17): authgate-prod against
# authgate-rbac and against prod with one setting taken back at a time (bench/peers/
# authgate.sh's prod-MOD variants, plus "1user": prod driven with one user's token, and
# "noscrape": prod whose /metrics nobody scrapes). Every gateway runs at once with 1 worker;
# each round measures each of them once, in an order rotated per round, with
# `loadgen --closed` over 64 keep-alive TLS connections for SECONDS (after 0.5 s warm-up),
# and reads the gateway's own CPU across exactly that window. Prints a Markdown table:
# median CPU us per request [IQR] and the median of the per-round differences to prod (the
# rounds pair the figures, so a load swing on the shared machine hits both sides of a
# difference). Loopback only, bounded; every process it starts is stopped on exit.
#   bench/prod_diff.sh [ROUNDS [SECONDS]]     (default 8 rounds of 3 s; build in
#                                              $AG_BENCH_BUILD, default build-bench)
#   AG_DIFF_VARIANTS="prod rbac prod-noaudit" bench/prod_diff.sh   a subset
#   AG_DIFF_OLD=DIR/authgate AG_DIFF_VARIANTS="prod old-prod rbac old-rbac" ...
#       "old-V" is V run by another build (before/after a change, in the same rounds)
#   AG_DIFF_TOOL=callgrind bench/prod_diff.sh 1 5
#       every gateway under valgrind's callgrind: user-space instructions per request
#       (all threads; the kernel's work is not counted), which the machine's load does
#       not move: one round is enough; AG_DIFF_KEEP=DIR keeps each window's callgrind.out
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/peers/upstream.sh
source bench/peers/authgate.sh
ROUNDS=${1:-8} SECS=${2:-3}
((ROUNDS >= 1 && ROUNDS <= 40 && SECS >= 1 && SECS <= 20)) ||
  { echo "prod_diff.sh: ROUNDS in 1..40, SECONDS in 1..20" >&2; exit 2; }
BUILD=${AG_BENCH_BUILD:-build-bench}
AUTHGATE=${AUTHGATE:-$BUILD/authgate}
LOADGEN=$BUILD/loadgen
REQ_PATH=/api/v1/namespaces/default/pods/web-0
read -r -a VARIANTS <<<"${AG_DIFF_VARIANTS:-prod rbac prod-noaudit 1user noscrape \
prod-smallpolicy prod-nobootstrap prod-logwarn prod-tlsplain prod-nolimits prod-noupcred \
prod-pool256}"
d=$(mktemp -d /tmp/agproddiff.XXXXXX)
trap 'ag_stop_all; rm -rf "$d"' EXIT
TOOL=${AG_DIFF_TOOL:-} WAIT=200 WARM_S=1 TRIES=1
if [[ $TOOL == callgrind ]]; then # the gateways run under valgrind: wrappers, slower start
  command -v valgrind >/dev/null || { echo "prod_diff.sh: valgrind missing" >&2; exit 1; }
  vg_wrap() { # BINARY NAME: prints a wrapper that runs BINARY under callgrind
    printf '#!/bin/sh\nexec valgrind -q --tool=callgrind --callgrind-out-file=%s/cg.%%p %s "$@"\n' \
      "$d" "$(readlink -f "$1")" >"$d/$2"
    chmod +x "$d/$2"
    echo "$d/$2"
  }
  AUTHGATE=$(vg_wrap "$AUTHGATE" vg-new)
  [[ -z ${AG_DIFF_OLD:-} ]] || AG_DIFF_OLD=$(vg_wrap "$AG_DIFF_OLD" vg-old)
  WAIT=3000 WARM_S=10 TRIES=6
elif [[ -n $TOOL ]]; then
  echo "prod_diff.sh: AG_DIFF_TOOL is callgrind or nothing" >&2; exit 2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
peer_fixture "$d"
up=$UP
head -1 "$d/tokens.txt" >"$d/tokens1.txt"
declare -A PORT PID TOKENS
scrape() { # ADMIN_PORT: /metrics once a second while the run lasts (bounded)
  local url="http://127.0.0.1:$1/metrics" limit=$((ROUNDS * ${#VARIANTS[@]} * (SECS + 2) + 120))
  (for ((i = 0; i < limit; i++)); do
    curl -s -o /dev/null --max-time 2 "$url" || true
    sleep 1
  done) &
  AG_PIDS+=("$!")
}
for v in "${VARIANTS[@]}"; do
  gv=${v#old-} TOKENS[$v]=$d/tokens.txt
  case $gv in
    1user) gv=prod TOKENS[$v]=$d/tokens1.txt ;;
    noscrape) gv=prod-noscrape ;; # prod's config, a gateway of its own, not scraped
  esac
  if [[ $v == 1user && -n ${PORT[prod]:-} ]]; then # the prod gateway, driven differently
    PORT[$v]=${PORT[prod]} PID[$v]=${PID[prod]}
    continue
  fi
  PORT[$v]=$(ag_free_port)
  if [[ $v == old-* ]]; then # its own config and audit file name, the old binary
    [[ -x ${AG_DIFF_OLD:-} ]] || { echo "prod_diff.sh: $v needs AG_DIFF_OLD" >&2; exit 2; }
    [[ $gv == prod* ]] && gv=$gv-old
    AUTHGATE=$AG_DIFF_OLD peer_authgate_start "$d" "${PORT[$v]}" 1 "$up" "$gv"
  else
    peer_authgate_start "$d" "${PORT[$v]}" 1 "$up" "$gv"
  fi
  PID[$v]=$AG_LAST_PID
  ag_wait_port "${PORT[$v]}" "$WAIT" || { echo "$v did not start: $(tail -2 "$AG_LAST_LOG")" >&2; exit 1; }
  [[ $gv == prod* && $v != noscrape ]] && scrape "$(cat "$d/admin-port")"
  head -1 "$d/tokens.txt" >"$d/pf-good.txt"
  for ((k = 0; k < TRIES; k++)); do # under valgrind a first answer may take over 5 s
    why=$(authgate_preflight "https://127.0.0.1:${PORT[$v]}$REQ_PATH" "$d/pf-good.txt" user-1 "$d") &&
      break
  done
  [[ $why == "" ]] || { echo "$v: preflight failed: $why" >&2; exit 1; }
done
lg() { # VARIANT SECONDS WARMUP JSON
  local v=$1
  "$LOADGEN" --closed --duration "$2" --warmup "$3" --connections 64 --insecure --timeout 5 \
    --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 --tokens "${TOKENS[$v]}" \
    --cpu-pids "${PID[$v]}" --json "$4" --quiet "https://127.0.0.1:${PORT[$v]}$REQ_PATH"
}
warm() { # VARIANT: token cache and connections warm (under valgrind: each token twice)
  local k done=0
  for ((k = 0; k < (TRIES > 1 ? 6 : 1); k++)); do
    lg "$1" "$WARM_S" 1 "$d/warm.json" >/dev/null || true
    done=$((done + $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["completed"])' \
      "$d/warm.json" 2>/dev/null || echo 0)))
    ((TRIES == 1 || done >= 2000)) && return
  done
}
# under valgrind each gateway is warmed just before it is measured: a cache entry lives
# 120 s, less than a round of fifteen gateways takes there
[[ $TOOL == callgrind ]] || for v in "${VARIANTS[@]}"; do warm "$v"; done
measure() { # VARIANT JSON: one window; under callgrind, its instructions in JSON.ir
  if [[ $TOOL != callgrind ]]; then
    lg "$1" "$SECS" 0.5 "$2" >/dev/null || true
    return
  fi
  local before
  warm "$1"
  callgrind_control -z "${PID[$1]}" >/dev/null 2>&1
  lg "$1" "$SECS" 0 "$2" >/dev/null || true
  before=$(ls "$d"/cg."${PID[$1]}"* 2>/dev/null | wc -l)
  callgrind_control -d "${PID[$1]}" >/dev/null 2>&1
  for ((k = 0; k < 100; k++)); do # the dump is written by the gateway's next scheduling
    (($(ls "$d"/cg."${PID[$1]}"* 2>/dev/null | wc -l) > before)) && break
    sleep 0.1
  done
  local dump
  dump=$(ls -t "$d"/cg."${PID[$1]}"* | head -1)
  awk '/^(summary|totals):/ { print $2; exit }' "$dump" >"$2.ir"
  [[ -z ${AG_DIFF_KEEP:-} ]] || cp "$dump" "$AG_DIFF_KEEP/callgrind.out.$1" # callgrind_annotate
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
n=${#VARIANTS[@]}
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < n; i++)); do
    v=${VARIANTS[(i + r) % n]}
    measure "$v" "$d/r$r-$v.json"
  done
done
python3 - "$d" "$ROUNDS" "$load_start" "$(cut -d' ' -f1-3 /proc/loadavg)" "$TOOL" "${VARIANTS[@]}" <<'PY'
import json, os, statistics, sys
d, rounds, load0, load1, tool = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
variants = sys.argv[6:]
def us(r, v):
    f = f"{d}/r{r}-{v}.json"
    if not os.path.exists(f):
        return None
    j = json.load(open(f))
    c, n = j["closed"], j["completed"]
    bad = j["failed"] + sum(j["non_2xx"].values())
    if not n or bad:
        return None
    if tool == "callgrind":  # instructions per request
        ir = open(f + ".ir").read().strip() if os.path.exists(f + ".ir") else ""
        return int(ir) / n if ir else None
    return c["cpu_ticks"] * 1e6 / c["clk_tck"] / n
fig = {v: [us(r, v) for r in range(rounds)] for v in variants}
def q(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None, None, None
    qs = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return statistics.median(xs), qs[0], qs[2]
print(f"{rounds} rounds x {len(variants)} gateways, 1 worker each, load average {load0} -> {load1}\n")
unit, f = ("instructions/req (callgrind)", "{:,.0f}") if tool else ("CPU us/req", "{:.2f}")
sf = f.replace("{:", "{:+")
print(f"| variant | {unit} median [IQR] | minus prod, per-round median [IQR] |")
print("|---|---|---|")
for v in variants:
    m, lo, hi = q(fig[v])
    diffs = [a - b for a, b in zip(fig[v], fig.get("prod", [None] * rounds))
             if a is not None and b is not None]
    dm, dlo, dhi = q(diffs)
    cell = "-" if v == "prod" or dm is None else \
        f"{sf.format(dm)} [{sf.format(dlo)} to {sf.format(dhi)}]"
    print(f"| {v} | {f.format(m)} [{f.format(lo)}-{f.format(hi)}] | {cell} |" if m is not None
          else f"| {v} | failed | - |")
PY
