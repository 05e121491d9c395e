"""Interop: the lstar HDF5 virtual file driver (vfd/) in h5py 3.7 and anndata 0.8.

Stores: every anndata-zarr store in ../shared/data (Zarr v2 directory and zip, Zarr v3 sharded zip;
MuData stores are skipped), upstream's golden L★ stores (v2, v3), L★ stores made with
`lstar convert` from real h5ad files (zstd, zlib and uncompressed; v2 and v3 sharded), and anndata-zarr
stores made from them with small chunks.

For each store S:
  - ref = `lstar convert S ref.h5ad`; h5py through the driver (lstar_h5vfd.File(S)) and h5py on ref
    hold the same tree, the same attributes and the same values (dtype, shape, every element);
  - anndata.experimental.read_elem on the driver file equals anndata.read_h5ad(ref) (X, layers, raw,
    obs, var, obsm, varm, obsp, varp, uns), and equals anndata.read_zarr(S) for stores anndata 0.8
    reads (Zarr v2, with the L★ → AnnData mapping only for L★ stores);
  - zero-copy: for stores with zstd/zlib/none codecs the HDF5 datasets of the large arrays are chunked
    with the store's chunk shape, i.e. served from the store's chunk objects.
Also: the driver is read-only (mode 'r+' fails with the driver's message).
Run with /usr/bin/python3 (Debian's h5py 3.7 / anndata 0.8)."""
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np

