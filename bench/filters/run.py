#!/usr/bin/python3
"""HDF5 filters and `lstar repack` vs the peers: file size, X decode time, repack time.

For each input h5ad (synthetic count matrices from bench/gen_synth_h5ad.py, and the real files of
../shared/data), every variant is produced from the same input in the same run:

  peers (h5repack, Debian's plugins):  none, gzip-4, lzf (32000), blosc-lz4 (32001)
  ours  (lstar repack):                gzip-4, zstd-1/3/9, zstd-3+shuffle,
                                       zstd-3+shuffle+delta-indices, --best

and measured:
  * file size and the stored bytes of X (sum of the storage of X's datasets);
  * X decode: h5py (read X/data, X/indices, X/indptr — or dense X — fully), lstar through HDF5's
    pipeline (bench/filters/read_x.c "hdf5", one thread) and lstar's parallel chunk decoder
    (read_x "parallel": raw chunks, lstar_codec in lstar_pool workers);
  * repack time (wall clock of the whole command).
Each timing is repeated --reps times; the median is reported, with the load average seen.

  /usr/bin/python3 bench/filters/run.py [--cells 25000] [--reps 3] [--repack-reps 3] [--real-only]
                                        [--sweep] [--json bench/out/filters/results.json]
  /usr/bin/python3 bench/filters/run.py --decode-rounds 9 [--real-only]   (decode timing only, interleaved)

--sweep adds the candidates considered for --best (zstd levels x shuffle, chunk sizes) on the
synthetic file.  Writes a markdown table on stdout and the raw numbers as JSON.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
DATA = os.path.join(ROOT, "bench", "data", "filters")
OUT = os.path.join(ROOT, "bench", "out", "filters")
PY = "/usr/bin/python3"
DEBIAN_PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

H5PY_READ = r"""
import sys, time, statistics, h5py
path, reps = sys.argv[1], int(sys.argv[2])
ts = []
for _ in range(reps):
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        x = f["X"]
        if isinstance(x, h5py.Dataset):
            n = x[()].nbytes
        else:
            n = sum(x[k][()].nbytes for k in ("data", "indices", "indptr"))
    ts.append(time.perf_counter() - t0)
print(statistics.median(ts), n)
"""

NUMERIC = r"""
import sys, h5py
out = []
with h5py.File(sys.argv[1], "r") as f:
    def visit(n, o):
        if isinstance(o, h5py.Dataset) and o.shape and o.size > 0 and o.dtype.kind in "iufb":
            out.append("/" + n)
    f.visititems(visit)
print(",".join(out))
"""

X_BYTES = r"""
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    x = f["X"]
    ds = [x] if isinstance(x, h5py.Dataset) else [x[k] for k in ("data", "indices", "indptr")]
    print(sum(d.id.get_storage_size() for d in ds))
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def env_with_plugins(lstar):
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = subprocess.run([lstar, "plugin-path"], stdout=subprocess.PIPE,
                                             check=True).stdout.decode().strip()
    env["LD_PRELOAD"] = "liblzf.so.1"  # Debian's lzf plugin lacks its liblzf dependency
    return env


def timed(cmd, env):
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.decode()[-500:]))
    return dt, p.stdout.decode(), load


def variants(lstar):
    h = ["h5repack"]
    return [
        ("none (h5repack)", h + ["-f", "NONE"]),
        ("gzip-4 (h5repack)", h + ["-f", "GZIP=4"]),
        # optional (flag 1): lzf gives up on incompressible chunks, which mandatory would make an error
        ("lzf (h5repack)", h + ["-f", "UD=32000,1,1,0"]),
        # blosc: clevel 5, byte shuffle, lz4 (compcode 1); only on non-empty numeric datasets, because
        # Debian's blosc plugin dies with SIGFPE on empty ones
        ("blosc-lz4 (h5repack)", h + ["-f", "{NUMERIC}:UD=32001,1,7,0,0,0,0,5,1,1"]),
        ("gzip-4 (lstar)", [lstar, "repack", "--gzip=4"]),
        ("zstd-1", [lstar, "repack", "--filter", "zstd:1"]),
        ("zstd-3", [lstar, "repack", "--filter", "zstd:3"]),
        ("zstd-9", [lstar, "repack", "--filter", "zstd:9"]),
        ("zstd-3+shuffle", [lstar, "repack", "--filter", "zstd:3", "--shuffle"]),
        ("zstd-3+shuffle+delta", [lstar, "repack", "--filter", "zstd:3", "--shuffle", "--delta-indices"]),
        ("best (lstar --best)", [lstar, "repack", "--best"]),
    ]


