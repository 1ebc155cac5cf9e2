#!/usr/bin/env python3
"""Turns the raw measurements of bench/run.sh into the side-by-side table.

Usage: report.py RAW.jsonl META.json OUT.json   (Markdown on stdout, JSON into OUT.json)

RAW holds one JSON object per line:
  {"kind": "rps", "workers": W, "round": r, "target": T, "rps": .., "requests": ..,
   "cpu_us_per_req": .., "non2xx": .., "socket_errors": ..}
  {"kind": "lat", "workers": W, "round": r, "target": T, "rate": .., "p50": .., "p99": ..,
   "p99_9": .., "p99_99": .., "failed": .., "non2xx": ..}
  {"kind": "mem", "workers": W, "target": T, "peak_rss_kb": ..}
  {"kind": "idle", "workers": W, "target": T, "n": N, "kib_per_conn": ..}
  {"kind": "skip", "workers": W, "target": T, "reason": ".."}
  {"kind": "tls", "workers": W, "target": T, "negotiated": "TLSv1.2 ECDHE-ECDSA-..."}
Medians are reported with their spread (min-max over rounds); ratios against nginx and
haproxy are taken per round (same round, same machine state) and then their median.
"""
import json
import statistics
import sys


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return [min(xs), max(xs)] if xs else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def per_round_ratio(rows, target, peer, key):
    """Median over rounds of target/peer for metric <key>, both from the same round."""
    by_round = {}
    for r in rows:
        by_round.setdefault(r["round"], {})[r["target"]] = r[key]
    ratios = [v[target] / v[peer] for v in by_round.values()
              if v.get(target) and v.get(peer)]
    return med(ratios)


def summarize(raw, workers):
    rows = [r for r in raw if r.get("workers") == workers]
    rps = [r for r in rows if r["kind"] == "rps"]
    lat = [r for r in rows if r["kind"] == "lat"]
    targets = []
    for r in rows:
        if r["kind"] in ("rps", "lat", "mem", "idle") and r["target"] not in targets:
            targets.append(r["target"])
    out = {}
    for t in targets:
        tr = [r for r in rps if r["target"] == t]
        tl = [r for r in lat if r["target"] == t]
        mem = [r for r in rows if r["kind"] == "mem" and r["target"] == t]
        idle = [r for r in rows if r["kind"] == "idle" and r["target"] == t]
        s = {
            "rps_median": med([r["rps"] for r in tr]),
            "rps_spread": spread([r["rps"] for r in tr]),
            "cpu_us_per_req_median": med([r["cpu_us_per_req"] for r in tr
                                          if r.get("cpu_us_per_req") is not None]),
            "rounds": len(tr),
            "bad_responses": sum(r.get("non2xx", 0) + r.get("socket_errors", 0) for r in tr),
        }
        if tl:
            s["open_loop_rate"] = tl[0]["rate"]
            for k in ("p50", "p99", "p99_9", "p99_99"):
                s[f"{k}_us_median"] = med([r[k] for r in tl])
                s[f"{k}_us_spread"] = spread([r[k] for r in tl])
            s["open_loop_failed"] = sum(r.get("failed", 0) + r.get("non2xx", 0) for r in tl)
        if mem:
            s["peak_rss_kb"] = mem[-1]["peak_rss_kb"]
        if idle:
            s["idle_conns"] = idle[-1]["n"]
            s["idle_kib_per_conn"] = idle[-1]["kib_per_conn"]
        for peer in ("nginx", "haproxy"):
            if t != peer:
                s[f"rps_vs_{peer}"] = per_round_ratio(tr + [r for r in rps if r["target"] == peer],
                                                      t, peer, "rps")
                s[f"cpu_vs_{peer}"] = per_round_ratio(
                    [r for r in rps if r["target"] in (t, peer) and r.get("cpu_us_per_req")],
                    t, peer, "cpu_us_per_req")
        out[t] = s
    return out


def goals(w, res):
    """Issue 8's targets for authgate-rbac against the peers measured in the same run."""
    g, ng, hp = res.get("authgate-rbac"), res.get("nginx"), res.get("haproxy")
    if not g:
        return []
    checks = []

    def check(name, value, limit, ok):
        if value is None or limit is None:
            checks.append(f"- {name}: not measured")
        else:
            checks.append(f"- {name}: {value:.2f} (goal {limit}) {'met' if ok(value) else 'MISSED'}")

    check("req/s vs nginx", g.get("rps_vs_nginx"), ">= 1.1", lambda v: v >= 1.1)
    check("req/s vs haproxy", g.get("rps_vs_haproxy"), ">= 2.0", lambda v: v >= 2.0)
    check("CPU/req vs nginx", g.get("cpu_vs_nginx"), "<= 0.9", lambda v: v <= 0.9)
    if ng and g.get("p99_us_median") and ng.get("p99_us_median"):
        check("open-loop p99 vs nginx", g["p99_us_median"] / ng["p99_us_median"], "<= 1.0",
              lambda v: v <= 1.0)
    if ng and g.get("p99_9_us_median") and ng.get("p99_9_us_median"):
        check("open-loop p99.9 vs nginx", g["p99_9_us_median"] / ng["p99_9_us_median"], "<= 1.2",
              lambda v: v <= 1.2)
    check("idle TLS KiB/conn", g.get("idle_kib_per_conn"), "<= 48", lambda v: v <= 48)
    return [f"Goals for authgate-rbac, {w} worker(s) (nginx {'present' if ng else 'absent'}, "
            f"haproxy {'present' if hp else 'absent'}):"] + checks + [""]


