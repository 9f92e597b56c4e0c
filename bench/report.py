#!/usr/bin/env python3
"""Summaries and the markdown report for bench/run.

  report.py pgbench-summary DIR      one JSON line from DIR/out.txt and DIR/log* (per-transaction logs)
  report.py markdown RESULTS.jsonl [--command ... --commit ... ...]   the report on stdout
"""
import argparse, glob, json, os, re, sys, time

READS = ["properties-admin", "properties-owner", "properties-50", "bookings-list", "calendar", "availability", "ical-export"]
CREATES = ["bookings-create", "bookings-create-idem", "bookings-create-hooks"]
TARGET_CONNS = 32
P99_CONNS = 8
# issue 17: the server's CPU per request (µs), and the share of the essential-statements baseline
CPU_TARGETS = {"properties-50": 250, "bookings-create": 300, "health": 80}
READ_SHARE, CREATE_SHARE, READ_P99_MS = 0.50, 0.80, 15.0


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
    ess = {(r["scenario"], r["conns"], r["scale"]): r["pgbench"] for r in rows if r["kind"] == "pgbench-essential"}
    final = next((r for r in rows if r["kind"] == "rss_final"), None)

    def cpu_us(r):
        if "cpu_ticks" not in r:
            return None
        return r["cpu_ticks"] / r["clk_tck"] * 1e6 / max(1, r["wrk"]["requests"])
    redis = {r["conns"]: r["rps"] for r in rows if r["kind"] == "redis"}

    def switches(r):
        # Absent from results written before the column existed.
        n = r.get("context_switches")
        return f"{n / max(1, r['wrk']['requests']):.2f}" if n is not None else "–"

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
    p("- CPU µs/req = the server process's utime + stime (/proc/<pid>/stat) over the measured run ÷ the requests wrk counted;"
      " switches/req = its threads' context switches (/proc/<pid>/task/*/status) over the same run ÷ the same requests.")
    p("- same = pgbench of the statements the endpoint runs today; essential = BEGIN, one set_config, the query "
      "(or insert + audit), COMMIT (bench/pgbench/essential/). ratio = server req/s ÷ pgbench tx/s at the same concurrency.")
    p("")
    conns_list = sorted({k[1] for k in wrk if k[2] == 1})
    scenarios = []
    for k in wrk:
        if k[0] not in scenarios:
            scenarios.append(k[0])
    p("| scenario | conns | req/s | p50 ms | p99 ms | CPU µs/req | switches/req | same tx/s | ratio | essential tx/s | ratio | peak RSS MiB | errors |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for conns in conns_list:
        for s in scenarios:
            r = wrk.get((s, conns, 1))
            if not r:
                continue
            b, e = pgb.get((s, conns, 1)), ess.get((s, conns, 1))
            w = r["wrk"]
            ratio = f"{rps(r) / b['tps']:.2f}" if b else "–"
            base = fmt(b["tps"]) if b else ("(ceiling)" if s == "health-live" else "–")
            eratio = f"{rps(r) / e['tps']:.2f}" if e else "–"
            ebase = fmt(e["tps"]) if e else "–"
            p(f"| {s} | {conns} | {fmt(rps(r))} | {w['p50_us'] / 1000:.2f} | {w['p99_us'] / 1000:.2f} | {fmt(cpu_us(r))} | {switches(r)} | {base} | {ratio} | "
              f"{ebase} | {eratio} | {r['rss_kib'] / 1024:.0f} | {errors(r)} |")
    if redis:
        p("")
        p("Rate-limit lease EVAL alone (redis-benchmark; a tenant request runs one per lease of up to 16 requests): " +
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
        # The database's own statement at each size: whether a scenario that slows as the data grows is Postgres's.
        named = scenarios + sorted({k[0] for k in pgb} - set(scenarios))  # bookings-list is measured in any case
        grown = [(s, [pgb.get((s, gc, sc)) for sc in scales]) for s in named]
        grown = [(s, bs) for s, bs in grown if all(bs)]
        if grown:
            p("")
            p(f"pgbench of the same statements as the data set grows ({gc} clients):")
            p("")
            p("| scenario | " + " | ".join(f"tx/s {sc}x" for sc in scales) + " | " +
              " | ".join(f"p50 {sc}x" for sc in scales) + " | tx/s change |")
            p("|---|" + "---:|" * (2 * len(scales) + 1))
            for s, bs in grown:
                change = (bs[-1]["tps"] / bs[0]["tps"] - 1) * 100 if bs[0]["tps"] else 0
                p(f"| {s} | " + " | ".join(fmt(b["tps"]) for b in bs) + " | " +
                  " | ".join(f"{b['p50_ms']:.2f}" for b in bs) + f" | {change:+.0f}% |")

    # targets (issue 17)
    p("")
    p("Targets (issue 17; CPU and ratios at the highest concurrency measured up to "
      f"{TARGET_CONNS}, p99 at {P99_CONNS} connections):")
    p("")
    p("| target | measured | holds |")
    p("|---|---|---|")
    conns_1x = sorted({k[1] for k in wrk if k[2] == 1})
    tc = max([c for c in conns_1x if c <= TARGET_CONNS], default=None)

    def ratio_of(table, s, c):
        r, b = wrk.get((s, c, 1)), table.get((s, c, 1))
        return rps(r) / b["tps"] if r and b else None

    for s, limit in CPU_TARGETS.items():
        for c in conns_1x:
            r = wrk.get((s, c, 1))
            if r and cpu_us(r) is not None:
                x = cpu_us(r)
                p(f"| {s} CPU ≤ {limit} µs/request (c={c}) | {x:,.0f} µs | {'yes' if x <= limit else 'no'} |")
    if tc is not None:
        for s in READS:
            x = ratio_of(ess, s, tc)
            if x is not None:
                p(f"| {s} ≥ {READ_SHARE:.0%} of essential pgbench (c={tc}) | {x:.0%} | {'yes' if x >= READ_SHARE else 'no'} |")
        for s in CREATES:
            x = ratio_of(ess, s, tc)
            if x is not None:
                p(f"| {s} ≥ {CREATE_SHARE:.0%} of essential pgbench (c={tc}) | {x:.0%} | {'yes' if x >= CREATE_SHARE else 'no'} |")
    for s in READS + ["health"]:
        r = wrk.get((s, P99_CONNS, 1))
        if r:
            x = r["wrk"]["p99_us"] / 1000
            p(f"| {s} p99 ≤ {READ_P99_MS:.0f} ms at {P99_CONNS} connections | {x:.1f} ms | {'yes' if x <= READ_P99_MS else 'no'} |")
    if final and final.get("rss_start_kib"):
        total = sum(r["wrk"]["requests"] for r in wrk.values())
        a0, a1 = final["rss_start_kib"] / 1024, final["rss_kib"] / 1024
        peak = max((r["rss_kib"] for r in wrk.values()), default=0) / 1024
        p(f"| RSS flat under load | {a0:.0f} MiB at start → {a1:.0f} MiB after {total:,} measured requests (peak VmHWM {peak:.0f} MiB) | "
          f"{'yes' if a1 - a0 <= 16 else 'no'} (≤ 16 MiB growth) |")
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