def sweep_variants(lstar):
    out = []
    for lvl in (3, 5, 7, 9, 12, 15, 19):
        out.append(("sweep zstd-%d+shuffle+delta" % lvl,
                    [lstar, "repack", "--filter", "zstd:%d" % lvl, "--shuffle", "--delta-indices"]))
    for lvl in (5, 7, 9):
        out.append(("sweep zstd-%d+delta (no shuffle)" % lvl,
                    [lstar, "repack", "--filter", "zstd:%d" % lvl, "--delta-indices"]))
    for ce in (65536, 262144, 1048576):
        out.append(("sweep zstd-7+shuffle+delta chunk %d" % ce,
                    [lstar, "repack", "--filter", "zstd:7", "--shuffle", "--delta-indices", "--chunk-elems", str(ce)]))
    out.append(("sweep zstd-7+shuffle+delta latest-format",
                [lstar, "repack", "--filter", "zstd:7", "--shuffle", "--delta-indices", "--latest-format"]))
    return out


def measure(name, src, label, cmd, env, reps, read_x, repack_reps):
    dst = os.path.join(OUT, "%s.%s.h5ad" % (name, label.split()[0].replace("/", "_") + str(abs(hash(label)) % 10000)))
    times, loads = [], []
    for _ in range(repack_reps):
        if os.path.exists(dst):
            os.unlink(dst)
        if cmd[0] == "h5repack":
            if any("{NUMERIC}" in a for a in cmd):
                lst = subprocess.run([PY, "-c", NUMERIC, src], stdout=subprocess.PIPE, env=env,
                                     check=True).stdout.decode().strip()
                cmd = [a.replace("{NUMERIC}", lst) for a in cmd]
            dt, _, ld = timed(cmd + [src, dst], env)
        else:
            dt, _, ld = timed(cmd + [src, dst, "--overwrite"], env)
        times.append(dt)
        loads.append(ld)
    size = os.path.getsize(dst)
    xb = int(subprocess.run([PY, "-c", X_BYTES, dst], stdout=subprocess.PIPE, env=env, check=True).stdout)
    dt, out, ld = timed([PY, "-c", H5PY_READ, dst, str(reps)], env)
    loads.append(ld)
    h5py_s = float(out.split()[0])
    ours = {}
    for mode in ("hdf5", "parallel"):
        ts, sums = [], set()
        for _ in range(reps):
            _, out, ld = timed([read_x, dst, mode], env)
            loads.append(ld)
            t, nbytes, s = out.split()
            ts.append(float(t))
            sums.add(s)
        ours[mode] = statistics.median(ts)
        ours[mode + "_sum"] = sums.pop() if len(sums) == 1 else "inconsistent"
    os.unlink(dst)
    r = {"input": name, "variant": label, "file_bytes": size, "x_bytes": xb, "repack_s": statistics.median(times),
         "h5py_decode_s": h5py_s, "lstar_hdf5_decode_s": ours["hdf5"], "lstar_parallel_decode_s": ours["parallel"],
         "checksum": ours["hdf5_sum"], "checksum_parallel": ours["parallel_sum"],
         "load_min": min(loads), "load_max": max(loads)}
    log("  %-40s %10d B  X %10d B  repack %.2fs  h5py %.3fs  lstar %.3fs / %.3fs  load %.1f-%.1f" % (
        label, size, xb, r["repack_s"], h5py_s, ours["hdf5"], ours["parallel"], min(loads), max(loads)))
    return r


