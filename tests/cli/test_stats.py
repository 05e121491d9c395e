"""lstar stats: per-gene / per-cell statistics against a numpy/scipy reference computed here from
anndata's own reading of real files (h5ad, anndata-zarr v2 zip and v3 sharded zip, L★ stores made by
`lstar convert`); byte-identical output for any --threads / --block-nnz / storage chunking; --json,
--into, --gene-prefix / --gene-list; bad input exits 2 with a clear message."""
import json
import os
import shutil
import subprocess
import tempfile

import anndata
import numpy as np
import scipy.sparse as sp

from clitest import SHARED, check, check_eq, finish, need, run

np.seterr(all="ignore")  # log1p of the scaled (negative) pbmc68k X gives NaN, in numpy and in lstar alike

EX = need(os.path.join(SHARED, "scverse_anndataR", "inst", "extdata", "example.h5ad"))
PBMC = need(os.path.join(SHARED, "scverse_scanpy", "src", "scanpy", "datasets", "10x_pbmc68k_reduced.h5ad"))
PBMC_V3 = need(os.path.join(SHARED, "scverse_scanpy", "src", "scanpy", "datasets", "10x_pbmc68k_reduced.zarr.zip"))
V078_ZIP = need(os.path.join(SHARED, "scverse_anndata", "tests", "data", "archives", "v0.7.8", "adata.zarr.zip"))
V078_H5 = need(os.path.join(SHARED, "scverse_anndata", "tests", "data", "archives", "v0.7.8", "adata.h5ad"))


def parse_tsv(text):
    lines = text.rstrip("\n").split("\n")
    header = lines[0].split("\t")
    names, cols = [], [[] for _ in header[1:]]
    for ln in lines[1:]:
        parts = ln.split("\t")
        names.append(parts[0])
        for k, p in enumerate(parts[1:]):
            cols[k].append(float(p))
    return header, names, [np.array(c) for c in cols]


def stats(src, *args):
    rc, out, err = run("stats", src, *args)
    if rc != 0:
        print("stderr: " + err)
    return rc, out, err


