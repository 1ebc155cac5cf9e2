#!/usr/bin/env bash
# Where authgate-prod's CPU per request goes (issue 17): the production target of
# bench/run.sh (bench/peers/authgate.sh "prod": production settings, audit at Metadata to a
# file, 10,000 RoleBindings plus bootstrap, 1,000 users' tokens in rotation), 1 worker,
# driven by bench/loadgen --closed over 64 keep-alive TLS connections for S seconds while
# `perf record` samples the gateway (every thread, user and kernel). Prints a Markdown
# table: share of samples and microseconds per request by category (TLS record crypto,
# the rest of mbedTLS, parsing, authentication, authorization, audit, event loop, libc,
# kernel/syscalls, other), then the top symbols. Loopback only, bounded, every process it
# starts is stopped on exit.
#   bench/profile.sh [SECONDS]        (default 10; needs perf, and the build in $AG_BENCH_BUILD)
#   AG_PROFILE_VARIANT=rbac bench/profile.sh   the same for another target of authgate.sh
#                                              (prod-MOD: see bench/peers/authgate.sh)
#   AG_PROFILE_DATA=FILE                       keeps perf.data as FILE (perf report -i FILE)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
source bench/peers/upstream.sh
source bench/peers/authgate.sh
SECS=${1:-10} VARIANT=${AG_PROFILE_VARIANT:-prod}
((SECS >= 2 && SECS <= 60)) || { echo "profile.sh: SECONDS in 2..60" >&2; exit 2; }
BUILD=${AG_BENCH_BUILD:-build-bench}
AUTHGATE=${AUTHGATE:-$BUILD/authgate}
LOADGEN=$BUILD/loadgen
command -v perf >/dev/null || { echo "profile.sh: perf missing (linux-perf)" >&2; exit 1; }
d=$(mktemp -d /tmp/agprofile.XXXXXX)
trap 'ag_stop_all; rm -rf "$d"' EXIT
peer_fixture "$d"
up=$UP
port=$(ag_free_port)
peer_authgate_start "$d" "$port" 1 "$up" "$VARIANT"
ag_wait_port "$port" 200 || { echo "authgate did not start: $(tail -2 "$AG_LAST_LOG")" >&2; exit 1; }
gw=$AG_LAST_PID
url="https://127.0.0.1:$port/api/v1/namespaces/default/pods/web-0"
lg() { # SECONDS JSON
  "$LOADGEN" --closed --duration "$1" --warmup 1 --connections 64 --insecure \
    --tls-cipher TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256 --tokens "$d/tokens.txt" \
    --cpu-pids "$gw" --json "$2" --quiet "$url"
}
lg 2 "$d/warm.json" # token cache and connections warm
if [[ $VARIANT == prod* && $VARIANT != *noscrape* ]]; then
  metrics="http://127.0.0.1:$(cat "$d/admin-port")/metrics"
  (for ((i = 0; i < SECS + 5; i++)); do
    curl -s -o /dev/null --max-time 2 "$metrics" || true
    sleep 1
  done) &
  AG_PIDS+=("$!")
fi
perf record -q -F 1999 ${AG_PROFILE_PERF_ARGS:-} -p "$gw" -o "$d/perf.data" -- sleep $((SECS + 1)) 2>"$d/perf.err" &
perfpid=$!
lg "$SECS" "$d/run.json"
wait "$perfpid" || true
perf report -i "$d/perf.data" --no-children --sort dso,sym --stdio -q --percent-limit 0 \
  2>/dev/null >"$d/report.txt"
[[ -z ${AG_PROFILE_DATA:-} ]] || cp "$d/perf.data" "$AG_PROFILE_DATA"
python3 - "$d/report.txt" "$d/run.json" "$(uptime | sed 's/.*load average: //')" "$VARIANT" <<'PY'
import json, re, sys
rep, run, load, variant = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3], sys.argv[4]
c = run["closed"]
us_req = c["cpu_ticks"] * 1e6 / c["clk_tck"] / run["completed"]
cats = [  # (category, dso regex, symbol regex): the first match wins
    ("TLS record crypto (AES-GCM)", r"mbedcrypto", r"aes|gcm|cipher|ctr_drbg|aesni"),
    # libcrypto does nothing per request but the record AEAD (its assembly has no exported
    # symbols, so perf shows addresses): all of it is record crypto
    ("TLS record crypto (AES-GCM)", r"libcrypto", r""),
    ("TLS record crypto (AES-GCM)", r"authgate", r"ag_tlsrec|crypt_record|make_nonce|dir_ctx"),
    ("mbedTLS record layer, rest", r"mbedtls|mbedx509", r""),
    ("authentication (token cache: HMAC-SHA256, lookup)", r"mbedcrypto", r"sha256|md_|hmac"),
    ("mbedTLS crypto, other", r"mbedcrypto", r""),
    ("HTTP parsing (llhttp, head, canonical checks, forward head)", r"",
     r"llhttp|ag_h1_|ag_canon|ag_header|ag_forward|ag_reqinfo|parse_head|put_relayed|field_span|"
     r"send_response_head|nominated|on_req_|on_resp_"),
    ("authentication (token cache: HMAC-SHA256, lookup)", r"authgate",
     r"ag_authn|tokencache|slot_of|ag_tc_|authenticate|ag_jwt|ag_identity|copy_identity|sha256|"
     r"shani|hmac|keys"),
    ("authorization (RBAC, impersonation, chain)", r"authgate",
     r"ag_rbac|ag_authz|rbac|find_hashed|principal|ag_impersonate|authorize|ag_policy|snapshot|"
     r"chain|decision|verb|ag_attr|ag_snap"),
    ("audit (ring, writer thread, JSON)", r"authgate", r"audit|ag_json|rfc3339|ring|^publish$"),
    ("metrics (per-request cells, scrape)", r"", r"metrics|ag_hist"),
    ("event loop (libuv)", r"libuv", r""),
    ("libc (memcpy, malloc, ...)", r"libc[.-]", r""),
    ("kernel (syscalls, TCP, scheduler)", r"kernel", r""),
]
OTHER = "other (authgate's own proxy code, ...)"
tot, by, syms, others = 0.0, {}, [], []
for line in open(rep):
    m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[([.k])\]\s+(.*)", line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
    if kind == "k":
        dso = "[kernel]"
    tot += pct
    syms.append((pct, dso, sym))
    for name, dre, sre in cats:
        if (not dre or re.search(dre, dso)) and (not sre or re.search(sre, sym, re.I)):
            by[name] = by.get(name, 0) + pct
            break
    else:
        by[OTHER] = by.get(OTHER, 0) + pct
        others.append((pct, dso, sym))
print(f"authgate-{variant}, 1 worker, loadgen --closed 64 connections: {run['achieved_rate']:.0f} req/s, "
      f"{us_req:.1f} us CPU per request (utime+stime), {run['completed']} requests; "
      f"load average {load}\n")
print("| where | share of samples | us per request |\n|---|---:|---:|")
for name, pct in sorted(by.items(), key=lambda kv: -kv[1]):
    print(f"| {name} | {pct / tot * 100:.1f}% | {pct / tot * us_req:.1f} |")
print(f"| total | 100% | {us_req:.1f} |\n\nTop symbols:\n")
for pct, dso, sym in sorted(syms, reverse=True)[:25]:
    print(f"    {pct / tot * 100:5.1f}%  {dso:28.28s} {sym}")
print("\nTop of \"other\":\n")
for pct, dso, sym in sorted(others, reverse=True)[:15]:
    print(f"    {pct / tot * 100:5.1f}%  {dso:28.28s} {sym}")
PY