warnings.filterwarnings("ignore")
BUILD = os.environ.get("LSTAR_BUILD", "")
LSTAR = os.environ.get("LSTAR_BIN", os.path.join(BUILD, "tools", "lstar"))
DATA = os.environ.get("LSTAR_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
PLUGINS = os.path.join(BUILD, "filters", "plugins")
os.environ["HDF5_PLUGIN_PATH"] = PLUGINS + ":/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
sys.path.insert(0, os.path.join(BUILD, "vfd", "python"))

import anndata as ad  # noqa: E402
import anndata.experimental  # noqa: E402
import h5py  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import lstar_h5vfd  # noqa: E402

FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL:", msg)


def lstar(*args):
    r = subprocess.run([LSTAR, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("lstar %s: %s" % (" ".join(args), r.stderr))


def tree(f):
    out = {"/": f["/"]}
    f.visititems(lambda n, o: out.__setitem__(n, o))
    return out


def same_value(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.names:  # compound: field by field (vlen strings by value)
        return all(same_value(a[n], b[n]) for n in a.dtype.names)
    if a.dtype.kind == "f" or a.dtype.kind == "c":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def compare_h5(label, f, g):
    tf, tg = tree(f), tree(g)
    if set(tf) != set(tg):
        fail("%s: trees differ: %s" % (label, sorted(set(tf) ^ set(tg))))
    n = 0
    for k in sorted(set(tf) & set(tg)):
        x, y = tf[k], tg[k]
        if sorted(x.attrs) != sorted(y.attrs):
            fail("%s: %s attribute names differ" % (label, k))
        for an in x.attrs:
            if an in y.attrs and not same_value(x.attrs[an], y.attrs[an]):
                fail("%s: %s@%s differs" % (label, k, an))
        if isinstance(x, h5py.Dataset):
            n += 1
            if x.dtype != y.dtype or x.shape != y.shape:
                fail("%s: %s dtype/shape %s%s vs %s%s" % (label, k, x.dtype, x.shape, y.dtype, y.shape))
            elif not same_value(x[()], y[()]):
                fail("%s: %s values differ" % (label, k))
    return n


def dense(m):
    return m.toarray() if sp.issparse(m) else np.asarray(m)


def same_matrix(a, b):
    if (a is None) != (b is None):
        return False
    if a is None:
        return True
    if sp.issparse(a) != sp.issparse(b) or a.shape != b.shape:
        return False
    if sp.issparse(a):
        a, b = a.tocsr(), b.tocsr()
        return a.dtype == b.dtype and (a != b).nnz == 0 if a.dtype.kind != "f" else np.array_equal(
            dense(a), dense(b), equal_nan=True)
    return np.asarray(a).dtype == np.asarray(b).dtype and np.array_equal(np.asarray(a), np.asarray(b),
                                                                         equal_nan=np.asarray(a).dtype.kind == "f")


def same_uns(a, b, path="uns"):
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or sorted(a) != sorted(b):
            fail("%s: keys differ" % path)
            return
        for k in a:
            same_uns(a[k], b[k], path + "/" + k)
        return
    if isinstance(a, pd.DataFrame):
        if not a.equals(b):
            fail("%s: dataframes differ" % path)
        return
    if sp.issparse(a) or sp.issparse(b):
        if not same_matrix(a, b):
            fail("%s differs" % path)
        return
    if not same_value(a, b) and not (np.asarray(a).dtype.kind in "OUS" and list(np.ravel(a)) == list(np.ravel(b))):
        fail("%s differs" % path)


class _Strings(__import__("ctypes").Structure):
    import ctypes as _c
    _fields_ = [("n", _c.c_size_t), ("bytes", _c.POINTER(_c.c_uint8)), ("offsets", _c.POINTER(_c.c_int64))]


def image_dropped(store):
    """The element paths the view does not present (lstar_vfd_image_dropped), e.g. {"obsm/df"}."""
    import ctypes
    lib = lstar_h5vfd.library()
    lib.lstar_vfd_image_dropped.restype = ctypes.POINTER(_Strings)
    img = ctypes.c_void_p()
    if lib.lstar_vfd_image_open(store.encode(), None, ctypes.byref(img), None) != 0:
        raise RuntimeError("lstar_vfd_image_open failed on " + store)
    s = lib.lstar_vfd_image_dropped(img).contents
    out = set()
    for i in range(s.n):
        item = bytes(s.bytes[s.offsets[i]:s.offsets[i + 1]]).decode()
        out.add(item.split(" (", 1)[0])
    lib.lstar_vfd_image_close(img)
    return out


def compare_adata(label, a, b, skip=frozenset()):
    if list(a.obs_names) != list(b.obs_names) or list(a.var_names) != list(b.var_names):
        fail("%s: obs/var names differ" % label)
        return
    if not same_matrix(a.X, b.X):
        fail("%s: X differs" % label)
    for slot in ("layers", "obsm", "varm", "obsp", "varp"):
        da, db = getattr(a, slot), getattr(b, slot)
        if sorted(da.keys()) != sorted(k for k in db.keys() if "%s/%s" % (slot, k) not in skip):
            fail("%s: %s keys %s vs %s" % (label, slot, sorted(da.keys()), sorted(db.keys())))
            continue
        for k in da.keys():
            if not same_matrix(da[k], db[k]):
                fail("%s: %s/%s differs" % (label, slot, k))
    for frame in ("obs", "var"):
        fa, fb = getattr(a, frame), getattr(b, frame)
        if list(fa.columns) != list(fb.columns):
            fail("%s: %s columns differ" % (label, frame))
            continue
        for c in fa.columns:
            if not fa[c].equals(fb[c]) and not (fa[c].isna().equals(fb[c].isna())
                                                and fa[c].dropna().equals(fb[c].dropna())):
                fail("%s: %s/%s differs" % (label, frame, c))
    if (a.raw is None) != (b.raw is None):
        fail("%s: raw presence differs" % label)
    elif a.raw is not None:
        if not same_matrix(a.raw.X, b.raw.X) or list(a.raw.var_names) != list(b.raw.var_names):
            fail("%s: raw differs" % label)
    same_uns(dict(a.uns), dict(b.uns), label + ": uns")


def check_store(label, store, tmp, expect_chunked=None, zarr_readable=False):
    ref = os.path.join(tmp, label + ".ref.h5ad")
    lstar("convert", store, ref, "--compression", "zstd", "--no-check", "--overwrite")
    with lstar_h5vfd.File(store) as f, h5py.File(ref, "r") as g:
        n = compare_h5(label, f, g)
        if n < 2:
            fail("%s: only %d datasets compared" % (label, n))
        if expect_chunked:
            d = f[expect_chunked[0]]
            if d.chunks != expect_chunked[1]:
                fail("%s: %s chunks %s, expected the store's %s" % (label, expect_chunked[0], d.chunks,
                                                                   expect_chunked[1]))
        a = anndata.experimental.read_elem(f["/"])
    b = ad.read_h5ad(ref)
    compare_adata(label + " (driver vs converted)", a, b)
    if zarr_readable:
        import zarr
        c = ad.read_zarr(zarr.ZipStore(store, mode="r") if store.endswith(".zip") else store)
        # uns['lstar'] is lstar's bookkeeping (what an earlier write dropped): the reader consumes it and
        # the view, like `lstar convert`, only records what this write dropped
        a.uns.pop("lstar", None)
        c.uns.pop("lstar", None)
        # elements the L★ mapping drops (reported by the image, e.g. dataframes in obsm) are skipped
        compare_adata(label + " (driver vs read_zarr)", a, c, image_dropped(store))
    print("ok  %-40s %d datasets" % (label, n))


def main():
    if not os.path.isdir(DATA):
        print("SKIP: no shared data at", DATA)
        return 77
    tmp = tempfile.mkdtemp(prefix="lstar_vfd_")
    try:
        lstar_h5vfd.register()
        stores = [
            ("scanpy_pbmc68k_v3_zip", "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip",
             ("X", (175, 383)), False),
            ("scanpy_10k_v2_dir_blosc", "scverse_scanpy/tests/_data/10x-10k-subset.zarr", ("X", (2000, 1000)), True),
            ("anndata_070_v2_zip", "scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip", None, True),
            ("anndata_078_v2_zip", "scverse_anndata/tests/data/archives/v0.7.8/adata.zarr.zip", None, True),
            ("anndata_0114_v2_zip", "scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip", None, True),
            ("golden_v2", "kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr", None, False),
            ("golden_v3", "kharchenkolab_lstar/conformance/fixtures/golden_v3.lstar.zarr", None, False),
        ]
        for label, rel, chunked, zr in stores:
            p = os.path.join(DATA, rel)
            if not os.path.exists(p):
                print("skip (absent):", rel)
                continue
            check_store(label, p, tmp, chunked, zr)

        # L★ stores and anndata-zarr stores made from the real h5ad files
        h5ads = [("pbmc68k", "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad"),
                 ("anndata_078", "scverse_anndata/tests/data/archives/v0.7.8/adata.h5ad"),
                 ("cellxgene", "chanzuckerberg_cellxgene/test/fixtures/1e4dfec4-c0b2-46ad-a04e-ff3ffb3c0a8f.h5ad")]
        for name, rel in h5ads:
            src = os.path.join(DATA, rel)
            if not os.path.exists(src):
                print("skip (absent):", rel)
                continue
            variants = (("zstd:3", "2", []), ("zlib:4", "2", []), ("none", "2", []),
                        ("zstd:1", "3", ["--shard-elems", "40000"]))
            if name != "pbmc68k":  # every codec on one file, one on the others (keeps the test fast)
                variants = variants[:1]
            for codec, zf, extra in variants:
                lab = "%s_%s_v%s" % (name, codec.split(":")[0], zf)
                st = os.path.join(tmp, lab + ".lstar.zarr")
                lstar("convert", src, st, "--compression", codec, "--zarr-format", zf, "--chunk-elems", "10000",
                      "--no-check", *extra)
                check_store(lab, st, tmp)
                shutil.rmtree(st)
            az = os.path.join(tmp, name + "_zlib.zarr")
            lstar("convert", src, az, "--compression", "zlib:4", "--chunk-elems", "10000", "--no-check")
            check_store(name + "_anndata_zarr_zlib", az, tmp, zarr_readable=True)
            shutil.rmtree(az)

        # read-only; plain h5py.File(..., driver="lstar") after `import lstar_h5vfd`
        p = os.path.join(DATA, "kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr")
        if os.path.exists(p):
            with h5py.File(p, "r", driver="lstar") as f:
                if f.attrs.get("encoding-type") != "anndata" or "X" not in f:
                    fail("h5py.File(driver='lstar') does not show the AnnData root")
            try:
                h5py.File(p, "r+", driver="lstar")
                fail("mode r+ opened through the driver")
            except OSError as e:
                if "read-only" not in str(e):
                    fail("r+ error does not say read-only: %s" % e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