def close(got, want, scale, what, tol=1e-10):
    """|got - want| <= tol * max(|want|, scale) elementwise (scale: the column's RMS, so values that
    cancel to ~0 are compared at the magnitude of their inputs)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    bound = tol * np.maximum(np.abs(want), scale)
    ok = got.shape == want.shape and bool(np.all((np.abs(got - want) <= bound) | (np.isnan(got) & np.isnan(want))))
    if not ok and got.shape == want.shape:
        i = int(np.nanargmax(np.abs(got - want) / np.maximum(bound, 1e-300)))
        what += " (worst at %d: %r vs %r)" % (i, got[i], want[i])
    return check(ok, what)


def dense(m):
    return np.asarray(m.todense() if sp.issparse(m) else m, dtype=np.float64)


def ref_genes(D, lognorm=False, population=False, depth=None):
    X = D.copy()
    tgt = None
    if depth is not None:
        tot = D.sum(axis=1)
        tgt = float(np.median(tot[tot > 0])) if depth == "median" else float(depth)
        f = np.where(tot != 0, tgt / np.where(tot != 0, tot, 1), 1.0)
        X = X * f[:, None]
    if lognorm:
        X = np.log1p(X)
    n = X.shape[0]
    mean = X.mean(axis=0)
    var = ((X - mean) ** 2).sum(axis=0) / (n if population else n - 1)
    rms = np.sqrt((X ** 2).mean(axis=0))
    return mean, var, rms, tgt


def check_genes(src, field, D, stored_nnz, label, extra=()):
    for lognorm, population in ((False, False), (True, False), (False, True)):
        args = ["--field", field] + (["--lognorm"] if lognorm else []) + (["--population"] if population else [])
        rc, out, err = stats(src, *args, *extra)
        if not check_eq(rc, 0, "%s %s exit" % (label, " ".join(args))):
            continue
        header, names, cols = parse_tsv(out)
        check_eq(header, ["gene", "mean", "var", "nnz"], "%s header" % label)
        mean, var, rms, _ = ref_genes(D, lognorm, population)
        close(cols[0], mean, rms, "%s %s mean" % (label, " ".join(args)))
        close(cols[1], var, rms ** 2, "%s %s var" % (label, " ".join(args)))
        check(np.array_equal(cols[2], stored_nnz), "%s %s nnz" % (label, " ".join(args)))


tmp = tempfile.mkdtemp()
try:
    # ---- real files: every encoding of example.h5ad -------------------------------------------------------
    a = anndata.read_h5ad(EX)
    gene_names = list(a.var_names)
    mats = {"X": a.X, "counts": a.layers["counts"], "csc_counts": a.layers["csc_counts"],
            "dense_counts": a.layers["dense_counts"], "dense_X": a.layers["dense_X"]}
    for field, M in mats.items():
        D = dense(M)
        nnz = np.asarray(sp.csc_matrix(M).getnnz(axis=0)) if sp.issparse(M) else (D != 0).sum(axis=0)
        check_genes(EX, field, D, nnz, "example.h5ad " + field)
        # depth normalisation (default median target and an explicit one), lognorm
        for dn, want_t in (("--depth-normalize", "median"), ("--depth-normalize=10000", 1e4)):
            rc, out, err = stats(EX, "--field", field, dn, "--lognorm", "--json")
            check_eq(rc, 0, "example %s %s exit" % (field, dn))
            j = json.loads(out)
            mean, var, rms, tgt = ref_genes(D, True, False, want_t)
            close([j["depth_target"]], [tgt], 0, "example %s %s target" % (field, dn), 1e-15)
            close(j["mean"], mean, rms, "example %s %s mean" % (field, dn))
            close(j["var"], var, rms ** 2, "example %s %s var" % (field, dn))
            check_eq(j["names"], gene_names, "example %s json names" % field)
        # per cell
        rc, out, err = stats(EX, "--field", field, "--axis", "cells")
        header, names, cols = parse_tsv(out)
        check_eq(header, ["cell", "total_counts", "n_genes_by_counts"], "example %s cells header" % field)
        check_eq(names, list(a.obs_names), "example %s cell names" % field)
        close(cols[0], D.sum(axis=1), np.abs(D).sum(axis=1), "example %s total_counts" % field, 1e-14)
        check(np.array_equal(cols[1], (D != 0).sum(axis=1)), "example %s n_genes_by_counts" % field)

    # ---- the same matrix from h5ad, anndata-zarr v3 (sharded, zstd) and L★ stores: identical bytes ---------
    p = anndata.read_h5ad(PBMC)
    R = p.raw.X
    D = dense(R)
    check_genes(PBMC, "raw", D, np.asarray(sp.csc_matrix(R).getnnz(axis=0)), "pbmc68k raw (csr)")
    check_genes(PBMC, "X", dense(p.X), (dense(p.X) != 0).sum(axis=0), "pbmc68k X (dense)")
    rc, base_raw, _ = stats(PBMC, "--field", "raw", "--lognorm")
    rc, base_x, _ = stats(PBMC, "--field", "X")
    # the anndata-zarr v3 copy (sharded, zstd) holds the same X (and counts instead of raw)
    rc2, v3_x, err = stats(PBMC_V3, "--field", "X")
    check_eq(rc2, 0, "pbmc68k zarr v3 exit")
    check(v3_x == base_x, "pbmc68k X: anndata-zarr v3 output == h5ad output")
    rc2, v3_counts, err = stats(PBMC_V3, "--field", "counts", "--lognorm", "--threads", "2", "--block-nnz", "999")
    _, _, cols = parse_tsv(v3_counts)
    check_eq(len(cols[0]), 765, "pbmc68k zarr v3 counts (csr, sharded) rows")
    check(bool(np.all(np.array(cols[2]) <= 700)), "pbmc68k zarr v3 counts nnz plausible")
    stores = []
    for fmt, comp, chunk in (("2", "none", "0"), ("2", "zstd:3", "1000"), ("3", "zstd:1", "777"),
                             ("3", "gzip:1", "5000")):
        dst = os.path.join(tmp, "pbmc_%s_%s_%s.lstar.zarr" % (fmt, comp.replace(":", ""), chunk))
        rc, out, err = run("convert", PBMC, dst, "--zarr-format", fmt, "--compression", comp, "--chunk-elems", chunk)
        if not check_eq(rc, 0, "convert pbmc68k to %s" % os.path.basename(dst)):
            print(err)
            continue
        stores.append(dst)
        for field, base, extra in (("raw", base_raw, ["--lognorm"]), ("X", base_x, [])):
            for threads in ("1", "2", "7"):
                rc, out, err = stats(dst, "--field", field, "--threads", threads, *extra)
                check(rc == 0 and out == base, "%s %s threads %s == h5ad output" % (os.path.basename(dst), field,
                                                                                    threads))
    # anndata 0.7.8 archive: zarr v2 zip vs h5ad
    rc, z78, err = stats(V078_ZIP)
    rc2, h78, err2 = stats(V078_H5)
    check(rc == 0 and rc2 == 0 and z78 == h78, "anndata 0.7.8 zarr zip == h5ad output")
    a78 = anndata.read_h5ad(V078_H5)
    D78 = dense(a78.X)
    _, _, cols78 = parse_tsv(h78)
    mean, var, rms, _ = ref_genes(D78)
    close(cols78[0], mean, rms, "anndata 0.7.8 X mean")
    close(cols78[1], var, rms ** 2, "anndata 0.7.8 X var")

    # ---- thread and block-size invariance: byte-identical output ---------------------------------------
    for field in ("raw", "X"):
        for extra in ([], ["--lognorm"], ["--lognorm", "--depth-normalize"], ["--axis", "cells", "--gene-prefix", "RP"]):
            outs = set()
            for threads, block in (("1", "0"), ("2", "1"), ("7", "13"), ("2", "1000"), ("1", "100000"), ("7", "0")):
                rc, out, err = stats(PBMC, "--field", field, "--threads", threads, "--block-nnz", block, *extra)
                outs.add((rc, out))
            check_eq(len(outs), 1, "pbmc68k %s %s: one output for threads 1/2/7 x block sizes 1..100000" % (field, extra))

    # ---- gene groups ---------------------------------------------------------------------------------------
    group = np.array([g.startswith("RP") for g in p.var_names])
    rc, out, err = stats(PBMC, "--field", "raw", "--axis", "cells", "--gene-prefix", "RP")
    header, names, cols = parse_tsv(out)
    check_eq(header, ["cell", "total_counts", "n_genes_by_counts", "pct_counts_group"], "group header")
    tot = D.sum(axis=1)
    close(cols[2], 100 * D[:, group].sum(axis=1) / tot, 1e-300, "pct_counts_group (prefix RP)", 1e-12)
    lst = os.path.join(tmp, "genes.txt")
    chosen = list(p.var_names[::7])
    with open(lst, "w") as f:
        f.write("\n".join(chosen + ["NO_SUCH_GENE"]) + "\n")
    rc, out, err = stats(PBMC, "--field", "raw", "--axis", "cells", "--gene-list", lst, "--out",
                         os.path.join(tmp, "cells.json"))
    check_eq((rc, out, err), (0, "", ""), "gene list to --out FILE.json")
    with open(os.path.join(tmp, "cells.json")) as f:
        j = json.load(f)
    sel = np.isin(np.array(p.var_names), chosen)
    close(j["pct_counts_group"], 100 * D[:, sel].sum(axis=1) / tot, 1e-300, "pct_counts_group (list)", 1e-12)
    check_eq(j["axis"], "cells", "json axis")
    check_eq((j["n_cells"], j["n_genes"]), (700, 765), "json sizes")

    # ---- edge cases through the CLI: empty rows/columns, explicit zeros, NaN, one cell ----------------------
    edge = os.path.join(tmp, "edge.h5ad")
    M = sp.csr_matrix((np.array([3.0, 0.0, 5.0, np.nan, 2.0], dtype=np.float32),
                       np.array([1, 3, 1, 2, 4]), np.array([0, 2, 2, 3, 4, 5])), shape=(5, 6))
    anndata.AnnData(M, obs={"o": np.arange(5)}, var={"v": np.arange(6)}).write_h5ad(edge)
    rc, out, err = stats(edge, "--json")
    j = json.loads(out)
    check_eq(j["nnz"], [0, 2, 1, 1, 1, 0], "edge nnz (explicit zero counted)")
    check_eq(j["mean"][0], 0, "edge empty column mean")
    check_eq(j["var"][0], 0, "edge empty column var")
    check_eq(j["mean"][2], None, "edge NaN column mean -> null")
    check_eq(j["mean"][3], 0, "edge explicit-zero column mean")
    check(abs(j["mean"][1] - 8 / 5) < 1e-15 and abs(j["var"][1] - np.var([3, 5, 0, 0, 0], ddof=1)) < 1e-14,
          "edge column 1 mean/var")
    rc, out, err = stats(edge, "--axis", "cells")
    # NaN != 0, so the NaN entry counts as detected (as numpy's (X != 0).sum would)
    check_eq(out.split("\n")[4].split("\t")[1:], ["nan", "1"], "edge NaN row total prints nan")
    one = os.path.join(tmp, "one.h5ad")
    anndata.AnnData(np.array([[1.0, 0.0, 4.0]], dtype=np.float32)).write_h5ad(one)
    rc, out, err = stats(one)
    check_eq(out.split("\n")[1:4], ["0\t1\t0\t1", "1\t0\t0\t0", "2\t4\t0\t1"], "single cell: var 0")

    # ---- --into: fields over genes / cells with provenance -------------------------------------------------
    into = os.path.join(tmp, "into.lstar.zarr")
    rc, out, err = run("convert", PBMC, into)
    check_eq(rc, 0, "convert for --into")
    rc, out, err = stats(PBMC, "--field", "raw", "--lognorm", "--into", into, "--out", os.path.join(tmp, "g.tsv"))
    check_eq((rc, err), (0, ""), "stats --into")
    rc, out, err = stats(into, "--field", "raw", "--axis", "cells", "--gene-prefix", "RP", "--into", into,
                         "--out", os.path.join(tmp, "c.tsv"))
    check_eq((rc, err), (0, ""), "stats --into (cells, into its own source)")
    rc, out, err = run("validate", into)
    check_eq(rc, 0, "validate after --into")
    rc, out, err = run("inspect", into, "--json")
    info = json.loads(out)
    names = [f["name"] for f in info["fields"]]
    for n in ("raw_mean", "raw_var", "raw_nnz", "raw_total_counts", "raw_n_genes_by_counts", "raw_pct_counts_group"):
        check(n in names, "--into added field %s" % n)
    import zarr
    g = zarr.open_consolidated(into, mode="r")
    prov = g["fields/raw_mean"].attrs["lstar"]["provenance"]
    check_eq(prov["lstar stats"]["lognorm"], True, "--into provenance records lognorm")
    check_eq(list(g["fields/raw_mean"].attrs["lstar"]["span"]), ["genes"], "--into span genes")
    _, _, cols = parse_tsv(open(os.path.join(tmp, "g.tsv")).read())
    check(np.array_equal(g["fields/raw_mean/values"][:], cols[0]), "--into values == TSV values")
    rc, out, err = stats(PBMC, "--field", "raw", "--into", into, "--out", os.path.join(tmp, "g2.tsv"))
    check(rc == 2 and "already has a field 'raw_mean'" in err, "--into again without --overwrite refused")
    rc, out, err = stats(PBMC, "--field", "raw", "--into", into, "--overwrite", "--out", os.path.join(tmp, "g2.tsv"))
    check_eq(rc, 0, "--into --overwrite")
    g = zarr.open_consolidated(into, mode="r")
    check_eq(g["fields/raw_mean"].attrs["lstar"]["provenance"]["lstar stats"]["lognorm"], False,
             "--overwrite replaced the field")

    # ---- bad input ------------------------------------------------------------------------------------------
    def bad(args, msg, what):
        rc, out, err = run("stats", *args)
        check(rc == 2 and out == "" and msg in err, "%s: exit 2, stderr has %r (got %d, %r)" % (what, msg, rc, err))

    bad([EX, "--field", "nope"], "no field 'nope'", "missing field")
    bad([EX, "--field", "leiden"], "field 'leiden' is categorical, not numeric", "categorical field")
    bad([EX, "--field", "String"], "field 'String' is utf8, not numeric", "string field")
    bad([EX, "--field", "total_counts"], "field 'total_counts' spans 1 axis(es)", "1-D field")
    bad([EX, "--field", "pca"], "field 'pca' is over [cells, pca], not cells x genes", "embedding")
    bad([EX, "--field", "connectivities"], "is over [cells, cells], not cells x genes", "relation")
    bad([os.path.join(tmp, "missing.h5ad")], "No such file or directory", "missing SRC")
    bad([EX, "--axis", "rows"], "--axis must be genes or cells", "bad --axis")
    bad([EX, "--depth-normalize=-3"], "--depth-normalize=TARGET needs a positive number", "bad target")
    # corrupt indices in an L★ store: exit 2 naming the array
    if stores:
        broken = os.path.join(tmp, "broken.lstar.zarr")
        shutil.copytree(stores[0], broken)
        import zarr as _z
        arr = _z.open(os.path.join(broken, "fields", "raw", "indices"), mode="r+")
        v = arr[:]
        v[5] = 100000
        arr[:] = v
        bad([broken, "--field", "raw"], "indices[5] = 100000 is outside [0, 765)", "corrupt indices")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
