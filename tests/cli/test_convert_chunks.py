"""lstar convert's chunk paths on a gzip h5ad with hand-made chunk layouts:

- chunks decoded by lstar (libdeflate, shuffle) on the worker threads: values equal h5py's, and the
  output is byte-identical for --threads 1, 2 and 3 (L★ v2, L★ v2 zlib, L★ v3 sharded, anndata-zarr);
- the verbatim chunk copy (h5py deflate chunks → Zarr zlib with --compression zlib:L): chunk objects
  byte-identical to h5py's raw chunks, an unallocated chunk reads as the fill value and a chunk stored
  with its deflate filter skipped (filter mask 1) is re-encoded, never copied as if compressed;
- the results read back equal in zarr-python and, after converting back to h5ad, in anndata 0.8.

Run with /usr/bin/python3 (h5py, zarr-python 2.13, anndata 0.8).  Env: see clitest.py."""
import json
import os
import shutil
import sys
import tempfile
import warnings
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import check, check_eq, finish, run  # noqa: E402

warnings.filterwarnings("ignore")
import anndata as ad  # noqa: E402
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import zarr  # noqa: E402

N, G = 3000, 100


def make_input(path):
    """anndata's gzip h5ad, then X, obsm/X_pca and layers/counts re-chunked by hand."""
    rng = np.random.default_rng(7)
    X = rng.random((N, G), dtype=np.float32)
    counts = sp.random(N, G, density=0.8, format="csr", dtype=np.float32, random_state=3)
    obs = pd.DataFrame({"grp": pd.Categorical(rng.choice(["a", "b", "c"], N)), "q": rng.random(N)},
                       index=["c%d" % i for i in range(N)])
    var = pd.DataFrame(index=["g%d" % i for i in range(G)])
    a = ad.AnnData(X=X, obs=obs, var=var, obsm={"X_pca": rng.random((N, 50)).astype(np.float32)},
                   layers={"counts": counts})
    a.write_h5ad(path, compression="gzip")
    with h5py.File(path, "r+") as f:
        attrs = dict(f["X"].attrs)
        del f["X"]
        d = f.create_dataset("X", shape=(N, G), dtype="f4", chunks=(1000, G), compression="gzip",
                             compression_opts=4)
        for k, v in attrs.items():
            d.attrs[k] = v
        d[0:1000] = X[0:1000]  # chunk 0: deflated
        # chunk 1 (rows 1000-1999) is never written: the fill value, 0
        d.id.write_direct_chunk((2000, 0), X[2000:3000].tobytes(), filter_mask=1)  # chunk 2: deflate skipped
        attrs = dict(f["obsm/X_pca"].attrs)
        v = f["obsm/X_pca"][:]
        del f["obsm/X_pca"]
        d = f.create_dataset("obsm/X_pca", data=v, chunks=(500, 7), compression="gzip", shuffle=True)
        for k, val in attrs.items():
            d.attrs[k] = val
        for name, rows in (("data", 100000), ("indices", 20000)):  # indices: small chunks (80 KB)
            grp = f["layers/counts"]
            v = grp[name][:]
            del grp[name]
            grp.create_dataset(name, data=v, chunks=(rows,), compression="gzip", compression_opts=4)
    want_x = X.copy()
    want_x[1000:2000] = 0
    return want_x


