"""Interop: our AnnData writer (lstar_anndata_write, via $LSTAR_HELPERS/lstar_test_adwrite) against
anndata 0.8, on every h5ad / anndata-zarr file in the shared data and on upstream's golden L★ stores.

For each AnnData file F:
  F --lstar_anndata_read--> dataset --lstar_dataset_write--> L★ store --lstar_dataset_read-->
    --lstar_anndata_write--> out.h5ad (gzip, 2 threads) and out.zarr (Zarr v2, zlib)
then anndata 0.8 opens both outputs and every element is compared with anndata's reading of the
ORIGINAL (or, for files anndata 0.8 cannot read — the Zarr v3 store — with the h5ad it was made
from, which holds the same data): obs/var names, X, raw.X and raw.var_names, every layer, every
obs/var column (dtype kind, values, categories, order, missing entries), obsm/varm, obsp/varp and
uns (recursively).  Elements the reader or the writer reported as dropped are skipped, and only
those.  A Zarr v3 output is also written and read back with our reader.

For the golden stores (golden_v2 / golden_v3): store → h5ad, and the values of expected.json are
checked on anndata 0.8's reading of the h5ad and on our reader's reading of it.
Run with /usr/bin/python3 (Debian's anndata 0.8)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

warnings.filterwarnings("ignore")
# h5py must find our zstd plugin (32015) to read what we write with zstd; Debian's plugins stay visible
BUILD = os.environ.get("LSTAR_BUILD", "")
PLUGINS = os.path.join(BUILD, "filters", "plugins") if BUILD else ""
if PLUGINS and os.path.isdir(PLUGINS):
    os.environ["HDF5_PLUGIN_PATH"] = PLUGINS + ":/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
import anndata as ad  # noqa: E402

DATA = os.environ.get("LSTAR_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
HELPERS = os.environ.get("LSTAR_HELPERS", "")
ADWRITE = os.path.join(HELPERS, "lstar_test_adwrite")
ADREAD = os.path.join(HELPERS, "lstar_test_anndata")

FILES = [
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip",
    "scverse_anndataR/inst/extdata/example.h5ad",
    "scverse_anndata/tests/data/archives/v0.5.0/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.0/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.8/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.11.4/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip",
    "scverse_anndata/tests/data/archives/v0.7.8/adata.zarr.zip",
    "scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip",
    "kaizhang_anndata-rs/anndata-test-utils/tests/data/sample.h5ad",
    "scverse_scanpy/scanpy/tests/_data/kbet-sim.h5ad",
    "chanzuckerberg_cellxgene/test/fixtures/1e4dfec4-c0b2-46ad-a04e-ff3ffb3c0a8f.h5ad",
    "chanzuckerberg_cellxgene/test/fixtures/nan.h5ad",
    "scverse_scanpy/tests/_data/neighbors_shortcut_ref.h5ad",
    "scverse_scanpy/tests/_data/t-cells.h5ad",
    "scverse_scanpy/tests/_data/10x-10k-subset.zarr",
]
# anndata 0.8 cannot read Zarr v3: compare with the file holding the same data
REFERENCE = {
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip":
        "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
}
GOLDEN = "kharchenkolab_lstar/conformance/fixtures"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def read_native(path):
    if ".zarr" in path:
        if path.endswith(".zip"):
            import zarr
            return ad.read_zarr(zarr.ZipStore(path, mode="r"))
        return ad.read_zarr(path)
    return ad.read_h5ad(path)


def run_adwrite(src, dst, *args):
    cmd = [ADWRITE, src, dst] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        failures.append("%s: lstar_test_adwrite failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        return None
    return json.loads(p.stdout)


def dense(m):
    if sp.issparse(m):
        return m.toarray()
    return np.asarray(m)


def same_matrix(a, b, what):
    if not check(a is not None and b is not None, "%s: missing (%r vs %r)" % (what, type(a), type(b))):
        return
    if not check(tuple(a.shape) == tuple(b.shape), "%s: shape %s vs %s" % (what, a.shape, b.shape)):
        return
    check(sp.issparse(a) == sp.issparse(b), "%s: sparse %s vs %s" % (what, sp.issparse(a), sp.issparse(b)))
    if sp.issparse(a) and sp.issparse(b):
        check(a.format == b.format, "%s: format %s vs %s" % (what, a.format, b.format))
        check(a.nnz == b.nnz, "%s: nnz %d vs %d" % (what, a.nnz, b.nnz))
    x, y = dense(a), dense(b)
    check(x.dtype == y.dtype, "%s: dtype %s vs %s" % (what, x.dtype, y.dtype))
    if x.dtype.kind in "fc":
        check(np.array_equal(x, y, equal_nan=True), "%s: values differ" % what)
    else:
        check(np.array_equal(x, y), "%s: values differ" % what)


def same_column(a, b, what):
    if isinstance(a.dtype, pd.CategoricalDtype):
        if not check(isinstance(b.dtype, pd.CategoricalDtype), "%s: not categorical (%s)" % (what, b.dtype)):
            return
        check(list(map(str, a.cat.categories)) == list(map(str, b.cat.categories)), "%s: categories" % what)
        check(bool(a.cat.ordered) == bool(b.cat.ordered), "%s: ordered" % what)
        check(np.array_equal(np.asarray(a.cat.codes), np.asarray(b.cat.codes)), "%s: codes" % what)
        return
    if pd.api.types.is_extension_array_dtype(a.dtype):
        check(str(a.dtype) == str(b.dtype), "%s: dtype %s vs %s" % (what, a.dtype, b.dtype))
        check(np.array_equal(np.asarray(a.isna()), np.asarray(b.isna())), "%s: missing entries" % what)
        ok = ~np.asarray(a.isna())
        check(np.array_equal(np.asarray(a[ok].astype(object)), np.asarray(b[ok].astype(object))), "%s: values" % what)
        return
    x, y = np.asarray(a), np.asarray(b)
    if x.dtype.kind in "OUS":
        check(y.dtype.kind in "OUS", "%s: dtype %s vs %s" % (what, x.dtype, y.dtype))
        check([str(v) for v in x] == [str(v) for v in y], "%s: strings differ" % what)
        return
    check(x.dtype == y.dtype, "%s: dtype %s vs %s" % (what, x.dtype, y.dtype))
    if x.dtype.kind == "f":
        check(np.array_equal(x, y, equal_nan=True), "%s: values differ" % what)
    else:
        check(np.array_equal(x, y), "%s: values differ" % what)


def legacy(label):
    return "v0.5.0" in label or "kbet-sim" in label or "nan.h5ad" in label


def same_rank_genes_groups(a, b, path, label):
    """Regenerated from the de.* fields: every gene a group ranked keeps its statistic (the output
    ranks all genes, NaN for the ones the original did not rank), params are kept."""
    if not check(isinstance(b, dict), "%s: %s: not a dict" % (label, path)):
        return
    for k in ("groupby", "reference", "method"):
        if k in a.get("params", {}):
            check(str(np.asarray(a["params"][k]).ravel()[0]) == str(b["params"].get(k)), "%s: %s/params/%s" % (label, path, k))
    names_a, names_b = a["names"], b["names"]
    for key in ("scores", "logfoldchanges", "pvals", "pvals_adj"):
        if key not in a:
            continue
        if not check(key in b, "%s: %s/%s missing" % (label, path, key)):
            continue
        for g in names_a.dtype.names:
            if not check(g in names_b.dtype.names, "%s: %s: group %s missing" % (label, path, g)):
                continue
            got = dict(zip([str(x) for x in names_b[g]], b[key][g]))
            for gene, v in zip([str(x) for x in names_a[g]], a[key][g]):
                w = got.get(gene)
                check(w is not None and (np.isclose(float(v), float(w), rtol=1e-6, atol=1e-6) or (np.isnan(v) and np.isnan(w))),
                      "%s: %s/%s[%s][%s]: %r vs %r" % (label, path, key, g, gene, v, w))


def same_uns(a, b, path, skip, label):
    if skip(path):
        return
    if path == "uns/rank_genes_groups" and isinstance(a, dict) and "names" in a and \
            str(np.asarray(a.get("params", {}).get("reference", "rest")).ravel()[0]) == "rest":
        same_rank_genes_groups(a, b, path, label)
        return
    if isinstance(a, dict):
        if not check(isinstance(b, dict), "%s: %s: not a dict in the output (%s)" % (label, path, type(b).__name__)):
            return
        for k, v in a.items():
            p = "%s/%s" % (path, k)
            if skip(p):
                continue
            if check(k in b, "%s: %s: missing in the output" % (label, p)):
                same_uns(v, b[k], p, skip, label)
        return
    if isinstance(a, (str, bytes)):
        if isinstance(b, np.ndarray) and b.shape == (1,) and b.dtype.kind in "OUS" and legacy(label):
            # pre-0.7 files store scalars as 1-element arrays; anndata's legacy reader unwraps them,
            # the L★ passthrough keeps the stored shape (so the rewritten file holds the array)
            b = b[0]
        check(isinstance(b, (str, bytes)) and str(a) == str(b), "%s: %s: %r vs %r" % (label, path, a, b))
        return
    if isinstance(a, (bool, np.bool_)) or np.isscalar(a):
        av, bv = np.asarray(a), np.asarray(b)
        check(av.shape == bv.shape and (av == bv or (av.dtype.kind == "f" and np.isnan(av) and np.isnan(bv))),
              "%s: %s: %r vs %r" % (label, path, a, b))
        return
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    if isinstance(a, np.ndarray):
        bv = np.asarray(b)
        if a.dtype.kind in "OUS":
            check([str(v) for v in a.ravel()] == [str(v) for v in bv.ravel()] and a.shape == bv.shape,
                  "%s: %s: strings differ" % (label, path))
        elif a.dtype.names:
            ok = bv.dtype.names is not None and list(a.dtype.names) == list(bv.dtype.names) and a.shape == bv.shape
            for n in a.dtype.names if ok else ():
                x, y = a[n], bv[n]
                if x.dtype.kind in "OUS":
                    ok = ok and [str(v) for v in x] == [str(v) for v in y]
                else:
                    ok = ok and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
            check(ok, "%s: %s: record array differs" % (label, path))
        else:
            check(a.shape == bv.shape and np.array_equal(a, bv, equal_nan=a.dtype.kind in "fc"),
                  "%s: %s: array differs (%s %s vs %s %s)" % (label, path, a.dtype, a.shape, bv.dtype, bv.shape))
        return
    check(False, "%s: %s: uns value of type %s not compared" % (label, path, type(a).__name__))


def make_skip(report):
    """What the reader or the writer said it dropped, as element paths (and field names)."""
    entries = list(report.get("read_dropped", [])) + list(report.get("dropped", []))
    paths = set()
    names = set()
    de = False
    for e in entries:
        head = e.split(" (", 1)[0]
        paths.add(head)
        names.add(head)
        if head.startswith("de."):
            de = True
    if de:
        paths.add("uns/rank_genes_groups")

    def skip(p):
        return p in paths or any(p.startswith(q + "/") for q in paths)
    return skip, names


def compare(orig, new, report, label, via_reference=False):
    skip, names = make_skip(report)
    check(list(map(str, orig.obs_names)) == list(map(str, new.obs_names)), "%s: obs_names" % label)
    check(list(map(str, orig.var_names)) == list(map(str, new.var_names)), "%s: var_names" % label)
    if orig.X is not None and not skip("X"):
        same_matrix(orig.X, new.X, "%s: X" % label)
    for k in orig.layers.keys():
        if skip("layers/" + k):
            continue
        if check(k in new.layers, "%s: layer %s missing" % (label, k)):
            same_matrix(orig.layers[k], new.layers[k], "%s: layers/%s" % (label, k))
    # (the Zarr v3 copy of pbmc68k has an empty raw group where the h5ad has raw)
    if orig.raw is not None and not skip("raw/X") and not skip("raw.X") and not via_reference:
        if check(new.raw is not None, "%s: raw missing" % label):
            same_matrix(orig.raw.X, new.raw.X, "%s: raw/X" % label)
            check(list(map(str, orig.raw.var_names)) == list(map(str, new.raw.var_names)), "%s: raw var_names" % label)
    for df, odf, ndf in (("obs", orig.obs, new.obs), ("var", orig.var, new.var)):
        for c in odf.columns:
            if skip("%s/%s" % (df, c)) or str(c) in names:
                continue
            if check(c in ndf.columns, "%s: %s column %s missing" % (label, df, c)):
                same_column(odf[c], ndf[c], "%s: %s/%s" % (label, df, c))
        check([c for c in odf.columns if not skip("%s/%s" % (df, c)) and str(c) not in names] == list(ndf.columns),
              "%s: %s column order %s vs %s" % (label, df, list(odf.columns), list(ndf.columns)))
    for slot in ("obsm", "varm", "obsp", "varp"):
        om, nm = getattr(orig, slot), getattr(new, slot)
        for k in om.keys():
            if skip("%s/%s" % (slot, k)) or isinstance(om[k], pd.DataFrame):
                continue
            if check(k in nm, "%s: %s/%s missing" % (label, slot, k)):
                same_matrix(om[k], nm[k], "%s: %s/%s" % (label, slot, k))
    ouns = dict(orig.uns)
    nuns = dict(new.uns)
    for k in ("neighbors",):  # anndata adds obsp-backed entries to the view: compare the stored dict
        if k in ouns:
            ouns[k] = dict(getattr(orig.uns, "data", orig.uns).get(k, {}))
            nuns[k] = dict(getattr(new.uns, "data", new.uns).get(k, {}))
    same_uns(ouns, nuns, "uns", skip, label)


def roundtrip_file(idx, rel, tmp):
    src = os.path.join(DATA, rel)
    if not os.path.exists(src):
        print("SKIP (missing) %s" % rel)
        return
    ref = REFERENCE.get(rel, rel)
    orig = read_native(os.path.join(DATA, ref))
    base = os.path.join(tmp, "%02d_%s" % (idx, os.path.basename(rel).replace(".", "_")))
    store = base + ".lstar.zarr"
    # the first run makes the L★ store (and writes the h5ad from what it reads back from it);
    # the Zarr outputs are written from that store
    outs = [
        (src, base + ".h5ad", ["--format", "h5ad", "--compression", "gzip:4", "--threads", "2",
                               "--via-lstar", store, "--chunk-elems", "5000"]),
        (store, base + ".zarr", ["--format", "zarr2", "--compression", "zlib:1", "--threads", "2"]),
    ]
    read_dropped = []
    for s, out, args in outs:
        report = run_adwrite(s, out, *args)
        if report is None:
            return
        if s == src:
            read_dropped = report["read_dropped"]
        else:
            report["read_dropped"] = read_dropped  # the L★ store carries the source's manifest too
        new = read_native(out)
        compare(orig, new, report, "%s -> %s" % (rel, os.path.basename(out)), ref != rel)
    # Zarr v3 (sharded, zstd): anndata 0.8 cannot read it; our reader must see the same fields
    out3 = base + ".v3.zarr"
    report = run_adwrite(store, out3, "--format", "zarr3", "--compression", "zstd:3", "--chunk-elems", "3000",
                         "--shard-elems", "12000", "--threads", "2")
    if report is not None:
        a = dump(base + ".h5ad")
        b = dump(out3)
        if a is not None and b is not None:
            # what the Zarr writer cannot write yet (record arrays: the de.* fields) is reported
            gone = set(e.split(" (", 1)[0] for e in report["dropped"])
            fa = {f["name"]: f for f in a["fields"] if f["name"] not in gone}
            fb = {f["name"]: f for f in b["fields"]}
            check(sorted(fa) == sorted(fb), "%s: v3 fields %s vs %s" % (rel, sorted(fa), sorted(fb)))
            for n, f in fa.items():
                g = fb.get(n)
                if g is None:
                    continue
                for key in ("encoding", "span", "shape", "nnz", "categories", "values", "missing", "codes_sum"):
                    check(f.get(key) == g.get(key), "%s: v3 field %s %s: %r vs %r" % (rel, n, key, f.get(key), g.get(key)))
                if isinstance(f.get("sum"), float) and isinstance(g.get("sum"), float):
                    check(math.isclose(f["sum"], g["sum"], rel_tol=1e-9, abs_tol=1e-9), "%s: v3 field %s sum" % (rel, n))
    print("ok %s" % rel)


def chunk_copy(idx, rel, tmp):
    """A Zarr-backed dense X (L★ store written with zlib) → h5ad with gzip: the chunks are copied
    verbatim (HDF5 chunk shape = the store's, same bytes) and anndata 0.8 reads the same X (and the
    same sparse raw.X, whose data/indices chunks are copied too)."""
    src = os.path.join(DATA, rel)
    if not os.path.exists(src):
        print("SKIP (missing) %s" % rel)
        return
    import h5py
    import zarr
    base = os.path.join(tmp, "cc%02d" % idx)
    store = base + ".lstar.zarr"
    report = run_adwrite(src, base + ".h5ad", "--compression", "gzip", "--via-lstar", store,
                         "--lstar-compression", "zlib:6", "--lstar-chunk-elems", "200000")
    if report is None:
        return
    orig = read_native(src)
    new = ad.read_h5ad(base + ".h5ad")
    same_matrix(orig.X, new.X, "chunk copy %s: X" % rel)
    if orig.raw is not None:  # sparse: data/indices chunks copied, indices validated, indptr rebuilt
        same_matrix(orig.raw.X, new.raw.X, "chunk copy %s: raw/X" % rel)
    za = zarr.open(store, mode="r")["fields/X/values"]
    with h5py.File(base + ".h5ad", "r") as f:
        d = f["X"]
        check(d.chunks == za.chunks, "chunk copy %s: HDF5 chunks %s vs Zarr %s" % (rel, d.chunks, za.chunks))
        check(d.compression == "gzip" and d.compression_opts == 6, "chunk copy %s: deflate level" % rel)
        mask, raw = d.id.read_direct_chunk((0,) * d.ndim)
        key = ".".join("0" * d.ndim)
        check(raw == za.store[za.path + "/" + key], "chunk copy %s: first chunk bytes differ" % rel)
    print("ok chunk copy %s" % rel)


def filters(tmp):
    """h5ad with zstd (our plugin, through --plugin-dir) and lzf (Debian's plugin): anndata 0.8 reads
    the same values as the original."""
    rel = "scverse_anndataR/inst/extdata/example.h5ad"
    src = os.path.join(DATA, rel)
    if not os.path.exists(src):
        print("SKIP (missing) %s" % rel)
        return
    import h5py
    orig = read_native(src)
    for comp, fid in (("zstd:5", 32015), ("lzf", 32000)):
        if comp.startswith("zstd") and not os.path.isdir(PLUGINS):
            print("SKIP zstd: no plugin directory (LSTAR_BUILD unset)")
            continue
        out = os.path.join(tmp, "filters_%s.h5ad" % comp.split(":")[0])
        args = ["--compression", comp, "--threads", "2", "--chunk-elems", "1000"]
        if comp.startswith("zstd"):
            args += ["--plugin-dir", PLUGINS]
        report = run_adwrite(src, out, *args)
        if report is None:
            continue
        with h5py.File(out, "r") as f:
            plist = f["X/data"].id.get_create_plist()
            ids = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
            check(ids == [fid], "%s: X/data filters %s" % (comp, ids))
        compare(orig, ad.read_h5ad(out), report, "%s -> %s" % (rel, os.path.basename(out)))
        print("ok filter %s" % comp)


def dump(path):
    p = subprocess.run([ADREAD, path], capture_output=True, text=True)
    if not check(p.returncode == 0, "lstar_test_anndata %s: %s" % (path, p.stderr.strip())):
        return None
    return json.loads(p.stdout)


def golden(name, tmp):
    store = os.path.join(DATA, GOLDEN, name)
    exp_path = os.path.join(DATA, GOLDEN, "expected.json")
    if not os.path.exists(store):
        print("SKIP (missing) %s" % name)
        return
    with open(exp_path) as fp:
        exp = json.load(fp)
    out = os.path.join(tmp, name + ".h5ad")
    report = run_adwrite(store, out, "--threads", "2")
    if report is None:
        return
    check(report["dropped"] == [], "%s: dropped %r" % (name, report["dropped"]))
    a = ad.read_h5ad(out)
    lbl = "golden %s" % name
    check(a.shape == tuple(exp["counts"]["shape"]), "%s: shape" % lbl)
    # lognorm (the primary measure) went to X, counts (state raw) to layers/counts
    for key, m in (("lognorm", a.X), ("counts", a.layers["counts"])):
        check(sp.issparse(m) and m.nnz == exp[key]["nnz"], "%s: %s nnz" % (lbl, key))
        check(math.isclose(float(m.sum()), exp[key]["sum"], rel_tol=1e-6), "%s: %s sum" % (lbl, key))
    check(a.layers["counts"].format == "csc" and a.X.format == "csr", "%s: sparse formats" % lbl)
    pca = a.obsm["X_pca"]
    check(list(pca.shape) == exp["pca"]["shape"], "%s: pca shape" % lbl)
    check(math.isclose(float(pca.sum()), exp["pca"]["sum"], abs_tol=1e-3), "%s: pca sum" % lbl)
    check(list(map(str, a.obs["leiden"])) == exp["leiden"], "%s: leiden" % lbl)
    ct = a.obs["celltype"]
    check(list(ct.cat.categories) == exp["celltype"]["categories"], "%s: celltype categories" % lbl)
    check(list(np.asarray(ct.cat.codes)) == exp["celltype"]["codes"], "%s: celltype codes" % lbl)
    check(bool(ct.cat.ordered) == exp["celltype"]["ordered"], "%s: celltype ordered" % lbl)
    qc = np.asarray(a.obs["qc"], dtype=float)
    check(list(np.where(np.isnan(qc))[0]) == exp["qc"]["missing_positions"], "%s: qc missing" % lbl)
    check(math.isclose(float(np.nansum(qc)), exp["qc"]["present_sum"], abs_tol=1e-3), "%s: qc sum" % lbl)
    adt = np.asarray(a.obs["adt"], dtype=float)
    check(list(np.where(~np.isnan(adt))[0]) == exp["adt"]["index"], "%s: adt positions" % lbl)
    check(math.isclose(float(np.nansum(adt)), exp["adt"]["sum"], abs_tol=1e-3), "%s: adt sum" % lbl)
    check(a.obsp["knn"].nnz == exp["knn"]["nnz"], "%s: knn nnz" % lbl)
    check(int(a.uns["params"]["n_pca"]) == exp["aux"]["n_pca"], "%s: uns params" % lbl)
    check(list(map(str, a.uns["names"])) == exp["aux"]["names"], "%s: uns names" % lbl)
    # and back into L★ with our reader
    d = dump(out)
    if d is not None:
        f = {x["name"]: x for x in d["fields"]}
        check(f["X"]["nnz"] == exp["lognorm"]["nnz"] and math.isclose(f["X"]["sum"], exp["lognorm"]["sum"]),
              "%s: L★ X" % lbl)
        check(f["X"]["state"] == "lognorm", "%s: X state %r" % (lbl, f["X"]["state"]))
        check(f["counts"]["encoding"] == "csc" and f["counts"]["state"] == "raw", "%s: L★ counts" % lbl)
        check(f["celltype"]["categories"] == exp["celltype"]["categories"], "%s: L★ celltype" % lbl)
        check(f["leiden"]["values"] == exp["leiden"], "%s: L★ leiden" % lbl)
        check(f["knn"]["nnz"] == exp["knn"]["nnz"], "%s: L★ knn" % lbl)
        tree = d["passthrough"][0]["tree"]
        tree = json.loads(tree) if isinstance(tree, str) else tree
        check(tree["$obj"]["params"]["$obj"]["n_pca"] == exp["aux"]["n_pca"], "%s: L★ uns params" % lbl)
    print("ok golden %s" % name)


# ---- collections -----------------------------------------------------------------------------------------------


def _zattrs_lstar(grp, obj):
    grp.attrs["lstar"] = obj


def _labels(grp, name, items):
    b = [x.encode() for x in items]
    off = np.zeros(len(b) + 1, dtype="<i8")
    off[1:] = np.cumsum([len(x) for x in b])
    grp.array(name, np.frombuffer(b"".join(b), dtype="|u1") if b else np.zeros(0, "|u1"), chunks=(64,))
    grp.array(name + "_offsets", off, chunks=(64,))


def make_collection_store(path, seed=11):
    """An L★ collection store, laid out as upstream's collection_from writes it (Zarr v2), made here with
    zarr-python: samples s0 (CSR counts), s1 (CSC counts), s2 (dense counts) over different, overlapping
    gene sets in different orders; a union cells axis (shuffled, two cells no sample holds); joint sample
    label, leiden clustering, umap embedding and graph over the union cells; per-sample pca and n_cells.
    Returns the expected AnnData pieces computed here with scipy, by name."""
    import zarr
    rng = np.random.default_rng(seed)
    pool = ["G%02d" % i for i in range(60)]
    shapes = {"s0": (40, 30, "csr"), "s1": (25, 20, "csc"), "s2": (30, 25, "dense")}
    root = zarr.open_group(path, mode="w")
    axes, fields = [], []

    def axis(name, labels, origin, role):
        g = root.require_group("axes").create_group(name)
        _zattrs_lstar(g, {"kind": "axis", "origin": origin, "role": role, "induced_by": None, "provenance": {}})
        _labels(g, "labels", labels)
        axes.append(name)

    def field(name, role, span, enc, shape, arrays, state=None, subtype=None, extra=None):
        g = root.require_group("fields").create_group(name)
        a = {"kind": "field", "role": role, "span": span, "state": state, "encoding": enc, "coverage": "full",
             "directed": None, "weighted": None, "subtype": subtype, "uncertainty": None, "provenance": {},
             "shape": list(shape)}
        a.update(extra or {})
        _zattrs_lstar(g, a)
        for k, v in arrays.items():
            if isinstance(v, list):
                _labels(g, k, v)
            else:
                g.array(k, v, chunks=tuple(max(1, min(17, d)) for d in v.shape) or None)
        fields.append(name)

    mats, cells_of, genes_of = {}, {}, {}
    for s, (nc, ng, enc) in shapes.items():
        genes = list(rng.permutation(pool)[:ng])
        cells = ["%s_c%d" % (s, i) for i in range(nc)]
        m = sp.random(nc, ng, density=0.2, format="csr", random_state=int(rng.integers(1 << 30)), dtype=np.float32)
        m.data = np.round(m.data * 20 + 1).astype(np.float32)
        mats[s], cells_of[s], genes_of[s] = m, cells, genes
        axis("cells." + s, cells, "observed", "observation")
        axis("genes." + s, genes, "observed", "feature")
        if enc == "csr":
            arrs = {"data": m.data, "indices": m.indices.astype("<i4"), "indptr": m.indptr.astype("<i4")}
        elif enc == "csc":
            c = m.tocsc()
            arrs = {"data": c.data, "indices": c.indices.astype("<i4"), "indptr": c.indptr.astype("<i4")}
        else:
            arrs = {"values": m.toarray()}
        field("counts." + s, "measure", ["cells." + s, "genes." + s], enc, m.shape, arrs, state="raw")
    axis("pca.s0", ["pca%d" % i for i in range(3)], "derived", "coordinate")
    field("pca.s0", "embedding", ["cells.s0", "pca.s0"], "dense", (40, 3), {"values": rng.random((40, 3))})
    axis("samples", list(shapes), "observed", "sample")
    field("n_cells", "measure", ["samples"], "dense", (3,), {"values": np.array([40, 25, 30], dtype="<i8")})
    union = [c for s in shapes for c in cells_of[s]] + ["orphan1", "orphan2"]
    union = list(np.asarray(union)[rng.permutation(len(union))])
    n = len(union)
    axis("cells", union, "derived", "observation")
    sample = [c.split("_")[0] if "_" in c else "" for c in union]
    field("sample", "label", ["cells"], "utf8", (n,), {"values": sample}, subtype="design")
    codes = rng.integers(-1, 4, size=n).astype("<i4")
    cats = ["k0", "k1", "k2", "k3"]
    field("leiden", "label", ["cells"], "categorical", (n,), {"codes": codes, "categories": cats},
          extra={"ordered": False})
    axis("leiden", cats, "derived", "factor")
    axis("umap", ["umap0", "umap1"], "derived", "coordinate")
    umap = rng.random((n, 2))
    field("umap", "embedding", ["cells", "umap"], "dense", (n, 2), {"values": umap})
    gr = sp.random(n, n, density=0.05, format="csr", random_state=5, dtype=np.float64)
    field("graph", "relation", ["cells", "cells"], "csr", (n, n),
          {"data": gr.data, "indices": gr.indices.astype("<i4"), "indptr": gr.indptr.astype("<i4")}, subtype="knn")
    root.create_group("models")
    _zattrs_lstar(root, {"spec_version": "0.1", "kind": "collection", "profiles": ["test@0.1"], "dropped": [],
                         "axes": axes, "fields": fields, "passthrough": []})
    zarr.consolidate_metadata(path)
    # expected, by name (upstream's _flatten_collection)
    ugenes = []
    for s in shapes:
        for g in genes_of[s]:
            if g not in ugenes:
                ugenes.append(g)
    cpos, gpos = {c: i for i, c in enumerate(union)}, {g: i for i, g in enumerate(ugenes)}
    X = np.zeros((n, len(ugenes)), dtype=np.float32)
    for s in shapes:
        coo = mats[s].tocoo()
        for r, c, v in zip(coo.row, coo.col, coo.data):
            X[cpos[cells_of[s][r]], gpos[genes_of[s][c]]] = v
    return {"cells": union, "genes": ugenes, "X": X, "sample": sample, "leiden": (codes, cats), "umap": umap,
            "graph": gr, "dropped": ["pca.s0", "n_cells"]}


def collection(tmp):
    store = os.path.join(tmp, "coll.lstar.zarr")
    exp = make_collection_store(store)
    for fmt, ext in (("h5ad", ".h5ad"), ("zarr2", ".zarr")):
        out = os.path.join(tmp, "coll" + ext)
        lbl = "collection → %s" % fmt
        report = run_adwrite(store, out, "--format", fmt, "--chunk-elems", "50", "--threads", "2")
        if report is None:
            continue
        check(sorted(x.split(" (")[0] for x in report["dropped"]) == sorted(exp["dropped"]),
              "%s: dropped list %s" % (lbl, report["dropped"]))
        a = read_native(out)
        check(list(a.obs_names) == exp["cells"], "%s: obs_names" % lbl)
        check(list(a.var_names) == exp["genes"], "%s: var_names (stable union of the samples' genes)" % lbl)
        check(a.X.shape == exp["X"].shape and sp.issparse(a.X) and a.X.format == "csr", "%s: X shape/format" % lbl)
        check(np.array_equal(dense(a.X), exp["X"]), "%s: X values assembled by name" % lbl)
        check(a.X.has_sorted_indices, "%s: X indices sorted within rows" % lbl)
        check(list(a.obs["sample"]) == exp["sample"], "%s: obs sample" % lbl)
        codes, cats = exp["leiden"]
        want = pd.Categorical.from_codes(codes, categories=cats)
        check(a.obs["leiden"].dtype.name == "category" and list(a.obs["leiden"].cat.categories) == cats and
              np.array_equal(a.obs["leiden"].cat.codes.to_numpy(), want.codes), "%s: obs leiden" % lbl)
        check(np.allclose(a.obsm["X_umap"], exp["umap"]), "%s: obsm X_umap" % lbl)
        for k in ("graph", "connectivities"):
            check(k in a.obsp and np.allclose(dense(a.obsp[k]), exp["graph"].toarray()), "%s: obsp %s" % (lbl, k))
        nb = a.uns.get("neighbors", {})
        check(nb.get("connectivities_key") == "connectivities" and nb.get("params", {}).get("method") == "conos",
              "%s: uns neighbors %r" % (lbl, nb))
        ours = a.uns.get("lstar", {})  # uns['lstar/dropped'], stored as h5py stores a key with a '/'
        check(sorted(ours.get("dropped", [])) == sorted(exp["dropped"]), "%s: uns['lstar/dropped'] %r" % (lbl, ours))
        check(ours.get("state") == "raw", "%s: uns['lstar/state'] %r" % (lbl, ours))
    print("ok collection")


def uns_bytes_strings(tmp):
    """uns `bytes` scalars (encoding-type bytes, |S) and 2-D string arrays, made with h5py in an h5ad
    anndata 0.8 reads, go through our reader and writer (h5ad and Zarr v2) and read back the same in
    anndata 0.8."""
    import h5py
    src = os.path.join(tmp, "ub_src.h5ad")
    base = ad.AnnData(np.zeros((3, 2), dtype=np.float32))
    base.uns["grid"] = np.array([["a", "bé"], ["c", ""], ["dd", "e"]], dtype=object)
    base.write_h5ad(src)
    with h5py.File(src, "a") as f:
        d = f["uns"].create_dataset("by", data=np.bytes_(b"ab\xffc"))
        d.attrs["encoding-type"] = "bytes"
        d.attrs["encoding-version"] = "0.2.0"
    want = ad.read_h5ad(src)
    check(want.uns["by"] == b"ab\xffc", "uns bytes: anndata reads the source")
    for fmt, ext in (("h5ad", ".h5ad"), ("zarr2", ".zarr")):
        out = os.path.join(tmp, "ub" + ext)
        report = run_adwrite(src, out, "--format", fmt)
        if report is None:
            continue
        check(not report["dropped"], "uns → %s: nothing dropped (%s)" % (fmt, report["dropped"]))
        a = read_native(out)
        check(a.uns.get("by") == b"ab\xffc", "uns → %s: bytes %r" % (fmt, a.uns.get("by")))
        g = np.asarray(a.uns.get("grid"))
        check(g.shape == (3, 2) and [str(x) for x in g.ravel()] == ["a", "bé", "c", "", "dd", "e"],
              "uns → %s: 2-D string array %r" % (fmt, g))
    print("ok uns bytes / 2-D strings")


def main():
    for exe in (ADWRITE, ADREAD):
        if not os.access(exe, os.X_OK):
            print("helper %s not built" % exe)
            return 1
    if not os.path.isdir(DATA):
        print("SKIP: shared data not found at %s" % DATA)
        return 0
    # many small files: a memory file system when there is one
    tmp = tempfile.mkdtemp(prefix="lstar-adrt-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    only = sys.argv[1:]
    try:
        if only:
            for name in only:
                globals()[name](tmp)
            return report_failures()
        collection(tmp)
        uns_bytes_strings(tmp)
        for idx, rel in enumerate(FILES):
            roundtrip_file(idx, rel, tmp)
        for idx, rel in enumerate(("scverse_scanpy/tests/_data/10x-10k-subset.zarr",
                                   "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad")):
            chunk_copy(idx, rel, tmp)
        for g in ("golden_v2.lstar.zarr", "golden_v3.lstar.zarr"):
            golden(g, tmp)
        filters(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report_failures()


def report_failures():
    for f in failures:
        print("FAIL", f)
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
