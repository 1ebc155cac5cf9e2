#!/usr/bin/env python3
"""Turns the raw measurements of bench/run.sh into the side-by-side tables.

Usage: report.py RAW.jsonl META.json OUT.json   (Markdown on stdout, JSON into OUT.json)

RAW holds one JSON object per line ("round" is the slice: every target is measured once per
slice, in rotated order, so a slice's figures share the machine's state):
  {"kind": "rps", "workers": W, "round": r, "target": T, "rps": .., "requests": ..,
   "cpu_us_per_req": .., "non2xx": .., "socket_errors": ..,
   "busiest_worker_share": ..}  (the last: authgate-prod on 2+ workers, the busiest worker's
   share of the slice's requests)
  {"kind": "lat", "workers": W, "round": r, "target": T, "rate": .., "p50": .., "p99": ..,
   "p99_9": .., "p99_99": .., "failed": .., "non2xx": ..}
  {"kind": "mem", "workers": W, "target": T, "peak_rss_kb": ..}
  {"kind": "idle", "workers": W, "target": T, "n": N, "kib_per_conn": ..}
  {"kind": "log", "workers": W, "target": T, "lines": N, "file": ".."}
  {"kind": "audit", "workers": W, "target": T, "events": N, "dropped": N}
  {"kind": "floor", "floor": {"floor_heap_bytes": .., "floor_rss_bytes": .., ...}}
  {"kind": "skip", "workers": W, "target": T, "reason": ".."}
  {"kind": "tls", "workers": W, "target": T, "negotiated": "TLSv1.2 ECDHE-ECDSA-..."}
Absolute figures are medians over slices with their IQR; ratios to nginx and haproxy are
taken within each slice (same slice, same machine state) and reported as the median of the
per-slice ratios with IQR and min-max. Goals (issue 17) are checked for authgate-prod, or
authgate-rbac when there is no authgate-prod.
"""
import json
import statistics
import sys

PEERS = ("nginx", "haproxy")
# name, ratio key, goal text, predicate
GOALS = [("CPU/req vs nginx", "cpu_vs_nginx", "<= 0.85", lambda v: v <= 0.85),
         ("req/s vs nginx", "rps_vs_nginx", ">= 1.15", lambda v: v >= 1.15),
         ("req/s vs haproxy", "rps_vs_haproxy", ">= 2.0", lambda v: v >= 2.0),
         ("open-loop p99 vs nginx", "p99_vs_nginx", "<= 1.0", lambda v: v <= 1.0)]
IDLE_GOAL_KIB = 3.0  # beyond mbedTLS's floor, per idle TLS connection


def med(xs):
    return statistics.median(xs) if xs else None


def quart(xs):
    """[p25, p75] (inclusive method: defined from 1 value on)."""
    if not xs:
        return None
    if len(xs) == 1:
        return [xs[0], xs[0]]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return [q[0], q[2]]


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": med(xs), "iqr": quart(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def per_slice_ratios(rows, target, peer, key):
    """target/peer for metric <key>, one ratio per slice in which both were measured."""
    by = {}
    for r in rows:
        if r.get(key) is not None:
            by.setdefault(r["round"], {})[r["target"]] = r[key]
    return [v[target] / v[peer] for _, v in sorted(by.items())
            if v.get(target) and v.get(peer)]


