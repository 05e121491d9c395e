#!/usr/bin/python3
"""`lstar convert` vs the anndata peer vs the copy floor, on the same synthetic h5ad files in one run.

Every measurement is one fresh child process started by this script and reaped with os.wait4(), which
returns that child's own rusage: wall time (perf_counter around spawn..reap) and ru_maxrss (the child's
peak RSS -- for a process that spawns helpers, the largest of it and its reaped descendants, never a
sum and never accumulated over earlier runs).  The 1-minute load average is recorded before each run.
Inputs are read warm (the cat floor runs first and the machine has 24 GiB for page cache); outputs go
to the page cache as well (no fsync) for every tool alike.

  /usr/bin/python3 bench/convert/run.py [--sizes 25k,50k,100k,200k] [--comps none,gzip] [--reps 3]
        [--tools floor,peer,lstar] [--threads 1,2] [--lstar build-bench/tools/lstar]
        [--results bench/out/convert/results.jsonl]
  /usr/bin/python3 bench/convert/run.py --table [--results ...]     # markdown table of medians

Results are appended as JSON lines; a (size, comp, variant, threads, rep) already present is skipped,
so an interrupted run resumes.  See bench/convert/README.md for the variants.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
GEN = os.path.join(ROOT, "bench", "gen_synth_h5ad.py")
PEER = os.path.join(HERE, "peer_anndata.py")
DATA = os.path.join(ROOT, "bench", "data")
OUT = os.path.join(DATA, "convert-out")


def size_cells(s):
    s = s.strip().lower()
    return int(float(s[:-1]) * 1000) if s.endswith("k") else int(s)


def input_path(size, comp):
    return os.path.join(DATA, f"synth_{size}_{comp}.h5ad")


def ensure_input(size, comp):
    p = input_path(size, comp)
    while os.path.exists(p + ".part"):  # someone (bench/data generation) is writing it
        time.sleep(10)
    if not os.path.exists(p):
        print(f"generating {p}", file=sys.stderr, flush=True)
        subprocess.run([PY, GEN, "--cells", str(size_cells(size)), "--compression", comp, "--out", p,
                        "--quiet"], check=True)
    return p


def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    tot = 0
    for dp, _, fns in os.walk(path):
        for fn in fns:
            try:
                tot += os.path.getsize(os.path.join(dp, fn))
            except OSError:
                pass
    return tot


def rm(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def measure(cmd, stdout_to=None, env=None):
    """Run cmd once as a fresh child; return (rc, wall_s, rusage, stderr_tail)."""
    with tempfile.TemporaryFile() as err:
        out = open(stdout_to, "wb") if stdout_to else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from reaping again
        finally:
            if stdout_to:
                out.close()
        err.seek(0)
        tail = err.read()[-2000:].decode(errors="replace")
    return p.returncode, wall, ru, tail


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


class Runner:
    def __init__(self, a):
        self.a = a
        self.done = set()
        os.makedirs(os.path.dirname(a.results), exist_ok=True)
        if os.path.exists(a.results):
            with open(a.results) as f:
                for line in f:
                    r = json.loads(line)
                    if r.get("rc") == 0:
                        self.done.add(self.key(r))
        self.lstar_env = dict(os.environ)

    @staticmethod
    def key(r):
        return (r["size"], r["comp"], r["variant"], r.get("threads"), r["rep"])

    def run(self, size, comp, variant, tool, threads, rep, cmd, src, dst, keep=False, stdout_to=None):
        rec = {"size": size, "comp": comp, "variant": variant, "tool": tool, "threads": threads, "rep": rep}
        if self.key(rec) in self.done and (not keep or os.path.exists(dst or "")):
            return None
        if dst:
            rm(dst)
        load = loadavg()
        rc, wall, ru, tail = measure(cmd, stdout_to=stdout_to, env=self.lstar_env if tool == "lstar" else None)
        rss = ru.ru_maxrss
        rec.update({"rc": rc, "wall_s": round(wall, 3), "maxrss_kb": rss, "load1": load,
                    "user_s": round(ru.ru_utime, 3), "sys_s": round(ru.ru_stime, 3),
                    "in_bytes": du(src), "out_bytes": du(dst) if dst and os.path.exists(dst) else None,
                    "cmd": " ".join(cmd), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        if rc != 0:
            rec["stderr"] = tail
        with open(self.a.results, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"{size:>5} {comp:5} {variant:22} t={threads!s:4} rep{rep} rc={rc} {wall:8.2f}s "
              f"{rss / 1024:8.0f} MB cpu={ru.ru_utime + ru.ru_stime:6.2f}s load={load:.2f}" + (f"\n   {tail.strip()[-400:]}" if rc else ""),
              file=sys.stderr, flush=True)
        if dst and not keep:
            rm(dst)
        return rec


def lstar_cmds(a, src, dst, kind, threads, binary=None):
    """Command lines of `lstar convert` per variant (kept in one place: the CLI is young)."""
    base = [binary or a.lstar, "convert", src, dst, "--threads", str(threads), "--overwrite"] + a.lstar_extra
    if kind == "lstar-v2":
        return base + ["--to", "lstar", "--zarr-format", "2"]
    if kind == "lstar-v2-zlib":  # numcodecs zlib = HDF5 deflate: gzip inputs are copied chunk for chunk
        return base + ["--to", "lstar", "--zarr-format", "2", "--compression", "zlib:4"]
    if kind == "lstar-v3-zlib":  # v3: h5py's small deflate chunks copied verbatim and packed into shards
        return base + ["--to", "lstar", "--zarr-format", "3", "--compression", "zlib:4"]
    if kind == "lstar-v2-blosc":  # the peer's output codec (zarr 2.13 default)
        return base + ["--to", "lstar", "--zarr-format", "2", "--compression", "blosc:lz4:5:1"]
    if kind == "lstar-v3-shard":
        return base + ["--to", "lstar", "--zarr-format", "3", "--chunk-elems", str(a.chunk_elems),
                       "--shard-elems", str(a.shard_elems)]
    if kind == "h5ad":
        return base + ["--to", "h5ad"]
    if kind == "anndata-zarr":
        return base + ["--to", "anndata-zarr", "--zarr-format", "2"]
    raise ValueError(kind)


def run_all(a):
    R = Runner(a)
    os.makedirs(OUT, exist_ok=True)
    sizes = a.sizes.split(",")
    comps = a.comps.split(",")
    tools = set(a.tools.split(","))
    threads = [int(t) for t in a.threads.split(",")]
    lstar_variants = a.lstar_variants.split(",")
    for size in sizes:
        for comp in comps:
            ensure_input(size, comp)
        for rep in range(a.reps):
            for comp in comps:
                src = input_path(size, comp)
                if "floor" in tools:
                    R.run(size, comp, "floor-cat", "floor", None, rep, ["cat", src], src, None)
                    dst = os.path.join(OUT, f"cp_{size}_{comp}.h5ad")
                    R.run(size, comp, "floor-cp", "floor", None, rep, ["cp", src, dst], src, dst)
                    # userspace read+write copy (cp uses in-kernel copy_file_range on ext4)
                    R.run(size, comp, "floor-cat>file", "floor", None, rep, ["cat", src], src, dst,
                          stdout_to=dst)
                if "peer" in tools:
                    dst = os.path.join(OUT, f"peer_{size}.zarr")
                    keep = comp == comps[0]
                    R.run(size, comp, "peer-h5ad2zarr", "peer", None, rep,
                          [PY, PEER, "h5ad2zarr", src, dst], src, dst, keep=keep)
                    if keep and os.path.exists(dst):
                        back = os.path.join(OUT, f"peer_{size}_back.h5ad")
                        R.run(size, "-", "peer-zarr2h5ad", "peer", None, rep,
                              [PY, PEER, "zarr2h5ad", dst, back], dst, back)
                if "lstar" in tools:
                    # --lstar-alt NAME=PATH: every variant also with that binary, as "<variant>@NAME"
                    # (interleaved with the main binary's runs: same load for both)
                    bins = [("", a.lstar)] + [("@" + x.split("=", 1)[0], x.split("=", 1)[1]) for x in a.lstar_alt]
                    for kind in lstar_variants:
                        if kind == "h5ad" or (kind in ("lstar-v2-zlib", "lstar-v3-zlib") and comp != "gzip"):
                            continue
                        for t in threads:
                            for tag, binary in bins:
                                ext = ".zarr" if kind == "anndata-zarr" else ".lstar.zarr"
                                dst = os.path.join(OUT, f"lstar_{size}_{kind}{ext}")
                                keep = kind == "lstar-v2" and comp == comps[0] and t == threads[-1] and not tag
                                R.run(size, comp, f"lstar-h5ad2{kind}{tag}", "lstar", t, rep,
                                      lstar_cmds(a, src, dst, kind, t, binary), src, dst, keep=keep)
                    v2 = os.path.join(OUT, f"lstar_{size}_lstar-v2.lstar.zarr")
                    if "h5ad" in lstar_variants and comp == comps[0] and os.path.exists(v2):
                        for t in threads:
                            for tag, binary in bins:
                                back = os.path.join(OUT, f"lstar_{size}_back.h5ad")
                                R.run(size, "-", f"lstar-lstar2h5ad{tag}", "lstar", t, rep,
                                      lstar_cmds(a, v2, back, "h5ad", t, binary), v2, back)
        for p in os.listdir(OUT):  # keep the disk clean between sizes
            if f"_{size}" in p:
                rm(os.path.join(OUT, p))


# ---------------------------------------------------------------------------------------------- table

def load(results):
    rows = []
    with open(results) as f:
        for line in f:
            r = json.loads(line)
            if r.get("rc") == 0:
                rows.append(r)
    return rows


def med(rows, **k):
    sel = [r for r in rows if all(r.get(kk) == vv for kk, vv in k.items())]
    if not sel:
        return None
    return {"wall": statistics.median(r["wall_s"] for r in sel),
            "cpu": statistics.median(r.get("user_s", 0) + r.get("sys_s", 0) for r in sel),
            "rss": statistics.median(r["maxrss_kb"] for r in sel) / 1024,
            "rss_max": max(r["maxrss_kb"] for r in sel) / 1024,
            "n": len(sel), "load": statistics.median(r["load1"] for r in sel),
            "in": sel[0]["in_bytes"], "out": statistics.median((r["out_bytes"] or 0) for r in sel)}


def fmt(x, nd=2):
    return "–" if x is None else f"{x:.{nd}f}"


def table(a):
    rows = load(a.results)
    sizes = sorted({r["size"] for r in rows}, key=size_cells)
    out = []
    out.append("| cells | input | variant | threads | wall s | CPU s | peak RSS MB | n | load1 | out MB "
               "| wall vs peer | CPU vs peer | wall vs cp | speed-up 1→2 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    variants = sorted({(r["variant"], r["comp"]) for r in rows},
                      key=lambda v: (["floor-cat", "floor-cp", "floor-cat>file"].index(v[0]) if v[0].startswith("floor") else
                                     2 if v[0].startswith("peer") else 3, v[0], v[1]))
    for size in sizes:
        for comp in ("none", "gzip", "-"):
            cp = med(rows, size=size, comp=comp if comp != "-" else "none", variant="floor-cp")
            for variant, vc in variants:
                if vc != comp:
                    continue
                ths = sorted({r["threads"] for r in rows if r["variant"] == variant and r["size"] == size
                              and r["comp"] == comp}, key=lambda t: t or 0)
                for t in ths:
                    m = med(rows, size=size, comp=comp, variant=variant, threads=t)
                    if m is None:
                        continue
                    peer = None
                    if variant.startswith("lstar-h5ad2"):
                        peer = med(rows, size=size, comp=comp, variant="peer-h5ad2zarr")
                    elif variant.startswith("lstar-lstar2h5ad"):
                        peer = med(rows, size=size, comp="-", variant="peer-zarr2h5ad")
                    su = None
                    if t == 2:
                        m1 = med(rows, size=size, comp=comp, variant=variant, threads=1)
                        su = m1["wall"] / m["wall"] if m1 else None
                    out.append(f"| {size} | {comp} | {variant} | {t if t else ''} | {fmt(m['wall'])} | {fmt(m['cpu'])} | "
                               f"{m['rss']:.0f} | {m['n']} | {m['load']:.1f} | {m['out'] / 2**20:.0f} | "
                               f"{fmt(m['wall'] / peer['wall']) if peer else ''} | "
                               f"{fmt(m['cpu'] / peer['cpu']) if peer and peer['cpu'] else ''} | "
                               f"{fmt(m['wall'] / cp['wall']) if cp and not variant.startswith('floor-cat') else ''} | "
                               f"{fmt(su) if su else ''} |")
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="25k,50k,100k,200k")
    ap.add_argument("--comps", default="none,gzip")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="floor,peer,lstar")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--lstar", default=os.path.join(ROOT, "build-bench", "tools", "lstar"))
    ap.add_argument("--lstar-variants", default="lstar-v2,lstar-v3-shard,h5ad,anndata-zarr")
    ap.add_argument("--lstar-alt", action="append", default=[],
                    help="NAME=PATH: also run every lstar variant with this binary (variant name + '@NAME')")
    ap.add_argument("--lstar-extra", default="--no-check", help="extra options for every lstar convert (space-separated)")
    ap.add_argument("--chunk-elems", type=int, default=1 << 20)
    ap.add_argument("--shard-elems", type=int, default=1 << 24)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench", "out", "convert", "results.jsonl"))
    ap.add_argument("--table", action="store_true")
    a = ap.parse_args()
    a.lstar_extra = a.lstar_extra.split()
    if a.table:
        table(a)
    else:
        run_all(a)


if __name__ == "__main__":
    main()
