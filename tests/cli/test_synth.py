"""lstar synth: writes a valid L★ store (validate → 0 errors), inspect shows the demo
fields, values check out against an independent reader (zarr-python + numpy),
output is deterministic (seed, threads), v3 + compression + sharding works, and an
existing OUT is never touched without --overwrite."""
import hashlib
import json
import os
import shutil
import tempfile

from clitest import check, check_eq, finish, run

import numpy as np
import zarr

tmp = tempfile.mkdtemp()


def tree_digest(path):
    """sha256 over every (relative path, content, mtime) in a directory tree."""
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(d, fn)
            h.update(os.path.relpath(p, path).encode())
            with open(p, "rb") as f:
                h.update(f.read())
            h.update(str(os.stat(p).st_mtime_ns).encode())
    return h.hexdigest()


def content_digest(path):
    h = hashlib.sha256()
    for d, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(d, fn)
            h.update(os.path.relpath(p, path).encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


try:
    out_dir = os.path.join(tmp, "demo.lstar.zarr")
    rc, out, err = run("synth", "demo.lstar.zarr", cwd=tmp)
    check_eq(rc, 0, "synth default exit")
    check_eq(err, "", "synth stderr (not a terminal: no progress bar)")
    check_eq(out, "wrote demo.lstar.zarr: 500 cells x 2000 genes, 99290 nonzeros, 8 clusters, 4 axes, 8 fields "
             "(Zarr v2, 1.7 MiB)\n", "synth summary line")

    rc, out, err = run("validate", "demo.lstar.zarr", cwd=tmp)
    check_eq((rc, out, err), (0, "0 errors, 0 warnings\n", ""), "validate synth output")

    rc, out, err = run("inspect", "demo.lstar.zarr", "--json", cwd=tmp)
    check_eq(rc, 0, "inspect --json synth output exit")
    rep = json.loads(out)
    check_eq(rep["profiles"], ["lstar-synth@0.1"], "profiles")
    check_eq([(a["name"], a["length"], a["origin"], a["role"], a["induced_by"]) for a in rep["axes"]],
             [("cells", 500, "observed", "observation", None), ("genes", 2000, "observed", "feature", None),
              ("pca", 10, "derived", "coordinate", None), ("leiden", 8, "derived", "factor", "leiden")], "axes")
    f = {x["name"]: x for x in rep["fields"]}
    check_eq(list(f), ["counts", "X", "pca", "n_counts", "leiden", "cell_type", "pct_mt", "knn"], "field order")
    check_eq((f["counts"]["role"], f["counts"]["state"], f["counts"]["encoding"], f["counts"]["span"]),
             ("measure", "raw", "csr", ["cells", "genes"]), "counts")
    check_eq((f["X"]["role"], f["X"]["state"], f["X"]["encoding"]), ("measure", "lognorm", "csr"), "X")
    check_eq((f["pca"]["role"], f["pca"]["encoding"], f["pca"]["span"]), ("embedding", "dense", ["cells", "pca"]),
             "pca")
    check_eq((f["leiden"]["role"], f["leiden"]["encoding"]), ("label", "categorical"), "leiden")
    check_eq((f["cell_type"]["role"], f["cell_type"]["encoding"]), ("label", "utf8"), "cell_type")
    check_eq((f["pct_mt"]["nullable"], f["pct_mt"]["encoding"]), (True, "dense"), "pct_mt nullable")
    check_eq((f["knn"]["role"], f["knn"]["subtype"], f["knn"]["span"]), ("relation", "similarity", ["cells", "cells"]),
             "knn")
    rc, out, err = run("inspect", "demo.lstar.zarr", cwd=tmp)
    check_eq(rc, 0, "inspect (text) synth output exit")
    for name in ("counts", "X", "leiden"):
        check(any(l.startswith("  %s " % name) for l in out.splitlines()), "inspect text lists field %s" % name)

    # values, read independently with zarr-python
    g = zarr.open_group(out_dir, mode="r")
    n_cells, n_genes = 500, 2000

    def csr(name):
        fg = g["fields"][name]
        return fg["data"][:], fg["indices"][:], fg["indptr"][:]

    cd, ci, cp = csr("counts")
    xd, xi, xp = csr("X")
    check(cd.dtype == np.float32 and xd.dtype == np.float32, "counts/X data float32")
    check(len(cp) == n_cells + 1 and cp[0] == 0 and cp[-1] == len(cd) and np.all(np.diff(cp) >= 0), "counts indptr")
    check(np.all((ci >= 0) & (ci < n_genes)), "counts indices in range")
    check(all(np.all(np.diff(ci[cp[i]:cp[i + 1]]) > 0) for i in range(n_cells)), "counts indices sorted per row")
    dens = len(cd) / (n_cells * n_genes)
    check(0.08 < dens < 0.12, "density near 0.1: %.4f" % dens)
    check(np.all(cd >= 1) and np.all(cd == np.round(cd)), "counts are positive integers")
    check(np.array_equal(ci, xi) and np.array_equal(cp, xp), "X has counts' sparsity pattern")
    totals = np.add.reduceat(cd.astype(np.float64), cp[:-1]) if len(cd) else np.zeros(n_cells)
    totals[np.diff(cp) == 0] = 0
    rows = np.repeat(np.arange(n_cells), np.diff(cp))
    want_x = np.log1p(cd.astype(np.float64) / totals[rows] * 1e4).astype(np.float32)
    check(np.allclose(xd, want_x, rtol=1e-6, atol=1e-6), "X == log1p(counts/total*1e4)")
    nc = g["fields"]["n_counts"]["values"][:]
    check(nc.dtype == np.float64 and np.array_equal(nc, totals), "n_counts == row totals (float64)")
    pca = g["fields"]["pca"]["values"][:]
    check(pca.shape == (n_cells, 10) and pca.dtype == np.float32, "pca [500, 10] float32")
    codes = g["fields"]["leiden"]["codes"][:]
    check(codes.min() >= 0 and codes.max() < 8 and len(set(codes.tolist())) == 8, "leiden codes cover 8 clusters")
    mask = g["fields"]["pct_mt"]["mask"][:]
    check(mask.dtype == np.uint8 and 0 < mask.sum() < 50, "pct_mt: a few missing (%d)" % mask.sum())
    kd, ki, kp = csr("knn")
    check(all(i not in ki[kp[i]:kp[i + 1]] for i in range(n_cells)), "knn: no self edges")
    check(all(np.all(codes[ki[kp[i]:kp[i + 1]]] == codes[i]) for i in range(n_cells)), "knn: neighbours share cluster")
    check(np.all(np.diff(kp) <= 10) and np.all((kd > 0) & (kd <= 1)), "knn: <= 10 neighbours, weights in (0, 1]")

    # deterministic: same seed → same bytes, whatever the thread count
    rc, out, err = run("synth", "again.lstar.zarr", "--threads", "1", cwd=tmp)
    check_eq(rc, 0, "synth again (1 thread) exit")
    check_eq(content_digest(os.path.join(tmp, "again.lstar.zarr")), content_digest(out_dir),
             "same seed → identical store (threads 1 vs all)")
    rc, out, err = run("synth", "seed2.lstar.zarr", "--seed", "2", cwd=tmp)
    check(rc == 0 and content_digest(os.path.join(tmp, "seed2.lstar.zarr")) != content_digest(out_dir),
          "another seed → different store")

    # existing OUT: refused without --overwrite, untouched
    before = tree_digest(out_dir)
    rc, out, err = run("synth", "demo.lstar.zarr", "--seed", "3", cwd=tmp)
    check_eq((rc, out, err), (2, "", "lstar: synth: demo.lstar.zarr: already exists (use --overwrite to replace it)\n"),
             "synth over existing OUT")
    check_eq(tree_digest(out_dir), before, "existing OUT untouched")
    rc, out, err = run("synth", "demo.lstar.zarr", "--seed", "2", "--overwrite", cwd=tmp)
    check_eq(rc, 0, "synth --overwrite exit")
    check_eq(content_digest(out_dir), content_digest(os.path.join(tmp, "seed2.lstar.zarr")), "--overwrite replaced OUT")
    check(not [n for n in os.listdir(tmp) if ".tmp-" in n], "no temporary directories left behind")

    # Zarr v3, compression, chunking, sharding
    rc, out, err = run("synth", "v3.lstar.zarr", "--cells", "300", "--genes", "50", "--density", "0.2",
                       "--zarr-format", "3", "--compression", "zstd:3", "--chunk-elems", "500",
                       "--shard-elems", "2000", cwd=tmp)
    check_eq((rc, err), (0, ""), "synth v3 sharded zstd exit")
    check(out.startswith("wrote v3.lstar.zarr: 300 cells x 50 genes, ") and "(Zarr v3, " in out, "v3 summary %r" % out)
    rc, out, err = run("validate", "v3.lstar.zarr", cwd=tmp)
    check_eq((rc, out), (0, "0 errors, 0 warnings\n"), "validate v3 synth output")
    rc, out, err = run("inspect", "v3.lstar.zarr", "--json", cwd=tmp)
    rep = json.loads(out)
    arr = {a["path"]: a for a in rep["arrays"]}
    cdat = arr.get("fields/counts/data", {})
    check(rep["zarr_format"] == 3 and cdat.get("shards") is not None and "zstd" in (cdat.get("codecs") or ""),
          "v3 counts/data sharded + zstd: %r" % cdat)
    rc, out, err = run("synth", "bad.lstar.zarr", "--compression", "nosuchcodec", cwd=tmp)
    check(rc == 2 and err.startswith("lstar: synth: --compression nosuchcodec: ") and err.count("\n") == 1,
          "unknown compression → exit 2: %r" % err)
    check(not os.path.exists(os.path.join(tmp, "bad.lstar.zarr")), "nothing written for a bad --compression")
finally:
    shutil.rmtree(tmp)

finish()