def summarize(raw, workers):
    rows = [r for r in raw if r.get("workers") == workers]
    rps = [dict(r, cores=r["rps"] * r["cpu_us_per_req"] / 1e6 if r.get("cpu_us_per_req") else None)
           for r in rows if r["kind"] == "rps"]  # cores: the CPU the target got in the slice
    lat = [r for r in rows if r["kind"] == "lat"]
    targets = []
    for r in rows:
        if r["kind"] in ("rps", "lat", "mem", "idle") and r["target"] not in targets:
            targets.append(r["target"])
    out = {}
    for t in targets:
        tr = [r for r in rps if r["target"] == t]
        tl = [r for r in lat if r["target"] == t]
        last = lambda kind: next((r for r in reversed(rows)
                                  if r["kind"] == kind and r["target"] == t), None)
        s = {"slices": len(tr),
             "rps": stats([r["rps"] for r in tr]),
             "cpu_us_per_req": stats([r.get("cpu_us_per_req") for r in tr]),
             "bad_responses": sum(r.get("non2xx", 0) + r.get("socket_errors", 0) for r in tr)}
        shares = [r["busiest_worker_share"] for r in tr if "busiest_worker_share" in r]
        if shares:
            s["busiest_worker_share"] = stats(shares)
        if tl:
            s["open_loop_rate"] = tl[0]["rate"]
            for k in ("p50", "p99", "p99_9"):
                s[k + "_us"] = stats([r[k] for r in tl])
            s["open_loop_failed"] = sum(r.get("failed", 0) + r.get("non2xx", 0) for r in tl)
        for kind, key, field in (("mem", "peak_rss_kb", "peak_rss_kb"),
                                 ("idle", "kib_per_conn", "idle_kib_per_conn"),
                                 ("idle", "n", "idle_conns"),
                                 ("idle", "record_layer", "record_layer"),
                                 ("log", "lines", "log_lines"),
                                 ("audit", "events", "audit_events"),
                                 ("audit", "dropped", "audit_dropped")):
            r = last(kind)
            if r and key in r:  # record_layer: absent from runs before it was recorded
                s[field] = r[key]
        for peer in PEERS:
            if t == peer:
                continue
            s[f"rps_vs_{peer}"] = stats(per_slice_ratios(rps, t, peer, "rps"))
            s[f"cpu_vs_{peer}"] = stats(per_slice_ratios(rps, t, peer, "cpu_us_per_req"))
            s[f"cores_vs_{peer}"] = stats(per_slice_ratios(rps, t, peer, "cores"))
            s[f"p99_vs_{peer}"] = stats(per_slice_ratios(lat, t, peer, "p99"))
        out[t] = s
    return out


def ratio_text(st):
    if not st:
        return "-"
    return (f"{st['median']:.2f}x [{st['iqr'][0]:.2f}-{st['iqr'][1]:.2f}; "
            f"{st['min']:.2f}-{st['max']:.2f}]")


def abs_text(st, digits=0):
    if not st:
        return "-"
    return f"{fmt(st['median'], digits)} [{fmt(st['iqr'][0], digits)}-{fmt(st['iqr'][1], digits)}]"


def floor_kib(floor, s=None):
    """The RSS floor: comparable with RSS per connection (untouched pages do not count).
    None for a target whose records libcrypto protects (tls.record_layer "libcrypto": no
    mbedTLS context is kept after the handshake); runs before that field count as mbedTLS."""
    if s is not None and s.get("record_layer", "mbedtls") != "mbedtls":
        return None
    return floor["floor_rss_bytes"] / 1024 if floor else None


def libcrypto_floor_kib(floor):
    """What a libcrypto-record session keeps when idle (bench/tlsfloor: in-use heap per
    released server session, its keys and sequence numbers): the floor of those targets.
    None for runs whose floor record predates the figure."""
    b = floor.get("libcrypto_idle_heap_bytes") if floor else None
    return b / 1024 if b is not None else None


def goal_target(res):
    return "authgate-prod" if "authgate-prod" in res else (
        "authgate-rbac" if "authgate-rbac" in res else None)


