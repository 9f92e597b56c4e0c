#!/usr/bin/env python3
"""Summaries and the markdown report for bench/run.

  report.py pgbench-summary DIR      one JSON line from DIR/out.txt and DIR/log* (per-transaction logs)
  report.py markdown RESULTS.jsonl [--command ... --commit ... ...]   the report on stdout
"""
import argparse, glob, json, os, re, sys, time

READS = ["properties-admin", "properties-owner", "bookings-list"]
CREATES = ["bookings-create", "bookings-create-idem"]
TARGET_CONNS = 32


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def pgbench_summary(directory):
    out = open(os.path.join(directory, "out.txt")).read()
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))
    tx = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    lat = []
    for path in glob.glob(os.path.join(directory, "log*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
    lat.sort()
    return {"tps": tps, "transactions": tx, "failed": int(failed.group(1)) if failed else 0,
            "p50_ms": percentile(lat, 50) / 1000, "p99_ms": percentile(lat, 99) / 1000}


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return f"{os.cpu_count()} CPUs ({cpu}), {mem_kib / 1024 / 1024:.1f} GiB RAM, Linux {os.uname().release}"


def fmt(x, digits=0):
    return f"{x:,.{digits}f}" if x is not None else "–"


def markdown(results_path, a):
    rows = [json.loads(l) for l in open(results_path) if l.strip()]
    wrk = {(r["scenario"], r["conns"], r["scale"]): r for r in rows if r["kind"] == "wrk"}
    pgb = {(r["scenario"], r["conns"], r["scale"]): r["pgbench"] for r in rows if r["kind"] == "pgbench"}
    redis = {r["conns"]: r["rps"] for r in rows if r["kind"] == "redis"}

    def rps(r):
        w = r["wrk"]
        return w["requests"] / w["duration_us"] * 1e6

    def errors(r):
        w = r["wrk"]
        return w["err_status"] + w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]

    out = []
    p = out.append
    p(f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at {a.commit}, {a.elapsed // 60} min {a.elapsed % 60} s.")
    p("")
    p(f"- Machine: {machine()}; server, Postgres 15, Redis 7, wrk and pgbench all share it.")
    loads = [r.get("load1", 0) for r in wrk.values()]
    p(f"- Load average before the run: {a.load_start}; after the measured runs: {min(loads, default=0):.1f}–{max(loads, default=0):.1f} "
      "(the load generator itself adds about 2–3; much more means other work shared the CPUs).")
    p(f"- Command: `{a.command}`")
    p(f"- Data set (1x): {a.size}; growth multiplies the agencies ({a.growth or 'none'}).")
    p(f"- Each run: {a.duration} s after a warm-up; wrk -t2 and pgbench -j2 -M extended as `innkeep_api` (RLS applies).")
    p("- ratio = server req/s / pgbench tx/s for the same statements at the same concurrency.")
    p("")
    conns_list = sorted({k[1] for k in wrk if k[2] == 1})
    scenarios = []
    for k in wrk:
        if k[0] not in scenarios:
            scenarios.append(k[0])
    p("| scenario | conns | req/s | p50 ms | p99 ms | pgbench tx/s | ratio | pgbench p50 / p99 ms | peak RSS MiB | errors |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        for s in scenarios:
            r = wrk.get((s, conns, 1))
            if not r:
                continue
            b = pgb.get((s, conns, 1))
            w = r["wrk"]
            ratio = f"{rps(r) / b['tps']:.2f}" if b else "–"
            base = fmt(b["tps"]) if b else ("(ceiling)" if s == "health-live" else "–")
            blat = f"{b['p50_ms']:.2f} / {b['p99_ms']:.2f}" if b else "–"
            p(f"| {s} | {conns} | {fmt(rps(r))} | {w['p50_us'] / 1000:.2f} | {w['p99_us'] / 1000:.2f} | {base} | {ratio} | {blat} | "
              f"{r['rss_kib'] / 1024:.0f} | {errors(r)} |")
    if redis:
        p("")
        p("Rate-limit EVAL alone (redis-benchmark, every tenant request runs one): " +
          "; ".join(f"c={c}: {fmt(redis[c])}/s" for c in sorted(redis)) + ".")

    scales = sorted({k[2] for k in wrk})
    if len(scales) > 1:
        gc = a.growth_conns
        p("")
        p(f"Latency as the data set grows (agencies x{', x'.join(str(s) for s in scales[1:])}; {gc} connections):")
        p("")
        head = " | ".join(f"p50 {s}x" for s in scales) + " | " + " | ".join(f"p99 {s}x" for s in scales)
        p(f"| scenario | {head} | req/s {scales[0]}x → {scales[-1]}x | p50 change |")
        p("|---|" + "---:|" * (2 * len(scales) + 2))
        for s in scenarios:
            rs = [wrk.get((s, gc, sc)) for sc in scales]
            if not all(rs):
                continue
            p50 = [r["wrk"]["p50_us"] / 1000 for r in rs]
            p99 = [r["wrk"]["p99_us"] / 1000 for r in rs]
            change = (p50[-1] / p50[0] - 1) * 100 if p50[0] else 0
            p(f"| {s} | " + " | ".join(f"{x:.2f}" for x in p50) + " | " + " | ".join(f"{x:.2f}" for x in p99) +
              f" | {fmt(rps(rs[0]))} → {fmt(rps(rs[-1]))} | {change:+.0f}% |")
        bl = [pgb.get(("bookings-list", gc, sc)) for sc in scales]
        if all(bl):
            p("")
            p("pgbench bookings-list p50 by size: " + ", ".join(f"{sc}x {b['p50_ms']:.2f} ms ({fmt(b['tps'])} tx/s)"
                                                         for sc, b in zip(scales, bl)) + ".")

    # targets
    p("")
    p(f"Targets (at {TARGET_CONNS} connections unless stated):")
    p("")
    p("| target | measured | holds |")
    p("|---|---|---|")

    def ratio_of(s, c=TARGET_CONNS):
        r, b = wrk.get((s, c, 1)), pgb.get((s, c, 1))
        return rps(r) / b["tps"] if r and b else None

    for s in READS:
        x = ratio_of(s)
        if x is not None:
            p(f"| {s} ≥ 75% of pgbench | {x:.0%} | {'yes' if x >= 0.75 else 'no'} |")
    for s in CREATES:
        x = ratio_of(s)
        if x is not None:
            p(f"| {s} ≥ 60% of pgbench | {x:.0%} | {'yes' if x >= 0.60 else 'no'} |")
    for s in scenarios:
        r = wrk.get((s, TARGET_CONNS, 1))
        if r:
            x = r["wrk"]["p99_us"] / 1000
            p(f"| {s} p99 ≤ 10 ms | {x:.1f} ms | {'yes' if x <= 10 else 'no'} |")
    peak = max((r["rss_kib"] for r in wrk.values()), default=0) / 1024
    p(f"| server RSS ≤ 80 MiB under load (peak VmHWM of any run) | {peak:.0f} MiB | {'yes' if peak <= 80 else 'no'} |")
    if len(scales) > 1:
        for s in scenarios:
            r0, r1 = wrk.get((s, a.growth_conns, scales[0])), wrk.get((s, a.growth_conns, scales[-1]))
            if r0 and r1 and r0["wrk"]["p50_us"]:
                ch = r1["wrk"]["p50_us"] / r0["wrk"]["p50_us"] - 1
                p(f"| {s} p50 within 20% from {scales[0]}x to {scales[-1]}x | {ch:+.0%} | {'yes' if abs(ch) <= 0.20 else 'no'} |")
    return "\n".join(out) + "\n"


def main():
    if sys.argv[1] == "pgbench-summary":
        print(json.dumps(pgbench_summary(sys.argv[2])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("results")
    for opt in ["command", "commit", "size", "growth", "load-start"]:
        ap.add_argument("--" + opt, default="")
    for opt in ["props", "bookings", "agencies", "growth-conns", "duration", "elapsed"]:
        ap.add_argument("--" + opt, type=int, default=0)
    a = ap.parse_args()
    sys.stdout.write(markdown(a.results, a))


if __name__ == "__main__":
    main()
