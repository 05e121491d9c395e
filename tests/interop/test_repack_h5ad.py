#!/usr/bin/python3
"""`lstar repack` on real HDF5 files, checked through the real tools.

For the h5ad/h5mu/10x .h5/loom files of $LSTAR_SHARED_DATA:

1. Full matrix on a few files: every pipeline (none, gzip, zstd, zstd+shuffle,
   zstd+shuffle+delta-indices, --best, a rechunked one) with --threads 1 and 2:
   * the two outputs are byte-identical;
   * h5diff (HDF5_PLUGIN_PATH from `lstar plugin-path`) exits 0, printed no
     "cannot be read" warning, and h5diff without our plugins exits 2 on the
     zstd outputs (so the first run really decoded through them);
   * h5py reads every dataset equal to the source (values, dtype, shape, maxshape,
     fill value, chunks unless rechunked) and every attribute equal (object
     references point at the same path), the same groups, links and order;
   * h5py sees the expected filter ids and cd_values on X/data, X/indices …;
   * h5ls -v names the filters; h5dump prints X's values (parsed, compared);
   * the input's sha256 is unchanged.
2. Every file with --best and --gzip: h5diff and the h5py comparison.
3. anndata 0.8 reads every h5ad it can read in the original equal after repack
   (X, layers, obs, var, obsm, varm, obsp, uns).

Environment: LSTAR_BIN, LSTAR_BUILD, LSTAR_SHARED_DATA.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import warnings

BIN = os.environ.get("LSTAR_BIN")
BUILD = os.environ.get("LSTAR_BUILD")
SHARED = os.environ.get("LSTAR_SHARED_DATA", "")
if not BIN or not BUILD:
    sys.exit("LSTAR_BIN and LSTAR_BUILD must be set")
PLUGIN_PATH = subprocess.run([BIN, "plugin-path"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
os.environ["HDF5_PLUGIN_PATH"] = PLUGIN_PATH
NO_OUR_PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

import h5py  # noqa: E402
import numpy as np  # noqa: E402

ZSTD, DELTA, SHUFFLE, DEFLATE = 32015, 56855, 2, 1
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)
    return cond


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def sh(args, plugin_path=PLUGIN_PATH, env_extra=None):
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = plugin_path
    # Debian's lzf plugin needs liblzf loaded first (see docs/internals/hdf5.md).
    env["LD_PRELOAD"] = "liblzf.so.1"
    if env_extra:
        env.update(env_extra)
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def repack(src, dst, *opts):
    return sh([BIN, "repack", src, dst, "--overwrite", *opts])


# ---- h5py comparison ------------------------------------------------------------------------

def filters_of(ds):
    dcpl = ds.id.get_create_plist()
    out = []
    for i in range(dcpl.get_nfilters()):
        code, flags, vals, name = dcpl.get_filter(i)
        out.append((code, tuple(vals)))
    return out


def attr_equal(fa, a, fb, b):
    if isinstance(a, h5py.Reference) or isinstance(b, h5py.Reference):
        if not (isinstance(a, h5py.Reference) and isinstance(b, h5py.Reference)):
            return False
        if not a or not b:
            return bool(a) == bool(b)
        return fa[a].name == fb[b].name
    if isinstance(a, np.ndarray) and a.dtype == object and a.size and isinstance(a.flat[0], h5py.Reference):
        return a.shape == b.shape and all(attr_equal(fa, x, fb, y) for x, y in zip(a.flat, b.flat))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype.kind == "f":
            return np.array_equal(a, b, equal_nan=True)
        return np.array_equal(a, b)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) == type(b) and a == b


def values_equal(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a, b, equal_nan=True)
    if a.dtype.names:
        return all(values_equal(a[n], b[n]) for n in a.dtype.names)
    if a.dtype.kind == "c":
        return np.array_equal(a.view(np.float64 if a.dtype.itemsize == 16 else np.float32),
                              b.view(np.float64 if b.dtype.itemsize == 16 else np.float32), equal_nan=True)
    return np.array_equal(a, b)


def read_all(ds):
    if ds.shape is None:  # h5py.Empty
        return None
    if ds.dtype.kind == "O":
        return np.asarray(ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()], dtype=object)
    return ds[()]


def compare_files(src, dst, what, rechunked=False):
    """Everything in src is in dst, equal; returns the dst file's datasets' filters."""
    ok = True
    filters = {}
    with h5py.File(src, "r") as fa, h5py.File(dst, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        ok &= check(names_a == names_b, "%s: same objects in the same order" % what)
        for n in names_a:
            a, b = fa[n], fb.get(n)
            if b is None:
                check(False, "%s: %s missing" % (what, n))
                ok = False
                continue
            ka = sorted(a.attrs.keys())
            ok &= check(list(a.attrs.keys()) == list(b.attrs.keys()), "%s: %s attribute names/order" % (what, n))
            for k in ka:
                if k in b.attrs:
                    ok &= check(attr_equal(fa, a.attrs[k], fb, b.attrs[k]), "%s: %s attr %s equal" % (what, n, k))
            if isinstance(a, h5py.Group):
                ok &= check(isinstance(b, h5py.Group), "%s: %s is a group" % (what, n))
                continue
            if not check(isinstance(b, h5py.Dataset), "%s: %s is a dataset" % (what, n)):
                ok = False
                continue
            ok &= check(a.dtype == b.dtype, "%s: %s dtype %s == %s" % (what, n, a.dtype, b.dtype))
            ok &= check(a.shape == b.shape and a.maxshape == b.maxshape,
                        "%s: %s shape/maxshape %s %s == %s %s" % (what, n, a.shape, a.maxshape, b.shape, b.maxshape))
            if a.dtype.kind in "iuf" and a.shape:
                fva, fvb = a.fillvalue, b.fillvalue
                ok &= check(attr_equal(fa, fva, fb, fvb), "%s: %s fill value %r == %r" % (what, n, fva, fvb))
            if not rechunked and a.chunks:
                ok &= check(a.chunks == b.chunks, "%s: %s chunks %s == %s" % (what, n, a.chunks, b.chunks))
            va, vb = read_all(a), read_all(b)
            if va is None:
                ok &= check(vb is None, "%s: %s empty" % (what, n))
            elif a.dtype.kind == "O" and a.dtype.metadata and a.dtype.metadata.get("ref"):
                ok &= check(all(attr_equal(fa, x, fb, y) for x, y in zip(np.ravel(va), np.ravel(vb))),
                            "%s: %s references equal" % (what, n))
            elif va.dtype == object:
                ok &= check(va.shape == vb.shape and all(x == y for x, y in zip(va.flat, vb.flat)),
                            "%s: %s values equal" % (what, n))
            else:
                ok &= check(values_equal(np.asarray(va), np.asarray(vb)), "%s: %s values equal" % (what, n))
            filters[n] = filters_of(b)
    return ok, filters


# ---- anndata ---------------------------------------------------------------------------------

def anndata_equal(src, dst, what):
    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = ad.read_h5ad(src)
        except Exception as e:  # noqa: BLE001 — the original is not readable by anndata 0.8
            print("note: anndata 0.8 cannot read %s (%s); anndata check skipped" % (src, type(e).__name__))
            return
        try:
            b = ad.read_h5ad(dst)
        except Exception as e:  # noqa: BLE001
            check(False, "%s: anndata reads the repacked file (%r)" % (what, e))
            return

    def same(x, y):
        if x is None or y is None:
            return x is None and y is None
        if sp.issparse(x) or sp.issparse(y):
            if not (sp.issparse(x) and sp.issparse(y)) or x.format != y.format or x.shape != y.shape:
                return False
            return (np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
                    and values_equal(x.data, y.data))
        if isinstance(x, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(x, y, check_exact=True)
                return True
            except AssertionError:
                return False
        if isinstance(x, pd.api.extensions.ExtensionArray):
            try:
                pd.testing.assert_extension_array_equal(x, y)
                return True
            except AssertionError:
                return False
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
        if isinstance(x, np.ndarray):
            return x.shape == y.shape and x.dtype == y.dtype and (
                values_equal(x, y) if x.dtype != object else all(p == q for p, q in zip(x.flat, y.flat)))
        if isinstance(x, float) and x != x:
            return isinstance(y, float) and y != y
        return type(x) == type(y) and bool(np.all(x == y))

    check(same(a.X, b.X), "%s: anndata X equal" % what)
    check(same(a.obs, b.obs), "%s: anndata obs equal" % what)
    check(same(a.var, b.var), "%s: anndata var equal" % what)
    for m in ("layers", "obsm", "varm", "obsp", "varp"):
        ma, mb = getattr(a, m), getattr(b, m)
        check(list(ma.keys()) == list(mb.keys()) and all(same(ma[k], mb[k]) for k in ma.keys()),
              "%s: anndata %s equal" % (what, m))
    check(same(dict(a.uns), dict(b.uns)), "%s: anndata uns equal" % what)
    if a.raw is not None:
        check(b.raw is not None and same(a.raw.X, b.raw.X) and same(a.raw.var, b.raw.var),
              "%s: anndata raw equal" % what)


# ---- the tools ---------------------------------------------------------------------------------

def h5diff_clean(src, dst, what):
    rc, out, err = sh(["h5diff", src, dst])
    text = out + err
    check(rc == 0, "%s: h5diff exit %d (%s)" % (what, rc, text.strip()[-300:]))
    check("cannot be read" not in text and "not available" not in text, "%s: h5diff read every dataset" % what)


PIPELINES = [
    ("none", ["--none"]),
    ("gzip", ["--gzip"]),
    ("zstd", ["--filter", "zstd"]),
    ("zstd-shuffle", ["--filter", "zstd:5", "--shuffle"]),
    ("zstd-shuffle-delta", ["--filter", "zstd:5", "--shuffle", "--delta-indices"]),
    ("best", ["--best"]),
    ("rechunk", ["--filter", "zstd:1", "--shuffle", "--delta-indices", "--chunk-elems", "1000"]),
]


def expected_filters(name, path, dtype, pipeline):
    """Filter ids we expect on a re-encoded numeric dataset."""
    base = path.rsplit("/", 1)[-1]
    delta = "delta" in name or name == "best" or name == "rechunk"
    ids = []
    if delta and base in ("indices", "indptr") and dtype.kind in "iu":
        ids.append(DELTA)
    if ("shuffle" in name or name == "rechunk") and dtype.itemsize > 1:
        ids.append(SHUFFLE)
    if name == "gzip":
        ids.append(DEFLATE)
    elif name != "none":
        ids.append(ZSTD)
    return ids


def full_matrix(src, tmp):
    base = os.path.basename(src)
    digest = sha256(src)
    for name, opts in PIPELINES:
        what = "%s [%s]" % (base, name)
        d1 = os.path.join(tmp, "%s.%s.t1.h5" % (base, name))
        d2 = os.path.join(tmp, "%s.%s.t2.h5" % (base, name))
        rc1, out1, err1 = repack(src, d1, "--threads", "1", *opts)
        rc2, out2, err2 = repack(src, d2, "--threads", "2", *opts)
        if not check(rc1 == 0 and rc2 == 0, "%s: repack exit %d/%d (%s%s)" % (what, rc1, rc2, err1, err2)):
            continue
        check(err1 == "" and out1.count("\n") == 1, "%s: one summary line, nothing on stderr" % what)
        with open(d1, "rb") as f1, open(d2, "rb") as f2:
            check(f1.read() == f2.read(), "%s: --threads 1 and 2 give byte-identical files" % what)
        h5diff_clean(src, d1, what)
        ok, filters = compare_files(src, d1, what, rechunked=(name in ("rechunk", "best")))
        with h5py.File(src, "r") as fa, h5py.File(d1, "r") as fb:
            for n, fl in filters.items():
                a, b = fa[n], fb[n]
                numeric = a.dtype.kind in "iuf" and a.shape and len(a.shape) >= 1
                big_or_chunked = a.chunks is not None or a.id.get_storage_size() >= 16384
                if not numeric or not big_or_chunked or a.dtype.kind == "b":
                    continue
                if a.dtype.byteorder == ">":
                    continue
                ids = [c for c, _ in fl]
                want = expected_filters(name, n, a.dtype, name)
                if name == "best":  # shuffle is chosen per dataset
                    ids = [c for c in ids if c != SHUFFLE]
                if a.chunks is None and name == "none":
                    want = []
                check(ids == want, "%s: %s filters %s, expected %s" % (what, n, ids, want))
                for code, vals in fl:
                    if code == ZSTD:
                        esize = b.dtype.itemsize * int(np.prod(b.chunks))
                        check(len(vals) == 4 and vals[1] == 0x4C535A31 and vals[2] == esize and vals[3] == 0,
                              "%s: %s zstd cd_values %s (set_local's [level, LSZ1, %d, 0])" % (what, n, vals, esize))
                    if code == DELTA:
                        check(vals[:2] == (b.dtype.itemsize, 1 if b.dtype.kind == "i" else 0),
                              "%s: %s delta cd_values %s" % (what, n, vals))
        with h5py.File(d1, "r") as fb:
            x = fb.get("X/data") if isinstance(fb.get("X"), h5py.Group) else fb.get("X")
            if x is not None and x.chunks:
                if name == "gzip":
                    check(x.compression == "gzip" and x.compression_opts == 4,
                          "%s: h5py sees X compression %r %r" % (what, x.compression, x.compression_opts))
                elif name != "none":
                    check("32015" in x._filters, "%s: h5py sees zstd (32015) in X's filters %r" % (what, x._filters))
                    if "shuffle" in name:
                        check(x.shuffle, "%s: h5py sees X shuffled" % what)
        if name in ("zstd", "best"):
            rc, out, err = sh(["h5diff", src, d1], plugin_path=NO_OUR_PLUGINS)
            check(rc == 2, "%s: h5diff without lstar's plugins fails (exit %d)" % (what, rc))
        os.unlink(d2)
    check(sha256(src) == digest, "%s: input unchanged (sha256)" % base)


def h5dump_x(src, dst):
    """h5ls names the filters; h5dump prints X/data's values through the plugin."""
    rc, out, err = sh(["h5ls", "-v", dst + "/X/data"])
    check(rc == 0 and "zstd (lstar)-32015" in out, "h5ls -v shows the zstd filter on X/data")
    rc, out, err = sh(["h5ls", "-v", dst + "/X/indices"])
    check(rc == 0 and "56855" in out and "shuffle" in out, "h5ls -v shows delta + shuffle on X/indices")
    rc, out, err = sh(["h5dump", "-d", "/X/data", "-m", "%.9g", dst])
    m = re.search(r"DATA \{(.*)\}", out, re.S)
    vals = []
    if m:
        body = re.sub(r"\(\d+\):", " ", m.group(1))
        vals = [float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)", body)]
    with h5py.File(src, "r") as f:
        want = f["X/data"][()]
    check(rc == 0 and len(vals) == want.size and np.allclose(vals, want, rtol=1e-7, atol=0),
          "h5dump prints X/data's %d values (got %d)" % (want.size, len(vals)))


