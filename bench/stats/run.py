#!/usr/bin/python3
"""Benchmark `lstar stats` (per-gene mean / var / nnz of X) against its Python peers on the same files in
the same run: (a) h5py row chunks + numpy bincount and anndata backed row chunks + scipy, streaming from
the h5ad; (b) scipy with the whole matrix in memory.  lstar runs on the h5ad itself and on L★ stores made
from it by `lstar convert` (uncompressed and zstd:3), with 1 and 2 threads.

Every run is a separate process (under /usr/bin/time); wall time, CPU time (user + sys) and peak RSS
(the command's own, see timed()).  Each
configuration runs --repeat times (interleaved) and medians are reported.  Results are checked: the
peers' mean/var/nnz must agree with lstar's to 1e-9 relative.

  /usr/bin/python3 bench/stats/run.py --lstar build-stats-rel/tools/lstar --sizes 25k,50k,100k,200k
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(ROOT, "bench", "data")
OUT = os.path.join(ROOT, "bench", "out", "stats")
PY = "/usr/bin/python3"


def timed(cmd):
    """Wall from here; CPU and peak RSS from GNU time's wait4() of the command.  (Not our own wait4:
    Linux carries the forking process's RSS high-water mark across execve into ru_maxrss, so a child
    forked from this Python process would report at least this process's RSS.)"""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "BENCH %e %U %S %M", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    err = p.stderr.decode()
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), err))
    line = [l for l in err.splitlines() if l.startswith("BENCH ")][-1].split()
    return {"wall": wall, "cpu": float(line[2]) + float(line[3]), "rss_mb": float(line[4]) / 1024.0}


