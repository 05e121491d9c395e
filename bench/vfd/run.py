#!/usr/bin/python3
"""Benchmark: reading a Zarr store through the lstar HDF5 VFD.

Reads all of X (sparse data, indices, indptr) and obsm, with h5py, through
  (a) the lstar VFD               h5py.File(store, driver="lstar")          (open = image build, reported apart)
  (b) the FUSE mount              h5py.File(MNT/<name>.h5ad) served by `lstar mount`
  (c) the equivalent native h5ad  same codec and chunks (`lstar convert store x.h5ad --compression zstd`,
                                  which copies the store's chunks verbatim)
  (d) zarr-python 2.13            zarr.open(store)[...][:]
each in a fresh process (peak RSS = that process's ru_maxrss), page cache warm, median of --repeat runs.
Data: bench/gen_synth_h5ad.py (--cells, 20000 genes, 1000 nnz/cell) → `lstar convert` to an
anndata-zarr v2 store with zstd:3 (and to an L★ store for an extra (a) row).
Run:  /usr/bin/python3 bench/vfd/run.py --build build-rel [--cells 25000] [--repeat 3]
Writes bench/out/vfd/<tag>.json and prints a markdown table."""
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

READER = r'''
import sys, time, resource, os
mode, path = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.environ["LSTAR_VFD_PY"])
t0 = time.perf_counter()
total = 0
if mode == "zarr":
    import zarr
    g = zarr.open_group(path, mode="r")
    t1 = time.perf_counter()
    arrays = [g["X/data"], g["X/indices"], g["X/indptr"]] + [g["obsm"][k] for k in sorted(g["obsm"].array_keys())]
    for a in arrays:
        total += a[...].nbytes
else:
    import h5py
    if mode == "vfd":
        import lstar_h5vfd
        f = lstar_h5vfd.File(path)
    else:
        f = h5py.File(path, "r")
    t1 = time.perf_counter()
    arrays = [f["X/data"], f["X/indices"], f["X/indptr"]] + [f["obsm"][k] for k in sorted(f["obsm"].keys())]
    for a in arrays:
        total += a[()].nbytes
    f.close()
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, t2 - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, total)
'''


OPENER = r'''
import sys, os, time, resource, ctypes
sys.path.insert(0, os.environ["LSTAR_VFD_PY"])
import lstar_h5vfd
lib = lstar_h5vfd.library()
class St(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("size", "metadata_bytes", "chunk_refs", "fill_chunks", "key_bytes",
                                                "decoded_chunks", "map_bytes")]
def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
img = ctypes.c_void_p()
lib.H5open()
m0 = rss()
r0 = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
if lib.lstar_vfd_image_open(sys.argv[1].encode(), None, ctypes.byref(img), None) != 0:
    sys.exit("image_open failed")
t = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
m1 = rss()
s = St()
lib.lstar_vfd_image_get_stats(img, ctypes.byref(s))
n = s.chunk_refs + s.decoded_chunks + s.fill_chunks
print(t, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, n, s.metadata_bytes + s.map_bytes, s.metadata_bytes,
      s.map_bytes, m1 - m0, r1.ru_maxrss * 1024 - m0, s.size)
'''


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return r.stdout