def goals(w, res, floor):
    t = goal_target(res)
    if not t:
        return []
    g = res[t]
    lines = [f"Goals for {t}, {w} worker(s) (median of per-slice ratios; nginx "
             f"{'present' if 'nginx' in res else 'absent'}, haproxy "
             f"{'present' if 'haproxy' in res else 'absent'}):"]
    for name, key, text, ok in GOALS:
        st = g.get(key)
        if not st:
            lines.append(f"- {name}: not measured (goal {text})")
        else:
            lines.append(f"- {name}: {ratio_text(st)} (goal {text}) "
                         f"{'met' if ok(st['median']) else 'MISSED'}")
    idle, fk = g.get("idle_kib_per_conn"), floor_kib(floor, g)
    lf = libcrypto_floor_kib(floor)
    if idle is not None and g.get("record_layer", "mbedtls") != "mbedtls" and lf is not None:
        beyond = idle - lf
        lines.append(f"- idle TLS KiB/conn beyond the libcrypto session's floor: {beyond:.2f} "
                     f"({idle:.2f} - {lf:.2f}) (goal < {IDLE_GOAL_KIB:g}) "
                     f"{'met' if beyond < IDLE_GOAL_KIB else 'MISSED'}")
    elif idle is not None and g.get("record_layer", "mbedtls") != "mbedtls":
        lines.append(f"- idle TLS KiB/conn (libcrypto record layer; its session's floor not "
                     f"measured, nothing subtracted): {idle:.2f} (goal < {IDLE_GOAL_KIB:g}) "
                     f"{'met' if idle < IDLE_GOAL_KIB else 'MISSED'}")
    elif idle is None or fk is None:
        lines.append(f"- idle TLS KiB/conn beyond the mbedTLS floor: not measured "
                     f"(goal < {IDLE_GOAL_KIB:g})")
    else:
        beyond = idle - fk
        lines.append(f"- idle TLS KiB/conn beyond the mbedTLS floor: {beyond:.2f} ({idle:.2f} - "
                     f"{fk:.2f}) (goal < {IDLE_GOAL_KIB:g}) "
                     f"{'met' if beyond < IDLE_GOAL_KIB else 'MISSED'}")
    return lines + [""]


def header(meta):
    return [f"## authgate side-by-side ({meta['mode']} mode)", "",
            f"{meta['date']}, commit {meta['commit']}, {meta['cpus']} x {meta['cpu_model']}; "
            f"{meta.get('slices', '?')} slices of {meta.get('slice_seconds', '?')} s per target "
            f"(after {meta.get('warmup_seconds', '?')} s warm-up each), target order rotated "
            f"per slice; {meta.get('loadgen_connections', 64)} keep-alive connections "
            "(bench/loadgen: closed loop for req/s and CPU, open loop for latency); TLS 1.2 "
            "ECDHE-ECDSA-AES128-GCM-SHA256, P-256. Load average at start "
            f"{meta.get('loadavg_start', '?')}, at end {meta.get('loadavg_end', '?')} "
            "(a shared machine: read the per-slice ratios, not absolute figures).", ""]


