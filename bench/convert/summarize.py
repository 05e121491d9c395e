#!/usr/bin/python3
"""Target check for the convert benchmark, from run.py's results.jsonl (markdown on stdout).

  /usr/bin/python3 bench/convert/summarize.py [--results FILE] [--max-load L]

Wall times are given as "median (min)" over the repetitions: the median is the requested statistic,
the minimum is the least-disturbed run (the machine is shared; see docs/benchmarks.md).  Ratios are
computed median/median and, in parentheses, min/min.  Peak RSS is the maximum over the repetitions.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def sel(rows, **k):
    return [r for r in rows if all(r.get(a) == b for a, b in k.items())]


def stat(rows, **k):
    s = sel(rows, **k)
    if not s:
        return None
    w = [r["wall_s"] for r in s]
    c = [r.get("user_s", 0) + r.get("sys_s", 0) for r in s]
    return {"med": statistics.median(w), "min": min(w), "cpu": statistics.median(c), "n": len(s),
            "rss": max(r["maxrss_kb"] for r in s) / 1024,
            "load": statistics.median(r["load1"] for r in s)}


def f(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def w(s):
    return "–" if not s else f"{s['med']:.2f} ({s['min']:.2f})"


def ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a['med'] / b['med']:.2f} ({a['min'] / b['min']:.2f})"


def speedup(s1, s2):
    if not s1 or not s2:
        return "–"
    return f"{s1['med'] / s2['med']:.2f} ({s1['min'] / s2['min']:.2f})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-load", type=float, default=None,
                    help="only runs whose 1-min load average before the run was <= this")
    ap.add_argument("--results", default=os.path.join(run.ROOT, "bench", "out", "convert", "results.jsonl"))
    a = ap.parse_args()
    rows = run.load(a.results)
    if a.max_load is not None:
        rows = [r for r in rows if r["load1"] <= a.max_load]
        print(f"(runs with load1 <= {a.max_load} only)\n")
    sizes = sorted({r["size"] for r in rows}, key=run.size_cells)
    loads = [r["load1"] for r in rows]
    print(f"{len(rows)} runs, 1-min load average before a run: median {statistics.median(loads):.1f}, "
          f"min {min(loads):.1f}, max {max(loads):.1f}.  Wall s = median (min).\n")

    fw = "lstar-h5ad2lstar-v2"
    print("**A. h5ad → L★ v2 (lstar, uncompressed output) vs the peer (h5ad → anndata-zarr) and the copy floors**\n")
    print("| cells | input | runs (lstar t2) | cp | cat>file | peer | lstar t1 | lstar t2 | t2 / peer | "
          "best / cp | best / cat>file | speed-up 1→2 | RSS MB peer | RSS MB lstar t1 / t2 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        for c in ("none", "gzip"):
            k = dict(size=s, comp=c)
            cp, cf, pe = stat(rows, variant="floor-cp", **k), stat(rows, variant="floor-cat>file", **k), \
                stat(rows, variant="peer-h5ad2zarr", **k)
            l1, l2 = stat(rows, variant=fw, threads=1, **k), stat(rows, variant=fw, threads=2, **k)
            if not (pe or l1 or l2):
                continue
            best = None
            if l1 or l2:
                cands = [x for x in (l1, l2) if x]
                best = {"med": min(x["med"] for x in cands), "min": min(x["min"] for x in cands)}
            print(f"| {s} | {c} | {l2['n'] if l2 else 0} | {w(cp)} | {w(cf)} | {w(pe)} | {w(l1)} | {w(l2)} | "
                  f"{ratio(l2, pe)} | {ratio(best, cp)} | {ratio(best, cf)} | {speedup(l1, l2)} | "
                  f"{f(pe['rss'], 0) if pe else '–'} | {f(l1['rss'], 0) if l1 else '–'} / {f(l2['rss'], 0) if l2 else '–'} |")

    print("\n**B. Other lstar targets (wall s median (min); ratio vs the peer's h5ad → anndata-zarr on the same input)**\n")
    print("| cells | input | variant | t1 | t2 | t2 / peer | speed-up 1→2 | RSS MB t1 / t2 |")
    print("|---|---|---|---|---|---|---|---|")
    for s in sizes:
        for c in ("none", "gzip"):
            k = dict(size=s, comp=c)
            pe = stat(rows, variant="peer-h5ad2zarr", **k)
            for v in ("lstar-h5ad2anndata-zarr", "lstar-h5ad2lstar-v2-blosc", "lstar-h5ad2lstar-v3-shard",
                      "lstar-h5ad2lstar-v2-zlib", "lstar-h5ad2lstar-v3-zlib"):
                l1, l2 = stat(rows, variant=v, threads=1, **k), stat(rows, variant=v, threads=2, **k)
                if not (l1 or l2):
                    continue
                print(f"| {s} | {c} | {v.replace('lstar-h5ad2', '→ ')} | {w(l1)} | {w(l2)} | {ratio(l2, pe)} | "
                      f"{speedup(l1, l2)} | {f(l1['rss'], 0) if l1 else '–'} / {f(l2['rss'], 0) if l2 else '–'} |")

    print("\n**C. Back conversion: L★ v2 → h5ad (lstar) vs anndata-zarr → h5ad (peer), uncompressed output**\n")
    print("| cells | runs | cat>file floor (of the uncompressed h5ad) | peer | lstar t1 | lstar t2 | t2 / peer | "
          "best / cat>file | speed-up 1→2 | RSS MB peer | RSS MB lstar |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in sizes:
        k = dict(size=s, comp="-")
        pe = stat(rows, variant="peer-zarr2h5ad", **k)
        l1 = stat(rows, variant="lstar-lstar2h5ad", threads=1, **k)
        l2 = stat(rows, variant="lstar-lstar2h5ad", threads=2, **k)
        cf = stat(rows, variant="floor-cat>file", size=s, comp="none")
        if not (pe or l1):
            continue
        cands = [x for x in (l1, l2) if x]
        best = {"med": min(x["med"] for x in cands), "min": min(x["min"] for x in cands)} if cands else None
        rr = max(x["rss"] for x in cands) if cands else None
        print(f"| {s} | {l2['n'] if l2 else 0} | {w(cf)} | {w(pe)} | {w(l1)} | {w(l2)} | {ratio(l2, pe)} | "
              f"{ratio(best, cf)} | {speedup(l1, l2)} | {f(pe['rss'], 0) if pe else '–'} | {f(rr, 0)} |")

    print("\n**D. Peak RSS (MB, max over repetitions, threads and inputs) — flatness 25k → 200k**\n")
    variants = ["peer-h5ad2zarr", "peer-zarr2h5ad", "lstar-h5ad2lstar-v2", "lstar-h5ad2lstar-v2-blosc",
                "lstar-h5ad2lstar-v2-zlib", "lstar-h5ad2lstar-v3-zlib", "lstar-h5ad2lstar-v3-shard",
                "lstar-h5ad2anndata-zarr", "lstar-lstar2h5ad"]
    print("| variant | " + " | ".join(sizes) + " | max / min |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for v in variants:
        vals = []
        for s in sizes:
            ss = sel(rows, variant=v, size=s)
            vals.append(max(r["maxrss_kb"] for r in ss) / 1024 if ss else None)
        ok = [x for x in vals if x]
        print(f"| {v} | " + " | ".join(f(x, 0) for x in vals) + f" | {f(max(ok) / min(ok) if ok else None)} |")


if __name__ == "__main__":
    main()