def measure(mode, path, env, repeat):
    rows = []
    for _ in range(repeat):
        out = run([PY, "-c", READER, mode, path], env=env).split()
        rows.append([float(x) for x in out])
    med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
    return {"open_s": med(0), "read_s": med(1), "total_s": med(2), "peak_rss_mb": med(3) / 1024.0,
            "bytes": int(rows[0][4])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-rel"))
    ap.add_argument("--cells", type=int, default=25000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--chunk-elems", type=int, default=0, help="chunking of the stores (0: lstar convert's default, 1M)")
    ap.add_argument("--data", default=os.path.join(ROOT, "bench", "data", "vfd"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out", "vfd"))
    ap.add_argument("--many-chunks", action="store_true",
                    help="also time building the images of stores with 135k-250k chunks (lstar synth, 64-element "
                         "chunks; the synthetic h5ad converted with --many-chunk-elems)")
    ap.add_argument("--many-chunk-elems", type=int, default=200, help="chunking of the many-chunk anndata-zarr store")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    lstar = os.path.join(build, "tools", "lstar")
    os.makedirs(a.data, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = os.path.join(build, "filters", "plugins") + ":/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
    env["LSTAR_VFD_PY"] = os.path.join(build, "vfd", "python")

    src = os.path.join(a.data, "synth_%d.h5ad" % a.cells)
    if not os.path.exists(src):
        run([PY, os.path.join(ROOT, "bench", "gen_synth_h5ad.py"), "--cells", str(a.cells), "--layer", "none",
             "--out", src])
    tag = "synth_%d%s" % (a.cells, "_c%d" % a.chunk_elems if a.chunk_elems else "")
    store = os.path.join(a.data, tag + ".zstd.zarr")
    lstore = os.path.join(a.data, tag + ".zstd.lstar.zarr")
    native = os.path.join(a.data, tag + ".zstd.h5ad")
    chunking = ["--chunk-elems", str(a.chunk_elems)] if a.chunk_elems else []
    for dst in (store, lstore):
        if not os.path.exists(dst):
            run([lstar, "convert", src, dst, "--compression", "zstd:3", "--no-check", *chunking])
    if not os.path.exists(native):
        run([lstar, "convert", store, native, "--compression", "zstd", "--no-check"])

    res = {}
    res["a_vfd"] = measure("vfd", store, env, a.repeat)
    res["a_vfd_lstar_store"] = measure("vfd", lstore, env, a.repeat)
    mnt = tempfile.mkdtemp(prefix="lstar_vfd_bench_")
    t = time.perf_counter()
    run([lstar, "mount", store, mnt, "--name", "synth"], env=env)
    mount_s = time.perf_counter() - t
    try:
        res["b_fuse"] = measure("h5py", os.path.join(mnt, "synth.h5ad"), env, a.repeat)
        res["b_fuse"]["mount_s"] = mount_s
    finally:
        run([lstar, "umount", mnt])
        os.rmdir(mnt)
    res["c_native_h5ad"] = measure("h5py", native, env, a.repeat)
    res["d_zarr_python"] = measure("zarr", store, env, a.repeat)
    c = res["c_native_h5ad"]["read_s"]
    for k in res:
        res[k]["read_vs_native"] = res[k]["read_s"] / c
    chunks = int(run([PY, "-c", "import zarr,sys; print(zarr.open_group(sys.argv[1],'r')['X/data'].nchunks)", store]))
    meta = {"cells": a.cells, "genes": 20000, "nnz_per_cell": 1000, "codec": "zstd:3", "repeat": a.repeat,
            "X_data_chunks": chunks, "store_bytes": int(run(["du", "-sb", store]).split()[0]),
            "native_bytes": os.path.getsize(native)}
    if a.many_chunks:
        many = os.path.join(a.data, "many_chunks.lstar.zarr")
        if not os.path.exists(many):
            run([lstar, "synth", many, "--cells", "20000", "--genes", "2000", "--density", "0.05", "--compression",
                 "zstd:1", "--chunk-elems", "64"])
        # the synthetic h5ad as anndata-zarr with small chunks: X/data and X/indices in ~125k chunks each
        many_ad = os.path.join(a.data, "synth_%d_c%d.zstd.zarr" % (a.cells, a.many_chunk_elems))
        if not os.path.exists(many_ad):
            run([lstar, "convert", src, many_ad, "--compression", "zstd:3", "--no-check", "--chunk-elems",
                 str(a.many_chunk_elems)])
        meta["many_chunks"] = {}
        for name, path in (("lstar_synth_64", many), ("anndata_zarr_c%d" % a.many_chunk_elems, many_ad)):
            rows = [[float(x) for x in run([PY, "-c", OPENER, path], env=env).split()] for _ in range(a.repeat)]
            med = lambda i: statistics.median(r[i] for r in rows)  # noqa: E731
            meta["many_chunks"][name] = {"wall_s": med(0), "cpu_s": med(1), "chunks": int(rows[0][2]),
                                         "kept_bytes": int(rows[0][3]), "pages_bytes": int(rows[0][4]),
                                         "map_bytes": int(rows[0][5]), "rss_after_open_bytes": med(6),
                                         "peak_rss_over_start_bytes": med(7), "image_bytes": int(rows[0][8])}
    with open(os.path.join(a.out, tag + ".json"), "w") as f:
        json.dump({"meta": meta, "results": res}, f, indent=1)
    print("%s cells x 20000 genes, zstd:3, X/data in %d chunks, median of %d warm runs" % (a.cells, chunks, a.repeat))
    print("| reader | open (s) | read X + obsm (s) | total (s) | read / native | peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    names = {"a_vfd": "(a) h5py, lstar VFD (anndata-zarr store)", "a_vfd_lstar_store": "(a') h5py, lstar VFD (L★ store)",
             "b_fuse": "(b) h5py, `lstar mount`", "c_native_h5ad": "(c) h5py, native h5ad (same codec/chunks)",
             "d_zarr_python": "(d) zarr-python 2.13"}
    for k, r in res.items():
        print("| %s | %.3f | %.3f | %.3f | %.2f× | %.0f |" % (names[k], r["open_s"], r["read_s"], r["total_s"],
                                                            r["read_vs_native"], r["peak_rss_mb"]))
    print("(b) mount (image build) took %.3f s" % mount_s)
    if a.many_chunks:
        for name, m in meta["many_chunks"].items():
            print("image of %s (%d chunks): %.3f s wall, %.3f s CPU; kept %.1f MB (pages %.1f + map %.1f) = %.0f B/chunk;"
                  " RSS after open +%.1f MB, peak +%.1f MB" % (name, m["chunks"], m["wall_s"], m["cpu_s"],
                                                              m["kept_bytes"] / 1e6, m["pages_bytes"] / 1e6,
                                                              m["map_bytes"] / 1e6, m["kept_bytes"] / m["chunks"],
                                                              m["rss_after_open_bytes"] / 1e6,
                                                              m["peak_rss_over_start_bytes"] / 1e6))


if __name__ == "__main__":
    main()
