#!/usr/bin/env python3
"""Reads a `perf record -g` of `innkeep serve` as text (docs/benchmarks.md, issue 17).

  bench/perf-read.py BINARY PERF_DATA [REGEX ...]     (TOP=30: rows of the innermost-frame table)

For each REGEX, the share of samples whose call stack holds a matching (demangled) frame; then, per sample,
the innermost frame of the innkeep binary. The binary's symbols are resolved here with `nm` (perf report
could not: its build-id lookup failed for the release binary) and demangled with `swift demangle`. Swift's
async frames break frame-pointer call chains after one or two frames, so "inclusive" means "on the
visible part of the stack".
"""
import bisect, collections, os, re, subprocess, sys

binary, data = sys.argv[1], sys.argv[2]
syms = []
for line in subprocess.run(["nm", "-n", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) >= 3 and p[1] in "tTwW":
        syms.append((int(p[0], 16), p[2]))
addrs = [a for a, _ in syms]
name = os.path.basename(binary)

def resolve(ip):  # perf script prints the binary's own (file-relative) addresses
    i = bisect.bisect_right(addrs, int(ip, 16)) - 1
    return syms[i][1] if i >= 0 else ip

out = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym,dso"], capture_output=True, text=True).stdout
samples, cur = [], []
for line in out.splitlines():
    if not line.strip():
        if cur:
            samples.append(cur)
            cur = []
        continue
    m = re.match(r"\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", line)
    if m:
        ip, sym, dso = m.groups()
        cur.append(("M", resolve(ip)) if os.path.basename(dso) == name else ("S", sym))
if cur:
    samples.append(cur)
mangled = sorted({n for s in samples for k, n in s if k == "M"})
dem = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(mangled),
                     capture_output=True, text=True).stdout.splitlines()
dm = dict(zip(mangled, dem))
stacks = [[dm.get(n, n) if k == "M" else n for k, n in s] for s in samples]
total = max(1, len(stacks))
print(f"samples {len(stacks)}")
for pat in sys.argv[3:]:
    rx = re.compile(pat)
    print(f"{100 * sum(1 for st in stacks if any(rx.search(f) for f in st)) / total:6.1f}%  {pat}")
own = collections.Counter()
for st, s in zip(stacks, samples):
    ours = [dm.get(n, n) for k, n in s if k == "M"]
    own[ours[0] if ours else "(no innkeep frame: " + (st[0] if st else "?") + ")"] += 1
print("--- innermost innkeep frame")
for n, c in own.most_common(int(os.environ.get("TOP", "30"))):
    print(f"{100 * c / total:6.1f}%  {n[:150]}")