def tables(w, res, floor):
    rate = next((s.get("open_loop_rate") for s in res.values() if s.get("open_loop_rate")), None)
    lines = [f"### {w} worker(s); open loop at {fmt(rate)} req/s (50% of nginx's median peak)", "",
             "| target | req/s median [IQR] | CPU us/req [IQR] | p50 us | p99 us [IQR] "
             "| p99.9 us | peak RSS MiB | log lines |", "|---|---|---|---|---|---|---|---|"]
    for t, s in res.items():
        rps = abs_text(s.get("rps"))
        if s.get("bad_responses"):
            rps += f" ({s['bad_responses']} bad)"
        med_of = lambda k: s[k]["median"] if s.get(k) else None
        lines.append(f"| {t} | {rps} | {abs_text(s.get('cpu_us_per_req'), 1)} | "
                     f"{fmt(med_of('p50_us'))} | {abs_text(s.get('p99_us'))} | "
                     f"{fmt(med_of('p99_9_us'))} | "
                     f"{fmt(s['peak_rss_kb'] / 1024, 1) if s.get('peak_rss_kb') else '-'} | "
                     f"{fmt(s.get('log_lines'))}"
                     f"{' (audit: %s queued, %s dropped)' % (fmt(s['audit_events']), fmt(s['audit_dropped'])) if 'audit_events' in s else ''} |")
    lines += ["", "Per-slice ratios: median [IQR; min-max]", "",
              "| target | req/s vs nginx | req/s vs haproxy | CPU/req vs nginx | p99 vs nginx "
              "| cores used vs nginx |", "|---|---|---|---|---|---|"]
    for t, s in res.items():
        if t == "nginx":
            continue
        lines.append(f"| {t} | {ratio_text(s.get('rps_vs_nginx'))} | "
                     f"{ratio_text(s.get('rps_vs_haproxy'))} | {ratio_text(s.get('cpu_vs_nginx'))} | "
                     f"{ratio_text(s.get('p99_vs_nginx'))} | {ratio_text(s.get('cores_vs_nginx'))} |")
    for t, s in res.items():
        if s.get("busiest_worker_share"):
            lines += ["", f"{t}: the busiest of its {w} workers answered "
                          f"{abs_text(s['busiest_worker_share'], 2)} of a slice's requests "
                          f"(median [IQR]; an even split is {1 / w:.2f})"]
    idle = [(t, s) for t, s in res.items() if s.get("idle_kib_per_conn") is not None]
    if idle:
        lines += ["", "| idle keep-alive TLS connection | KiB/conn | TLS floor KiB | beyond floor KiB |",
                  "|---|---|---|---|"]
        for t, s in idle:
            fk, kind = floor_kib(floor, s), ""
            if t.startswith("authgate") and fk is None and libcrypto_floor_kib(floor) is not None:
                fk, kind = libcrypto_floor_kib(floor), " (libcrypto session)"
            mbed = t.startswith("authgate") and fk is not None
            none = "- (libcrypto records)" if t.startswith("authgate") else "- (OpenSSL)"
            lines.append(f"| {t} (n={s['idle_conns']}) | {s['idle_kib_per_conn']:.1f} | "
                         f"{fmt(fk, 1) + kind if mbed else none} | "
                         f"{fmt(s['idle_kib_per_conn'] - fk, 1) if mbed else '-'} |")
    return lines + [""]


def markdown(meta, results, skips, raw_tls=(), floor=None):
    lines = header(meta)
    for w, res in results.items():
        lines += tables(w, res, floor)
    for w, res in results.items():
        lines += goals(w, res, floor)
    if floor:
        lines += [f"mbedTLS {floor.get('mbedtls', '?')} floor per server session (bench/tlsfloor, "
                  f"after a handshake and one request): heap {floor['floor_heap_bytes'] / 1024:.1f} KiB, "
                  f"RSS {floor['floor_rss_bytes'] / 1024:.1f} KiB; the floor column is the RSS "
                  "figure, measured as the targets are (pages never touched are not resident); "
                  "OpenSSL peers have none: they release their buffers when idle.", ""]
    tls = {}
    for r in raw_tls:  # a target restarted (for the idle measurement) says it again
        who = f"{r['target']} ({r['workers']}w)"
        if who not in tls.get(r["negotiated"], []):
            tls.setdefault(r["negotiated"], []).append(who)
    want = "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"
    for neg, who in tls.items():
        mark = "" if neg == want else f"  DIFFERS from {want}: not comparable"
        lines.append(f"TLS negotiated by an OpenSSL client (s_client): {neg or '?'}: "
                     f"{', '.join(who)}{mark}")
    if tls:
        lines.append("")
    for s in skips:
        lines.append(f"SKIP ({s['workers']} worker(s)) {s['target']}: {s['reason']}")
    if skips:
        lines.append("")
    lines += ["direct = the upstream over plain HTTP (no proxy, no TLS); CPU is each target's own "
              "processes (utime+stime from /proc across the measured window), not the upstream's "
              "or the load generator's. cores used = req/s x CPU per request: the CPU the "
              "scheduler gave the target in its slice; on a machine shared beyond its cores, "
              "req/s vs nginx is this ratio divided by the CPU/req ratio. log lines: nginx's "
              "and HAProxy's access logs, authgate-prod's audit log, at the end of the run.", ""]
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
    floor = next((r["floor"] for r in raw if r["kind"] == "floor"), None)
    print(markdown(meta, results, skips, [r for r in raw if r["kind"] == "tls"], floor))
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "floor": floor,
                   "results": {str(w): v for w, v in results.items()},
                   "skips": skips, "raw": raw}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