def main():
    files = []
    for root, dirs, fs in os.walk(SHARED):
        for f in fs:
            if f.endswith((".h5ad", ".h5mu", ".h5", ".loom")):
                files.append(os.path.join(root, f))
    files.sort()
    if not files:
        print("FAIL no HDF5 files under LSTAR_SHARED_DATA=%r" % SHARED)
        return 1
    matrix = [f for f in files if f.endswith(("10x_pbmc68k_reduced.h5ad", "inst/extdata/example.h5ad",
                                              "v0.4.1/mdata_axis0.h5mu", "v0.7.0/adata.h5ad"))]
    check(len(matrix) == 4, "the four full-matrix files are present (%d)" % len(matrix))
    with tempfile.TemporaryDirectory(prefix="lstar-repack-") as tmp:
        for src in matrix:
            full_matrix(src, tmp)
        sparse_x = [f for f in matrix if f.endswith("example.h5ad")][0]
        d = os.path.join(tmp, "x.h5ad")
        rc, _, err = repack(sparse_x, d, "--filter", "zstd:5", "--shuffle", "--delta-indices")
        check(rc == 0, "repack for h5dump (%s)" % err)
        h5dump_x(sparse_x, d)
        for src in files:
            digest = sha256(src)
            for name, opts in (("best", ["--best"]), ("gzip", ["--gzip=6"])):
                what = "%s [%s]" % (os.path.relpath(src, SHARED), name)
                dst = os.path.join(tmp, "all.%s.h5" % name)
                rc, out, err = repack(src, dst, *opts)
                if not check(rc == 0, "%s: repack exit %d (%s)" % (what, rc, err.strip())):
                    continue
                h5diff_clean(src, dst, what)
                compare_files(src, dst, what, rechunked=(name == "best"))
                if name == "best" and src.endswith(".h5ad"):
                    anndata_equal(src, dst, what)
            check(sha256(src) == digest, "%s: input unchanged" % src)
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