def read_tsv(path):
    rows = [l.split("\t") for l in open(path).read().rstrip("\n").split("\n")[1:]]
    return np.array([[float(x) for x in r[1:]] for r in rows]).T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lstar", default=os.path.join(ROOT, "build-stats-rel", "tools", "lstar"))
    ap.add_argument("--sizes", default="25k,50k,100k,200k")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--peers", default="h5py,backed,scipy", help="comma list; empty for none")
    ap.add_argument("--compressions", default="none,zstd:3",
                    help="L* stores to make with lstar convert --compression (none, zstd:3, zstd:9, ...)")
    ap.add_argument("--lognorm", action="store_true", help="also time lstar --lognorm")
    ap.add_argument("--baseline", help="another lstar binary (e.g. an older build) timed on the L* stores in the "
                    "same interleaved rounds; its output must be byte-identical to --lstar's")
    ap.add_argument("--real", action="store_true", help="also the largest real matrix in ../shared/data")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(os.path.join(DATA, "stats"), exist_ok=True)
    results = []
    for size in args.sizes.split(","):
        h5ad = os.path.join(DATA, "synth_%s_none.h5ad" % size)
        if not os.path.exists(h5ad):
            print("skip %s: %s missing (bench/gen_synth_h5ad.py)" % (size, h5ad), file=sys.stderr)
            continue
        with h5py.File(h5ad, "r") as f:
            nnz = int(f["X/data"].shape[0])
            ncells = int(f["X"].attrs["shape"][0])
        inputs = [("h5ad", h5ad)]
        for comp in args.compressions.split(","):
            # names: none -> s100k, zstd:3 -> s100k_zstd (the original pair), zstd:9 -> s100k_zstd9, ...
            suffix = "" if comp == "none" else "_zstd" if comp == "zstd:3" else "_" + comp.replace(":", "")
            tag = "lstar" + suffix.replace("_", "-")
            dst = os.path.join(DATA, "stats", "s%s%s.lstar.zarr" % (size, suffix))
            if not os.path.exists(dst):
                subprocess.run([args.lstar, "convert", h5ad, dst, "--compression", comp, "--no-check"], check=True,
                               stdout=subprocess.DEVNULL)
            inputs.append((tag, dst))
        configs = []
        for tag, path in inputs:
            for t in args.threads.split(","):
                out = os.path.join(OUT, "lstar_%s_%s_t%s.tsv" % (size, tag, t))
                configs.append(("lstar", tag, int(t), [args.lstar, "stats", path, "--threads", t, "--out", out], out))
                if args.baseline and tag != "h5ad":
                    outb = out.replace(".tsv", "_baseline.tsv")
                    configs.append(("lstar baseline", tag, int(t),
                                    [args.baseline, "stats", path, "--threads", t, "--out", outb], outb))
                if args.lognorm and tag == "lstar":
                    out2 = out.replace(".tsv", "_lognorm.tsv")
                    configs.append(("lstar --lognorm", tag, int(t),
                                    [args.lstar, "stats", path, "--lognorm", "--threads", t, "--out", out2], None))
        for peer in [p for p in args.peers.split(",") if p]:
            out = os.path.join(OUT, "peer_%s_%s.npy" % (peer, size))
            configs.append(("python " + peer, "h5ad", 1, [PY, os.path.join(HERE, "peers.py"), peer, h5ad, out], out))
        runs = {i: [] for i in range(len(configs))}
        for rep in range(args.repeat):
            for i, c in enumerate(configs):
                runs[i].append(timed(c[3]))
        # correctness: every output agrees with the first lstar output
        ref = read_tsv(configs[0][4])
        for c in configs:
            if c[0] == "lstar baseline" and open(c[4], "rb").read() != open(c[4].replace("_baseline", ""), "rb").read():
                raise SystemExit("baseline output %s differs from lstar's" % c[4])
        for i, c in enumerate(configs):
            if not c[4]:
                continue
            got = np.load(c[4]) if c[4].endswith(".npy") else read_tsv(c[4])
            scale = np.maximum(np.abs(ref), 1e-12)
            rel = float(np.max(np.abs(got - ref) / scale))
            if rel > 1e-9:
                raise SystemExit("%s disagrees with lstar: max rel %g" % (c[0], rel))
        for i, c in enumerate(configs):
            wall = statistics.median(r["wall"] for r in runs[i])
            cpu = statistics.median(r["cpu"] for r in runs[i])
            rss = statistics.median(r["rss_mb"] for r in runs[i])
            results.append({"size": size, "cells": ncells, "nnz": nnz, "tool": c[0], "input": c[1], "threads": c[2],
                            "wall_s": wall, "cpu_s": cpu, "rss_mb": rss, "nnz_per_s": nnz / wall,
                            "nnz_per_cpu_s": nnz / cpu, "walls": [r["wall"] for r in runs[i]]})
            r = results[-1]
            print("%-5s %-16s %-10s t=%d wall %7.3f s  cpu %7.3f s  %7.1f M nnz/s  %7.1f M nnz/cpu-s  RSS %7.1f MB"
                  % (size, c[0], c[1], c[2], wall, cpu, r["nnz_per_s"] / 1e6, r["nnz_per_cpu_s"] / 1e6, rss),
                  flush=True)
    # the largest real matrix in ../shared/data: scanpy's pbmc68k_reduced raw (csr 700 x 765)
    real = os.path.join(ROOT, "..", "shared", "data", "scverse_scanpy", "src", "scanpy", "datasets",
                        "10x_pbmc68k_reduced.h5ad")
    if args.real and os.path.exists(real):
        with h5py.File(real, "r") as f:
            nnz = int(f["raw/X/data"].shape[0])
            ncells = int(f["raw/X"].attrs["shape"][0])
        out = os.path.join(OUT, "lstar_real.tsv")
        configs = [("lstar", "h5ad (pbmc68k raw)", int(t),
                    [args.lstar, "stats", real, "--field", "raw", "--threads", t, "--out", out], out)
                   for t in args.threads.split(",")]
        configs.append(("python h5py", "h5ad (pbmc68k raw)", 1,
                        [PY, os.path.join(HERE, "peers.py"), "h5py", real, os.path.join(OUT, "peer_real.npy"),
                         "--group", "raw/X"], os.path.join(OUT, "peer_real.npy")))
        runs = {i: [timed(c[3]) for _ in range(args.repeat)] for i, c in enumerate(configs)}
        ref = read_tsv(out)
        got = np.load(os.path.join(OUT, "peer_real.npy"))
        if float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-12))) > 1e-9:
            raise SystemExit("h5py peer disagrees with lstar on the real matrix")
        for i, c in enumerate(configs):
            wall = statistics.median(r["wall"] for r in runs[i])
            cpu = statistics.median(r["cpu"] for r in runs[i])
            rss = statistics.median(r["rss_mb"] for r in runs[i])
            results.append({"size": "pbmc68k", "cells": ncells, "nnz": nnz, "tool": c[0], "input": c[1],
                            "threads": c[2], "wall_s": wall, "cpu_s": cpu, "rss_mb": rss, "nnz_per_s": nnz / wall,
                            "nnz_per_cpu_s": nnz / cpu, "walls": [r["wall"] for r in runs[i]]})
            print("real  %-16s t=%d wall %7.3f s cpu %7.3f s RSS %7.1f MB" % (c[0], c[2], wall, cpu, rss), flush=True)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    # markdown
    print()
    print("| cells | nnz | tool | input | threads | wall s (median) | M nnz/s | CPU s | M nnz/CPU-s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %s | %.2gM | %s | %s | %d | %.3f | %.0f | %.3f | %.0f | %.0f |"
              % (r["size"], r["nnz"] / 1e6, r["tool"], r["input"], r["threads"], r["wall_s"], r["nnz_per_s"] / 1e6,
                 r["cpu_s"], r["nnz_per_cpu_s"] / 1e6, r["rss_mb"]))
    print()
    print("| cells | fastest Python peer | its wall s / RSS MB | best lstar (input, threads) | wall s / RSS MB | "
          "speed-up | memory ratio |")
    print("|---|---|---|---|---|---|---|")
    for size in dict.fromkeys(r["size"] for r in results):
        rs = [r for r in results if r["size"] == size]
        peers = [r for r in rs if r["tool"].startswith("python")]
        ours = [r for r in rs if r["tool"] == "lstar"]
        if not peers or not ours:
            continue
        p = min(peers, key=lambda r: r["wall_s"])
        o = min(ours, key=lambda r: r["wall_s"])
        print("| %s | %s | %.3f / %.0f | %s, %d | %.3f / %.0f | %.1fx | %.2f |"
              % (size, p["tool"], p["wall_s"], p["rss_mb"], o["input"], o["threads"], o["wall_s"], o["rss_mb"],
                 p["wall_s"] / o["wall_s"], o["rss_mb"] / p["rss_mb"]))


if __name__ == "__main__":
    main()
