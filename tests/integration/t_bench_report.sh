#!/usr/bin/env bash
# bench/report.py on made-up measurements: medians with spread, ratios taken within each
# round (not ratios of medians), issue 8's goals marked met/MISSED, a target that negotiated
# another cipher flagged, skips listed. Instant.
set -euo pipefail
src=${AG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
d=$(mktemp -d /tmp/t_bench_report.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$d" <<'EOF'
import json, sys
d = sys.argv[1]
rows = []
# per round: nginx, haproxy, authgate-rbac req/s; round 2 is a noisy round for everyone
rps = [(10000, 4000, 12000), (10000, 5000, 9000), (5000, 2000, 6500)]
for r, (ng, hp, ag) in enumerate(rps):
    for t, v, cpu in (("nginx", ng, 30.0), ("haproxy", hp, 70.0), ("authgate-rbac", ag, 24.0)):
        rows.append({"kind": "rps", "workers": 1, "round": r, "target": t, "rps": v,
                     "requests": v * 3, "cpu_us_per_req": cpu, "non2xx": 0, "socket_errors": 0})
        rows.append({"kind": "lat", "workers": 1, "round": r, "target": t, "rate": 5000,
                     "p50": 100.0, "p99": {"nginx": 1000.0, "haproxy": 3000.0}.get(t, 900.0),
                     "p99_9": {"nginx": 2000.0}.get(t, 2600.0), "p99_99": 3000.0, "failed": 0,
                     "non2xx": 0})
for t, kib in (("nginx", 13.5), ("haproxy", 14.0), ("authgate-rbac", 52.0)):
    rows.append({"kind": "mem", "workers": 1, "target": t, "peak_rss_kb": 30000})
    rows.append({"kind": "idle", "workers": 1, "target": t, "n": 1000, "kib_per_conn": kib})
for t, neg in (("nginx", "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"),
               ("authgate-rbac", "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305")):
    rows.append({"kind": "tls", "workers": 1, "target": t, "negotiated": neg})
rows.append({"kind": "skip", "workers": 1, "target": "authgate-azure",
             "reason": "SKIP: authgate serve not ready (preflight: good token answered 403)"})
open(f"{d}/raw.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
json.dump({"mode": "quick", "date": "2026-01-01T00:00:00Z", "commit": "abc", "cpus": 2,
           "cpu_model": "test", "rounds": 3, "wrk_seconds": 3, "wrk_connections": 64,
           "lat_seconds": 2, "lat_warmup": 1}, open(f"{d}/meta.json", "w"))
EOF
python3 "$src/bench/report.py" "$d/raw.jsonl" "$d/meta.json" "$d/out.json" >"$d/table.md" ||
  fail "report.py failed"
cat "$d/table.md"
python3 - "$d/out.json" <<'EOF' || fail "summary figures"
import json, sys
r = json.load(open(sys.argv[1]))["results"]["1"]
g = r["authgate-rbac"]
assert g["rps_median"] == 9000 and g["rps_spread"] == [6500, 12000], g
# per-round ratios 1.2, 0.9, 1.3 -> median 1.2 (the ratio of medians would be 0.9)
assert abs(g["rps_vs_nginx"] - 1.2) < 1e-9, g["rps_vs_nginx"]
# vs haproxy: 3.0, 1.8, 3.25 -> 3.0
assert abs(g["rps_vs_haproxy"] - 3.0) < 1e-9, g["rps_vs_haproxy"]
assert abs(g["cpu_vs_nginx"] - 0.8) < 1e-9, g["cpu_vs_nginx"]
assert r["nginx"]["p99_us_median"] == 1000.0 and g["idle_kib_per_conn"] == 52.0
EOF
grep -q '^| authgate-rbac | 9,000 \[6,500-12,000\] | 1.20x | 3.00x | 24.0 |' "$d/table.md" || fail "table row"
grep -q 'req/s vs nginx: 1.20 (goal >= 1.1) met' "$d/table.md" || fail "goal: req/s vs nginx"
grep -q 'open-loop p99.9 vs nginx: 1.30 (goal <= 1.2) MISSED' "$d/table.md" || fail "goal: p99.9"
grep -q 'idle TLS KiB/conn: 52.00 (goal <= 48) MISSED' "$d/table.md" || fail "goal: idle memory"
grep -q 'SKIP (1 worker(s)) authgate-azure: SKIP: authgate serve not ready' "$d/table.md" || fail "skip line"
grep -q 'CHACHA20-POLY1305: authgate-rbac (1w)  DIFFERS' "$d/table.md" || fail "cipher mismatch not flagged"
grep -q 'AES128-GCM-SHA256: nginx (1w)$' "$d/table.md" || fail "negotiated cipher line"
echo "PASS t_bench_report"