def table(rows, name):
    base = [r for r in rows if r["input"] == name and r["variant"].startswith("gzip-4 (h5repack)")]
    if not base:
        return ""
    b = base[0]
    lines = ["| variant | file | × gzip-4 | X stored | × gzip-4 | X decode h5py | speed-up | lstar (HDF5) | lstar parallel | repack |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["input"] != name:
            continue
        lines.append("| %s | %s | %.3f | %s | %.3f | %.3f s | %.2f× | %.3f s | %.3f s | %.2f s |" % (
            r["variant"], human(r["file_bytes"]), r["file_bytes"] / b["file_bytes"], human(r["x_bytes"]),
            r["x_bytes"] / b["x_bytes"], r["h5py_decode_s"], b["h5py_decode_s"] / r["h5py_decode_s"],
            r["lstar_hdf5_decode_s"], r["lstar_parallel_decode_s"], r["repack_s"]))
    return "\n".join(lines)


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def build_read_x(build):
    exe = os.path.join(OUT, "read_x")
    src = os.path.join(HERE, "read_x.c")
    libs = subprocess.run(["pkg-config", "--libs", "hdf5", "jansson", "libzstd", "zlib", "libdeflate", "blosc",
                           "liblz4"], stdout=subprocess.PIPE, check=True).stdout.decode().split()
    subprocess.run(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                    "-I" + os.path.join(ROOT, "lstar-core", "include"),
                    "-I" + os.path.join(build, "lstar-core", "include"), src, "-o", exe,
                    os.path.join(build, "lstar-core", "liblstar.a")] + libs + ["-lpthread", "-ldl", "-lm"], check=True)
    return exe