def tree_bytes(root):
    """{relative path: bytes} of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


tmp = tempfile.mkdtemp()
try:
    src = os.path.join(tmp, "in.h5ad")
    want_x = make_input(src)
    with h5py.File(src, "r") as h:
        h_x = h["X"][:]
        h_pca = h["obsm/X_pca"][:]
        h_data, h_ind, h_ptr = (h["layers/counts"][k][:] for k in ("data", "indices", "indptr"))
        raw = {
            "fields/X/values/0.0": h["X"].id.read_direct_chunk((0, 0)),
            "fields/counts/data/0": h["layers/counts/data"].id.read_direct_chunk((0,)),
            "fields/counts/data/2": h["layers/counts/data"].id.read_direct_chunk((200000,)),
        }
        raw_ind = [h["layers/counts/indices"].id.read_direct_chunk((k * 20000,)) for k in range(12)]
        raw_data = [h["layers/counts/data"].id.read_direct_chunk((k * 100000,)) for k in range(3)]
    check(np.array_equal(h_x, want_x), "input: h5py reads X with chunk 1 as fill and chunk 2 unfiltered")

    variants = {
        "v2": ("o_v2.lstar.zarr", ["--to", "lstar", "--zarr-format", "2"]),
        "v2zlib": ("o_v2z.lstar.zarr", ["--to", "lstar", "--zarr-format", "2", "--compression", "zlib:4"]),
        "v3shard": ("o_v3.lstar.zarr", ["--to", "lstar", "--zarr-format", "3", "--compression", "zstd:3",
                                        "--chunk-elems", "20000", "--shard-elems", "100000"]),
        "adzarr": ("o_ad.zarr", ["--to", "anndata-zarr", "--compression", "zlib:4"]),
        # v3, default chunking: large source chunks copied one object each, small ones packed into shards
        "v3zlib": ("o_v3z.lstar.zarr", ["--to", "lstar", "--zarr-format", "3", "--compression", "zlib:4"]),
        # v3 with the source's chunk rows asked for and shards of 2 (data) / 12 (indices) chunks
        "v3zlibshard": ("o_v3zs.lstar.zarr", ["--to", "lstar", "--zarr-format", "3", "--compression", "zlib:4",
                                              "--chunk-elems", "100000", "--shard-elems", "250000"]),
    }
    first = {}
    for name, (dst, opts) in variants.items():
        for t in ("1", "2", "3"):
            out = os.path.join(tmp, "t%s_%s" % (t, dst))
            rc, _, err = run("convert", src, out, "--threads", t, "--no-check", *opts)
            check_eq((rc, err), (0, ""), "convert gzip h5ad -> %s --threads %s: exit, stderr" % (name, t))
            tb = tree_bytes(out)
            if t == "1":
                first[name] = (out, tb)
            else:
                check(tb == first[name][1], "%s: --threads %s output byte-identical to --threads 1 (%d files)"
                      % (name, t, len(tb)))

    # ---- values through zarr-python ----------------------------------------------------------------------
    for name in ("v2", "v2zlib"):
        g = zarr.open_group(first[name][0], mode="r")
        check(np.array_equal(g["fields/X/values"][:], want_x), "%s: zarr-python X == h5py X" % name)
        check(np.array_equal(g["fields/pca/values"][:], h_pca), "%s: zarr-python obsm X_pca (shuffle+deflate, "
              "(500, 7) chunks) == h5py" % name)
        check(np.array_equal(g["fields/counts/data"][:], h_data) and
              np.array_equal(g["fields/counts/indices"][:], h_ind) and
              np.array_equal(g["fields/counts/indptr"][:], h_ptr), "%s: zarr-python layers/counts == h5py" % name)

    # ---- the verbatim copy --------------------------------------------------------------------------------
    z_root = first["v2zlib"][0]
    zx = zarr.open_array(os.path.join(z_root, "fields/X/values"), mode="r")
    check_eq((zx.chunks, zx.compressor.codec_id), ((1000, G), "zlib"), "v2zlib: X keeps h5py's chunks, numcodecs zlib")
    for key, (mask, blob) in raw.items():
        with open(os.path.join(z_root, key), "rb") as f:
            got = f.read()
        check(mask == 0 and got == blob, "v2zlib: %s byte-identical to h5py's deflate chunk (%d bytes)"
              % (key, len(blob)))
    x1 = os.path.join(z_root, "fields/X/values/1.0")
    check(not os.path.exists(x1) or not np.frombuffer(zlib.decompress(open(x1, "rb").read()), "<f4").any(),
          "v2zlib: X chunk 1 (unallocated in the h5ad) absent or zlib-encoded zeros")
    with open(os.path.join(z_root, "fields/X/values/2.0"), "rb") as f:
        c2 = f.read()
    check(np.array_equal(np.frombuffer(zlib.decompress(c2), "<f4").reshape(1000, G), want_x[2000:3000]),
          "v2zlib: X chunk 2 (deflate skipped in the h5ad) re-encoded as zlib of its values")

    zi = zarr.open_array(os.path.join(z_root, "fields/counts/indices"), mode="r")
    check_eq(zi.chunks, (240000,), "v2zlib: small source chunks (80 KB) re-encoded into the default chunking "
             "(one chunk), not one object each")

    def shard_chunks(path, n):
        """The inner chunks of a v3 shard (index at the end: n x (offset, nbytes) little-endian + crc32c)."""
        with open(path, "rb") as f:
            b = f.read()
        idx = np.frombuffer(b[len(b) - 16 * n - 4:len(b) - 4], "<u8").reshape(n, 2)
        return [None if o == 2**64 - 1 else b[o:o + m] for o, m in idx]

    def v3_meta(root, arr):
        with open(os.path.join(root, arr, "zarr.json"), encoding="utf-8") as f:
            return json.load(f)

    for name, arr, want_shard, blobs in (("v3zlib", "fields/counts/indices", 12, raw_ind),
                                         ("v3zlibshard", "fields/counts/indices", None, None),
                                         ("v3zlibshard", "fields/counts/data", 2, raw_data)):
        root = first[name][0]
        meta = v3_meta(root, arr)
        codecs = meta["codecs"]
        if want_shard is None:  # --chunk-elems 100000 differs from the indices' 20000-row chunks: re-encoded
            sh = codecs[0]["configuration"] if codecs[0]["name"] == "sharding_indexed" else None
            check(sh is not None and sh["chunk_shape"] == [100000], "%s: %s re-chunked as asked (100000)"
                  % (name, arr))
            continue
        check_eq((codecs[0]["name"], meta["chunk_grid"]["configuration"]["chunk_shape"],
                  codecs[0]["configuration"]["chunk_shape"]),
                 ("sharding_indexed", [want_shard * (20000 if arr.endswith("indices") else 100000)],
                  [20000 if arr.endswith("indices") else 100000]),
                 "%s: %s packed into shards of %d source chunks" % (name, arr, want_shard))
        got = []
        nshards = -(-len(blobs) // want_shard)
        for k in range(nshards):
            got += shard_chunks(os.path.join(root, arr, "c", str(k)), want_shard)
        check(got[:len(blobs)] == [b for _, b in blobs] and all(g is None for g in got[len(blobs):]),
              "%s: the %d inner chunks of %s are h5py's deflate chunks byte for byte" % (name, len(blobs), arr))

    # ---- back to h5ad: anndata 0.8 reads what it read from the input ---------------------------------------
    a0 = ad.read_h5ad(src)
    for name in ("v2zlib", "v3shard", "adzarr", "v3zlib", "v3zlibshard"):
        back = os.path.join(tmp, "back_%s.h5ad" % name)
        rc, _, err = run("convert", first[name][0], back, "--threads", "2", "--no-check")
        check_eq((rc, err), (0, ""), "convert %s -> h5ad: exit, stderr" % name)
        a1 = ad.read_h5ad(back)
        check(np.array_equal(np.asarray(a1.X), np.asarray(a0.X)), "%s -> h5ad: anndata X equal" % name)
        check((a1.layers["counts"] != a0.layers["counts"]).nnz == 0, "%s -> h5ad: anndata layers/counts equal"
              % name)
        check(np.array_equal(a1.obsm["X_pca"], a0.obsm["X_pca"]), "%s -> h5ad: anndata obsm/X_pca equal" % name)
        check(a1.obs.equals(a0.obs) and list(a1.var_names) == list(a0.var_names),
              "%s -> h5ad: anndata obs, var_names equal" % name)

    # ---- a corrupt source fails, whichever path its chunks take (copied chunks are decoded to verify) ----------
    bad_cases = []
    bad = os.path.join(tmp, "bad_index.h5ad")
    shutil.copy(src, bad)
    with h5py.File(bad, "r+") as h:
        d = h["layers/counts/indices"]
        v = d[:]
        v[30000] = 5000  # valid deflate, index out of range (100 genes)
        d[:] = v
    bad_cases.append((bad, "index 5000 at position 30000 is outside [0, 100)"))
    bad = os.path.join(tmp, "bad_indptr.h5ad")
    shutil.copy(src, bad)
    with h5py.File(bad, "r+") as h:
        d = h["layers/counts/indptr"]
        v = d[:]
        v[1500] = v[1499] - 1
        d[:] = v
    bad_cases.append((bad, "indptr decreases at position 1500"))
    bad = os.path.join(tmp, "bad_chunk.h5ad")
    shutil.copy(src, bad)
    with h5py.File(bad, "r+") as h:
        d = h["layers/counts/data"]  # a 400 KB chunk: copied verbatim with zlib output
        _, b = d.id.read_direct_chunk((100000,))
        d.id.write_direct_chunk((100000,), b[:100] + bytes(len(b) - 100), filter_mask=0)
    bad_cases.append((bad, "decodes to more than the expected 400000 bytes"))
    for bad, want in bad_cases:
        for opts in ([], ["--compression", "zlib:4"], ["--zarr-format", "3", "--compression", "zlib:4"]):
            out = os.path.join(tmp, "bad_out.lstar.zarr")
            rc, _, err = run("convert", bad, out, "--threads", "2", "--no-check", *opts)
            check(rc == 2 and want in err and "counts" in err and not os.path.exists(out)
                  and not [x for x in os.listdir(tmp) if x.startswith("bad_out")],
                  "%s %s: exit 2, '%s', nothing left behind (%r)" % (os.path.basename(bad), " ".join(opts) or "default",
                                                                     want, err.strip()[:160]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