def markdown(meta, results, skips, raw_tls=()):
    lines = [f"## authgate side-by-side ({meta['mode']} mode)", "",
             f"{meta['date']}, commit {meta['commit']}, {meta['cpus']} x {meta['cpu_model']}, "
             f"{meta['rounds']} rounds in rotating order; wrk {meta['wrk_seconds']} s x "
             f"{meta['wrk_connections']} connections; open loop (bench/loadgen) "
             f"{meta['lat_seconds']} s after {meta['lat_warmup']} s warm-up; TLS 1.2 "
             "ECDHE-ECDSA-AES128-GCM-SHA256, P-256. Load average at start "
             f"{meta.get('loadavg_start', '?')}, at end {meta.get('loadavg_end', '?')} "
             "(a shared machine: compare ratios within a round, not absolute figures).", ""]
    for w, res in results.items():
        rate = next((s.get("open_loop_rate") for s in res.values() if s.get("open_loop_rate")), None)
        lines += [f"### {w} worker(s); open loop at {fmt(rate)} req/s (50% of nginx's peak)", "",
                  "| target | req/s median [min-max] | vs nginx | vs haproxy | CPU us/req "
                  "| p50 us | p99 us | p99.9 us | peak RSS MiB | idle TLS KiB/conn |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for t, s in res.items():
            sp = s.get("rps_spread")
            rps = f"{fmt(s['rps_median'])} [{fmt(sp[0])}-{fmt(sp[1])}]" if sp else "-"
            if s.get("bad_responses"):
                rps += f" ({s['bad_responses']} bad)"
            ratio = lambda k: f"{s[k]:.2f}x" if s.get(k) else "-"
            idle = s.get("idle_kib_per_conn")
            lines.append(
                f"| {t} | {rps} | {ratio('rps_vs_nginx')} | {ratio('rps_vs_haproxy')} | "
                f"{fmt(s.get('cpu_us_per_req_median'), 1)} | {fmt(s.get('p50_us_median'))} | "
                f"{fmt(s.get('p99_us_median'))} | {fmt(s.get('p99_9_us_median'))} | "
                f"{fmt((s.get('peak_rss_kb') or 0) / 1024, 1) if s.get('peak_rss_kb') else '-'} | "
                f"{fmt(idle, 1) if idle is not None else '-'}"
                f"{' (n=' + str(s['idle_conns']) + ')' if idle is not None else ''} |")
        lines.append("")
    for w, res in results.items():
        lines += goals(w, res)
    tls = {}
    for r in raw_tls:
        tls.setdefault(r["negotiated"], []).append(f"{r['target']} ({r['workers']}w)")
    want = "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"
    for neg, who in tls.items():
        mark = "" if neg == want else f"  DIFFERS from {want}: not comparable"
        lines.append(f"TLS negotiated by an OpenSSL client (wrk): {neg or '?'}: {', '.join(who)}{mark}")
    if tls:
        lines.append("")
    for s in skips:
        lines.append(f"SKIP ({s['workers']} worker(s)) {s['target']}: {s['reason']}")
    if skips:
        lines.append("")
    lines += ["direct = the upstream over plain HTTP (no proxy, no TLS); CPU is each target's own "
              "processes (utime+stime from /proc), not the upstream's or the load generator's.", ""]
    return "\n".join(lines)


def main():
    raw_path, meta_path, out_path = sys.argv[1:4]
    raw = [json.loads(l) for l in open(raw_path) if l.strip()]
    meta = json.load(open(meta_path))
    workers = []
    for r in raw:
        if r.get("workers") is not None and r["workers"] not in workers and \
                r["kind"] in ("rps", "lat", "mem", "idle"):
            workers.append(r["workers"])
    results = {w: summarize(raw, w) for w in workers}
    skips = [r for r in raw if r["kind"] == "skip"]
    print(markdown(meta, results, skips, [r for r in raw if r["kind"] == "tls"]))
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "results": {str(w): v for w, v in results.items()},
                   "skips": skips, "raw": raw}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