def prepare_inputs(args, env):
    os.makedirs(DATA, exist_ok=True)
    inputs = []
    if not args.real_only:
        synth = os.path.join(DATA, "synth_%dk.h5ad" % (args.cells // 1000))
        if not os.path.exists(synth):
            log("generating", synth)
            subprocess.run([PY, os.path.join(ROOT, "bench", "gen_synth_h5ad.py"), "--cells", str(args.cells),
                            "--out", synth], check=True)
        inputs.append(("synth %dk×20k" % (args.cells // 1000), synth))
    real = [("pbmc68k_reduced", os.path.join(SHARED, "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad")),
            ("anndataR example", os.path.join(SHARED, "scverse_anndataR/inst/extdata/example.h5ad"))]
    z = os.path.join(SHARED, "scverse_scanpy/tests/_data/10x-10k-subset.zarr")
    if os.path.isdir(z):
        h = os.path.join(DATA, "10x-10k-subset.h5ad")
        if not os.path.exists(h):
            subprocess.run([PY, "-c", "import anndata,sys; anndata.read_zarr(sys.argv[1]).write_h5ad(sys.argv[2])",
                            z, h], check=True, env=env)
        real.append(("10x-10k-subset (zarr→h5ad)", h))
    for name, p in real:
        if os.path.exists(p):
            inputs.append((name, p))
        else:
            log("absent, skipped:", p)
    return inputs


def decode_rounds(args, env, read_x):
    """Interleaved decode timing: make gzip-4 and a few of ours once per input, then time every
    file's X decode in rounds (order rotated each round) and report medians, so that a load change
    on the shared machine hits all variants alike."""
    lstar = os.path.join(args.build, "tools", "lstar")
    chosen = ("none (h5repack)", "gzip-4 (h5repack)", "lzf (h5repack)", "blosc-lz4 (h5repack)", "zstd-3",
              "zstd-3+shuffle+delta", "best (lstar --best)")
    rows = []
    for name, src in prepare_inputs(args, env):
        files = []
        for label, cmd in variants(lstar):
            if label not in chosen:
                continue
            dst = os.path.join(OUT, "dec.%d.h5ad" % len(files))
            if os.path.exists(dst):
                os.unlink(dst)
            if cmd[0] == "h5repack":
                if any("{NUMERIC}" in a for a in cmd):
                    lst = subprocess.run([PY, "-c", NUMERIC, src], stdout=subprocess.PIPE, env=env,
                                         check=True).stdout.decode().strip()
                    cmd = [a.replace("{NUMERIC}", lst) for a in cmd]
                timed(cmd + [src, dst], env)
            else:
                timed(cmd + [src, dst, "--overwrite"], env)
            files.append((label, dst, {"h5py": [], "hdf5": [], "parallel": []}, []))
        for rnd in range(args.rounds):
            k = rnd % len(files)
            for label, dst, ts, loads in files[k:] + files[:k]:
                _, out, ld = timed([PY, "-c", H5PY_READ, dst, "1"], env)
                ts["h5py"].append(float(out.split()[0]))
                loads.append(ld)
                for mode in ("hdf5", "parallel"):
                    _, out, ld = timed([read_x, dst, mode], env)
                    ts[mode].append(float(out.split()[0]))
        base = [f for f in files if f[0] == "gzip-4 (h5repack)"][0]
        bmed = statistics.median(base[2]["h5py"])
        log("%s (%d rounds)" % (name, args.rounds))
        for label, dst, ts, loads in files:
            med = {m: statistics.median(v) for m, v in ts.items()}
            rows.append({"input": name, "variant": label, "h5py_s": med["h5py"], "lstar_hdf5_s": med["hdf5"],
                         "lstar_parallel_s": med["parallel"], "speedup_h5py_vs_gzip4": bmed / med["h5py"],
                         "h5py_all": ts["h5py"], "load_min": min(loads), "load_max": max(loads),
                         "file_bytes": os.path.getsize(dst)})
            log("  %-24s h5py %.3f s (%.2fx gzip-4)  lstar %.3f / %.3f s  load %.1f-%.1f" % (
                label, med["h5py"], bmed / med["h5py"], med["hdf5"], med["parallel"], min(loads), max(loads)))
            os.unlink(dst)
    with open(args.json, "w") as f:
        json.dump({"decode_rounds": rows, "rounds": args.rounds,
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, f, indent=1)
    for name in dict.fromkeys(r["input"] for r in rows):
        print("\n### %s: X decode, median of %d interleaved rounds\n" % (name, args.rounds))
        print("| variant | file | X decode h5py | × faster than gzip-4 | lstar (HDF5) | lstar parallel | load |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for r in rows:
            if r["input"] == name:
                print("| %s | %s | %.3f s | %.2f× | %.3f s | %.3f s | %.1f–%.1f |" % (
                    r["variant"], human(r["file_bytes"]), r["h5py_s"], r["speedup_h5py_vs_gzip4"], r["lstar_hdf5_s"],
                    r["lstar_parallel_s"], r["load_min"], r["load_max"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=25000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--repack-reps", type=int, default=3)
    ap.add_argument("--real-only", action="store_true")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated variant-name prefixes")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-repack-rel"))
    ap.add_argument("--json", default=os.path.join(OUT, "results.json"))
    ap.add_argument("--decode-rounds", dest="rounds", type=int, default=0,
                    help="only the interleaved decode timing, this many rounds")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    lstar = os.path.join(args.build, "tools", "lstar")
    env = env_with_plugins(lstar)
    read_x = build_read_x(args.build)
    if args.rounds:
        return decode_rounds(args, env, read_x)
    rows = []
    for name, src in prepare_inputs(args, env):
        log("%s: %s (%d bytes), load %.1f" % (name, src, os.path.getsize(src), os.getloadavg()[0]))
        vs = variants(lstar) + (sweep_variants(lstar) if args.sweep and name.startswith("synth") else [])
        if args.only:
            keep = tuple(args.only.split(","))
            vs = [v for v in vs if v[0].startswith(keep) or v[0].startswith("gzip-4 (h5repack)")]
        for label, cmd in vs:
            rows.append(measure(name.split()[0], src, label, cmd, env, args.reps, read_x,
                                args.repack_reps))
        sums = {r["checksum"] for r in rows if r["input"] == name.split()[0]}
        log("  X checksums over all variants: %s" % ("identical" if len(sums) == 1 else sums))
    with open(args.json, "w") as f:
        json.dump({"rows": rows, "nproc": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
                  f, indent=1)
    for name in dict.fromkeys(r["input"] for r in rows):
        print("\n### %s\n" % name)
        print(table(rows, name))


if __name__ == "__main__":
    main()
