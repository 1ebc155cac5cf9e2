#!/usr/bin/env bash
# bench/report.py on made-up measurements: medians with IQR, ratios taken within each slice
# (the median of per-slice ratios, not the ratio of medians) with their spread, issue 17's
# goals for authgate-prod marked met/MISSED, idle memory beside the mbedTLS floor, the
# busiest worker's share of the requests, a target that negotiated another cipher flagged,
# skips listed. Instant.
set -euo pipefail
src=${AG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
d=$(mktemp -d /tmp/t_bench_report.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

python3 - "$d" <<'EOF2'
import json, sys
d = sys.argv[1]
rows = []
# per slice: nginx, haproxy, authgate-prod req/s; slice 2 is a noisy slice for everyone
rps = [(10000, 4000, 12000), (10000, 5000, 9000), (5000, 2000, 6500), (8000, 4000, 10000)]
cpu = {"nginx": [30.0, 30.0, 40.0, 30.0], "haproxy": [70.0] * 4,
       "authgate-prod": [24.0, 27.0, 30.0, 24.0]}
p99 = {"nginx": [1000.0, 2000.0, 90000.0, 1000.0], "haproxy": [3000.0] * 4,
       "authgate-prod": [900.0, 2400.0, 45000.0, 800.0]}
for r, vals in enumerate(rps):
    for t, v in zip(("nginx", "haproxy", "authgate-prod"), vals):
        rows.append({"kind": "rps", "workers": 1, "round": r, "target": t, "rps": v,
                     "requests": v * 2, "cpu_us_per_req": cpu[t][r], "non2xx": 0,
                     "socket_errors": 0})
        if t == "authgate-prod":  # how its requests were spread over its workers
            rows[-1]["busiest_worker_share"] = (0.5, 0.52, 0.56, 0.5)[r]
        rows.append({"kind": "lat", "workers": 1, "round": r, "target": t, "rate": 4000,
                     "p50": 100.0, "p99": p99[t][r], "p99_9": 5000.0, "p99_99": 6000.0,
                     "failed": 0, "non2xx": 0})
for t, kib in (("nginx", 13.5), ("haproxy", 14.0), ("authgate-prod", 37.5)):
    rows.append({"kind": "mem", "workers": 1, "target": t, "peak_rss_kb": 30000})
    rows.append({"kind": "idle", "workers": 1, "target": t, "n": 1000, "kib_per_conn": kib})
rows.append({"kind": "log", "workers": 1, "target": "nginx", "lines": 1234, "file": "x"})
rows.append({"kind": "floor", "floor": {"mbedtls": "2.28.3", "floor_heap_bytes": 36.0 * 1024,
                                        "floor_rss_bytes": 35.0 * 1024}})
for t, neg in (("nginx", "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"),
               ("authgate-prod", "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305")):
    rows.append({"kind": "tls", "workers": 1, "target": t, "negotiated": neg})
rows.append({"kind": "skip", "workers": 1, "target": "authgate-azure",
             "reason": "SKIP: authgate serve not ready (preflight: good token answered 403)"})
open(f"{d}/raw.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
json.dump({"mode": "quick", "date": "2026-01-01T00:00:00Z", "commit": "abc", "cpus": 2,
           "cpu_model": "test", "slices": 4, "slice_seconds": 1, "warmup_seconds": 0.5,
           "loadgen_connections": 64}, open(f"{d}/meta.json", "w"))
EOF2
python3 "$src/bench/report.py" "$d/raw.jsonl" "$d/meta.json" "$d/out.json" >"$d/table.md" ||
  fail "report.py failed"
cat "$d/table.md"
python3 - "$d/out.json" <<'EOF2' || fail "summary figures"
import json, sys
r = json.load(open(sys.argv[1]))["results"]["1"]
g = r["authgate-prod"]
assert g["rps"]["median"] == 9500 and (g["rps"]["min"], g["rps"]["max"]) == (6500, 12000), g
# per-slice ratios 1.2, 0.9, 1.3, 1.25 -> median 1.225 (the ratio of medians is 1.06)
v = g["rps_vs_nginx"]
assert abs(v["median"] - 1.225) < 1e-9 and (v["min"], v["max"]) == (0.9, 1.3), v
assert abs(v["iqr"][0] - 1.125) < 1e-9 and abs(v["iqr"][1] - 1.2625) < 1e-9, v
# vs haproxy: 3.0, 1.8, 3.25, 2.5 -> 2.75
assert abs(g["rps_vs_haproxy"]["median"] - 2.75) < 1e-9, g["rps_vs_haproxy"]
# CPU: 0.8, 0.9, 0.75, 0.8 -> 0.8
assert abs(g["cpu_vs_nginx"]["median"] - 0.8) < 1e-9, g["cpu_vs_nginx"]
# p99: 0.9, 1.2, 0.5, 0.8 -> 0.85, although the median p99s are 1650 vs 1500 (1.1x)
assert abs(g["p99_vs_nginx"]["median"] - 0.85) < 1e-9, g["p99_vs_nginx"]
assert r["nginx"]["p99_us"]["median"] == 1500.0 and g["idle_kib_per_conn"] == 37.5
assert r["nginx"]["log_lines"] == 1234
EOF2
grep -q '^| authgate-prod | 9,500 \[8,375-10,500\] | 25.5 \[24.0-27.8\] |' "$d/table.md" || fail "table row"
grep -q '^| authgate-prod | 1.23x \[1.12-1.26; 0.90-1.30\] | 2.75x ' "$d/table.md" || fail "ratio row"
# cores used = req/s x CPU/req: 0.96, 0.81, 0.975, 1.0 of nginx's -> 0.9675
grep -q '^| authgate-prod | 1.23x .* | 0.97x \[0.92-0.98; 0.81-1.00\] |$' "$d/table.md" || fail "cores used"
grep -q 'req/s vs nginx: 1.23x \[1.12-1.26; 0.90-1.30\] (goal >= 1.15) met' "$d/table.md" || fail "goal: req/s vs nginx"
grep -q 'CPU/req vs nginx: 0.80x .* (goal <= 0.85) met' "$d/table.md" || fail "goal: CPU"
grep -q 'open-loop p99 vs nginx: 0.85x .* (goal <= 1.0) met' "$d/table.md" || fail "goal: p99"
grep -q 'idle TLS KiB/conn beyond the mbedTLS floor: 2.50 (37.50 - 35.00) (goal < 3) met' "$d/table.md" || fail "goal: idle memory"
grep -q '^| authgate-prod (n=1000) | 37.5 | 35.0 | 2.5 |' "$d/table.md" || fail "idle row"
grep -q '^authgate-prod: the busiest of its 1 workers answered 0.51 \[0.50-0.53\] of a slice' "$d/table.md" || fail "busiest worker line"
[ "$(grep -c 'the busiest of its' "$d/table.md")" = 1 ] || fail "busiest worker line for a target without the figure"
grep -q '^| nginx (n=1000) | 13.5 | - (OpenSSL) | - |' "$d/table.md" || fail "idle row nginx"
grep -q 'SKIP (1 worker(s)) authgate-azure: SKIP: authgate serve not ready' "$d/table.md" || fail "skip line"
grep -q 'CHACHA20-POLY1305: authgate-prod (1w)  DIFFERS' "$d/table.md" || fail "cipher mismatch not flagged"
grep -q 'AES128-GCM-SHA256: nginx (1w)$' "$d/table.md" || fail "negotiated cipher line"
# a missed goal says so
sed -i 's/"kib_per_conn": 37.5/"kib_per_conn": 39.0/' "$d/raw.jsonl"
python3 "$src/bench/report.py" "$d/raw.jsonl" "$d/meta.json" "$d/out.json" >"$d/table2.md"
grep -q 'beyond the mbedTLS floor: 4.00 (39.00 - 35.00) (goal < 3) MISSED' "$d/table2.md" || fail "missed idle goal"
# an authgate on libcrypto's record layer keeps no mbedTLS context: without its own floor
# measured (older runs), nothing is subtracted
sed -i 's/"kib_per_conn": 39.0}/"kib_per_conn": 2.5, "record_layer": "libcrypto"}/' "$d/raw.jsonl"
python3 "$src/bench/report.py" "$d/raw.jsonl" "$d/meta.json" "$d/out.json" >"$d/table3.md"
unmeasured="its session's floor not measured, nothing subtracted): 2.50 (goal < 3) met"
grep -q "idle TLS KiB/conn (libcrypto record layer; $unmeasured" "$d/table3.md" ||
    fail "idle goal on libcrypto's record layer"
grep -q '^| authgate-prod (n=1000) | 2.5 | - (libcrypto records) | - |' "$d/table3.md" || fail "idle row, libcrypto"
# with the libcrypto session's own floor measured (tlsfloor), that is what is subtracted
sed -i 's/"floor_rss_bytes": 35840.0}/"floor_rss_bytes": 35840.0, "libcrypto_idle_heap_bytes": 512}/' "$d/raw.jsonl"
python3 "$src/bench/report.py" "$d/raw.jsonl" "$d/meta.json" "$d/out.json" >"$d/table4.md"
grep -q "beyond the libcrypto session's floor: 2.00 (2.50 - 0.50) (goal < 3) met" "$d/table4.md" ||
    fail "idle goal beyond the libcrypto session's floor"
grep -q '^| authgate-prod (n=1000) | 2.5 | 0.5 (libcrypto session) | 2.0 |' "$d/table4.md" ||
    fail "idle row, libcrypto floor"
echo "PASS t_bench_report"
