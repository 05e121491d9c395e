#!/usr/bin/python3
"""Write a synthetic single-cell dataset as an h5ad file laid out exactly as anndata 0.8 writes it.

Streaming: the count matrix is generated block by block (a few hundred rows at a time) and written
to h5py datasets chunk-aligned, so 200k cells x 20k genes x 1000 nnz/cell (200M stored entries,
~1.6 GB per matrix) needs well under 300 MB of RAM.  Deterministic for a given (--seed, --cells,
--genes, --nnz-per-cell): every row block draws from its own numpy default_rng([seed, tag, block]).

Layout (anndata 0.8.0 `write_h5ad` order and encodings; compare anndata/_io/specs/methods.py):
  /                 attrs encoding-type=anndata, encoding-version=0.1.0
  /X                csr_matrix 0.1.0, attr shape (int64[2]); data float32 (integer-valued counts),
                    indices int32, indptr int32 (int64 when nnz or genes >= 2**31, as scipy picks);
                    each created with maxshape=(None,) and h5py's guessed chunk for the final length
                    (what `create_dataset(data=..., maxshape=(None,))` gives), data fully written before
                    indices before indptr (so each dataset's chunks are contiguous in the file)
  /obs              dataframe 0.2.0, _index="_index": leiden (categorical 0.2.0, int8 codes,
                    20 string categories), n_counts float32 (row sums of X), pct_mt float32,
                    orig_barcode (string-array, unique, so anndata keeps it a string column)
  /var              dataframe 0.2.0: gene_ids (string-array), n_cells int64 (column nnz),
                    highly_variable bool
  /obsm             dict: X_pca float32 [n,50], X_umap float32 [n,2] (dense `array` 0.2.0)
  /varm, /obsp, /varp  empty dicts
  /layers/counts    csr_matrix, same values and structure as X (omit with --layer none)
  /uns              dict: leiden params, leiden_colors (string-array), pca variance_ratio, a string
                    and numeric scalars describing the generator

Small elements (obs, var, uns) are written with anndata's own `write_elem`; the big ones (X, layers,
obsm) replicate `write_sparse_compressed` / `write_basic` with streamed writes.  With
--compression gzip[:L] every dataset gets what `write_h5ad(compression="gzip")` gives
(h5py gzip, default level 4; scalars stay uncompressed; dense arrays become chunked with h5py's guess).

Usage:  /usr/bin/python3 bench/gen_synth_h5ad.py --cells 100000 --out bench/data/c100k.h5ad
        [--genes 20000] [--nnz-per-cell 1000] [--seed 0] [--compression none|gzip[:L]] [--layer counts|none]
        [--verify]   (re-reads the file with anndata.read_h5ad and checks shapes/values; small sizes only)
"""

import argparse
import os
import sys
import tempfile
import time

import h5py
import numpy as np
import pandas as pd
from h5py._hl.filters import guess_chunk

from anndata._io.specs import write_elem

N_CLUSTERS = 20
N_PCS = 50
TAG_X, TAG_OBS, TAG_PCA = 1, 2, 3


def parse_compression(s):
    if s in (None, "", "none"):
        return {}
    if s == "gzip":
        return {"compression": "gzip"}  # h5py default level 4, like write_h5ad(compression="gzip")
    if s.startswith("gzip:"):
        lvl = int(s[5:])
        if not 0 <= lvl <= 9:
            raise SystemExit("gzip level must be 0..9")
        return {"compression": "gzip", "compression_opts": lvl}
    raise SystemExit(f"unknown --compression {s!r} (none | gzip[:L])")


def gene_model(genes, nnz_per_cell, seed):
    """Per-gene detection probability (sums to nnz_per_cell) and mean extra count."""
    rng = np.random.default_rng([seed, 0])
    w = rng.lognormal(0.0, 1.5, genes)
    p = np.minimum(w * (nnz_per_cell / w.sum()), 0.98)
    for _ in range(50):  # rescale the unclipped part so the expected row nnz is nnz_per_cell
        free = p < 0.98
        deficit = nnz_per_cell - p.sum()
        if abs(deficit) < 1e-6 or not free.any():
            break
        p[free] *= 1 + deficit / p[free].sum()
        p = np.minimum(p, 0.98)
    lam = (0.2 + 4.0 * w / w.max() * 10).astype(np.float64)  # highly detected genes have higher counts
    return p.astype(np.float32), lam


def block_rows(genes):
    return max(1, 8_000_000 // genes)  # ~8M candidate entries per block (~40 MB temporaries)


def gen_block(seed, b, r0, r1, genes, p, lam):
    """Rows [r0, r1): (row nnz, indices int64 sorted per row, float32 integer-valued data)."""
    rng = np.random.default_rng([seed, TAG_X, b])
    u = rng.random((r1 - r0, genes), dtype=np.float32)
    mask = u < p[None, :]
    del u
    rows, cols = np.nonzero(mask)  # row-major: CSR order, columns sorted within a row
    del mask
    counts = np.bincount(rows, minlength=r1 - r0)
    data = (1 + rng.poisson(lam[cols])).astype(np.float32)
    return counts, cols, data


class ChunkWriter:
    """Append to a 1-d dataset of known final length in whole-chunk writes (no partial-chunk RMW)."""

    def __init__(self, ds):
        self.ds, self.chunk, self.pos, self.pend = ds, ds.chunks[0] if ds.chunks else 1 << 20, 0, []
        self.npend = 0

    def append(self, a):
        self.pend.append(a)
        self.npend += len(a)
        if self.npend >= self.chunk:
            self._flush(False)

    def _flush(self, final):
        buf = np.concatenate(self.pend) if len(self.pend) > 1 else self.pend[0]
        n = len(buf) if final else (len(buf) // self.chunk) * self.chunk
        if n:
            self.ds[self.pos:self.pos + n] = buf[:n]
            self.pos += n
        rest = buf[n:]
        self.pend, self.npend = ([rest] if len(rest) else []), len(rest)

    def close(self):
        if self.npend:
            self._flush(True)
        assert self.pos == self.ds.shape[0], (self.pos, self.ds.shape)


def raw_chunks(path, dtype, n, step):
    with open(path, "rb") as fh:
        done = 0
        while done < n:
            k = min(step, n - done)
            a = np.fromfile(fh, dtype=dtype, count=k)
            assert len(a) == k
            done += k
            yield a


def write_csr_streamed(f, key, shape, nnz, idx_dtype, indptr, raw_data, raw_idx, dkw):
    """Same layout as anndata's write_sparse_compressed(f, key, csr, dataset_kwargs=dkw)."""
    g = f.create_group(key)
    g.attrs["shape"] = shape
    step = 4 << 20
    for name, dtype, raw, src_dtype in (("data", np.float32, raw_data, np.float32),
                                        ("indices", idx_dtype, raw_idx, np.int32)):
        kw = dict(dkw)
        kw["chunks"] = guess_chunk((nnz,), (None,), np.dtype(dtype).itemsize) if nnz else None
        if nnz == 0:
            kw.pop("chunks")
        ds = g.create_dataset(name, shape=(nnz,), maxshape=(None,), dtype=dtype, **kw)
        w = ChunkWriter(ds)
        for a in raw_chunks(raw, src_dtype, nnz, step):
            w.append(a.astype(dtype, copy=False))
        w.close()
    g.create_dataset("indptr", data=indptr.astype(idx_dtype), maxshape=(None,), **dkw)
    g.attrs.setdefault("encoding-type", "csr_matrix")
    g.attrs.setdefault("encoding-version", "0.1.0")


def write_dense_streamed(g, name, shape, gen, dkw):
    """Same layout as anndata's write_basic (create_dataset(data=arr, **dkw)) for a float32 array."""
    ds = g.create_dataset(name, shape=shape, dtype=np.float32, **dkw)
    step = max(1, (8 << 20) // (4 * shape[1]))
    for r0 in range(0, shape[0], step):
        r1 = min(shape[0], r0 + step)
        ds[r0:r1] = gen(r0, r1)
    ds.attrs.setdefault("encoding-type", "array")
    ds.attrs.setdefault("encoding-version", "0.2.0")


def barcodes(n):
    """Unique 16-mer barcodes + '-1' (10x style), derived from the row number."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    i = np.arange(n, dtype=np.int64)
    digits = np.stack([(i >> (2 * k)) & 3 for k in range(15, -1, -1)], axis=1)
    mat = letters[digits]
    return [bytes(r).decode() + "-1" for r in mat]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=10000)
    ap.add_argument("--genes", type=int, default=20000)
    ap.add_argument("--nnz-per-cell", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compression", default="none", help="none | gzip | gzip:L (h5py default level 4)")
    ap.add_argument("--layer", choices=["counts", "none"], default="counts")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tmpdir", default=None, help="for the two raw scratch files (default: beside --out)")
    ap.add_argument("--verify", action="store_true", help="read back with anndata.read_h5ad and check")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    n, G, K = a.cells, a.genes, a.nnz_per_cell
    if n < 1 or G < 1 or not 0 <= K <= G:
        raise SystemExit("need cells >= 1, genes >= 1, 0 <= nnz-per-cell <= genes")
    dkw = parse_compression(a.compression)
    t0 = time.time()
    log = (lambda *m: None) if a.quiet else (lambda *m: print(f"[{time.time() - t0:7.1f}s]", *m, file=sys.stderr))

    p, lam = gene_model(G, K, a.seed)
    B = block_rows(G)
    out = os.path.abspath(a.out)
    tmpdir = a.tmpdir or os.path.dirname(out)
    os.makedirs(tmpdir, exist_ok=True)

    # Pass 1: generate the matrix once into two raw scratch files; accumulate indptr, row sums, col nnz.
    indptr = np.zeros(n + 1, dtype=np.int64)
    n_counts = np.zeros(n, dtype=np.float32)
    n_cells = np.zeros(G, dtype=np.int64)
    fd_d, raw_data = tempfile.mkstemp(prefix=".synth-data-", dir=tmpdir)
    fd_i, raw_idx = tempfile.mkstemp(prefix=".synth-idx-", dir=tmpdir)
    try:
        with os.fdopen(fd_d, "wb") as fdat, os.fdopen(fd_i, "wb") as fidx:
            for b, r0 in enumerate(range(0, n, B)):
                r1 = min(n, r0 + B)
                counts, cols, data = gen_block(a.seed, b, r0, r1, G, p, lam)
                indptr[r0 + 1:r1 + 1] = indptr[r0] + np.cumsum(counts)
                rs = np.repeat(np.arange(r1 - r0), counts)
                n_counts[r0:r1] = np.bincount(rs, weights=data, minlength=r1 - r0)
                n_cells += np.bincount(cols, minlength=G)
                cols.astype(np.int32).tofile(fidx)
                data.tofile(fdat)
                if b % 50 == 0:
                    log(f"generated rows {r1}/{n}")
        nnz = int(indptr[-1])
        big = nnz >= 2**31 or G >= 2**31
        idx_dtype = np.int64 if big else np.int32  # what scipy's csr_matrix picks
        log(f"nnz={nnz} ({nnz / n:.1f}/cell), writing {out}")

        rng = np.random.default_rng([a.seed, TAG_OBS])
        leiden = rng.integers(0, N_CLUSTERS, n)
        cat_names = [str(i) for i in range(N_CLUSTERS)]
        bcs = barcodes(n)
        obs = pd.DataFrame(
            {
                "leiden": pd.Categorical.from_codes(leiden.astype(np.int8), categories=cat_names),
                "n_counts": n_counts,
                "pct_mt": rng.gamma(2.0, 1.5, n).astype(np.float32),
                "orig_barcode": [f"sample{(i * 7) % 4}_{bc}" for i, bc in enumerate(bcs)],
            },
            index=pd.Index(bcs, dtype=object),
        )
        del bcs
        var = pd.DataFrame(
            {
                "gene_ids": [f"ENSG{i:011d}" for i in range(G)],
                "n_cells": n_cells,
                "highly_variable": rng.random(G) < 0.1,
            },
            index=pd.Index([f"GENE{i}" for i in range(G)], dtype=object),
        )
        centers = np.random.default_rng([a.seed, TAG_PCA, 0]).normal(0, 5, (N_CLUSTERS, N_PCS)).astype(np.float32)

        def pca_rows(r0, r1):
            rr = np.random.default_rng([a.seed, TAG_PCA, 1, r0])
            return centers[leiden[r0:r1]] + rr.normal(0, 1, (r1 - r0, N_PCS)).astype(np.float32)

        def umap_rows(r0, r1):
            rr = np.random.default_rng([a.seed, TAG_PCA, 2, r0])
            return centers[leiden[r0:r1], :2] + rr.normal(0, 0.5, (r1 - r0, 2)).astype(np.float32)

        colors = np.array([f"#{(i * 2654435761) & 0xFFFFFF:06x}" for i in range(N_CLUSTERS)])
        uns = {
            "leiden": {"params": {"resolution": 1.0, "n_iterations": -1, "random_state": 0}},
            "leiden_colors": colors,
            "pca": {"variance_ratio": np.sort(rng.random(N_PCS))[::-1].copy(),
                    "params": {"zero_center": True, "use_highly_variable": True}},
            "synth": {"generator": "lstar bench/gen_synth_h5ad.py", "seed": a.seed,
                      "nnz_per_cell": K, "compression": a.compression},
        }

        tmp_out = out + ".part"
        # A 64 MiB chunk cache: writes are chunk-aligned anyway; this only affects speed, not layout.
        with h5py.File(tmp_out, "w", rdcc_nbytes=64 << 20) as f:
            f.attrs.setdefault("encoding-type", "anndata")
            f.attrs.setdefault("encoding-version", "0.1.0")
            write_csr_streamed(f, "X", (n, G), nnz, idx_dtype, indptr, raw_data, raw_idx, dkw)
            log("X written")
            write_elem(f, "obs", obs, dataset_kwargs=dkw)
            write_elem(f, "var", var, dataset_kwargs=dkw)
            g = f.create_group("obsm")
            write_dense_streamed(g, "X_pca", (n, N_PCS), pca_rows, dkw)
            write_dense_streamed(g, "X_umap", (n, 2), umap_rows, dkw)
            g.attrs.setdefault("encoding-type", "dict")
            g.attrs.setdefault("encoding-version", "0.1.0")
            for k in ("varm", "obsp", "varp"):
                write_elem(f, k, {}, dataset_kwargs=dkw)
            g = f.create_group("layers")
            if a.layer == "counts":
                write_csr_streamed(g, "counts", (n, G), nnz, idx_dtype, indptr, raw_data, raw_idx, dkw)
                log("layers/counts written")
            g.attrs.setdefault("encoding-type", "dict")
            g.attrs.setdefault("encoding-version", "0.1.0")
            write_elem(f, "uns", uns, dataset_kwargs=dkw)
        os.replace(tmp_out, out)
    finally:
        for pth in (raw_data, raw_idx):
            try:
                os.unlink(pth)
            except FileNotFoundError:
                pass
    log(f"done: {out} {os.path.getsize(out) / 2**20:.1f} MiB")

    if a.verify:
        verify(out, a, nnz, p, lam, B)


def verify(path, a, nnz, p, lam, B):
    import anndata
    import scipy.sparse as sp
    ad = anndata.read_h5ad(path)
    n, G = a.cells, a.genes
    assert ad.shape == (n, G), ad.shape
    assert sp.isspmatrix_csr(ad.X) and ad.X.dtype == np.float32 and ad.X.nnz == nnz
    assert ad.X.has_sorted_indices
    # regenerate the first block independently and compare
    r1 = min(n, B)
    counts, cols, data = gen_block(a.seed, 0, 0, r1, G, p, lam)
    blk = ad.X[:r1]
    assert np.array_equal(np.diff(blk.indptr), counts)
    assert np.array_equal(blk.indices, cols) and np.array_equal(blk.data, data)
    assert np.all(ad.X.data == np.round(ad.X.data)) and ad.X.data.min() >= 1
    assert np.allclose(np.asarray(ad.X.sum(axis=1)).ravel(), ad.obs["n_counts"].to_numpy(), rtol=1e-5)
    assert np.array_equal(np.diff(ad.X.tocsc().indptr), ad.var["n_cells"].to_numpy())
    if a.layer == "counts":
        assert (ad.layers["counts"] != ad.X).nnz == 0
    assert ad.obs["leiden"].dtype.name == "category" and len(ad.obs["leiden"].cat.categories) == N_CLUSTERS
    assert ad.obs["n_counts"].dtype == np.float32 and ad.obs["pct_mt"].dtype == np.float32
    assert ad.obs["orig_barcode"].dtype == object and ad.obs.index.is_unique
    assert list(ad.var.columns) == ["gene_ids", "n_cells", "highly_variable"]
    assert ad.obsm["X_pca"].shape == (n, N_PCS) and ad.obsm["X_pca"].dtype == np.float32
    assert ad.obsm["X_umap"].shape == (n, 2)
    assert ad.uns["leiden"]["params"]["resolution"] == 1.0 and len(ad.uns["leiden_colors"]) == N_CLUSTERS
    # anndata's own writer: same element tree, encodings, dtypes
    import h5py as _h
    ref = path + ".anndata-ref.h5ad"
    ad.write_h5ad(ref, **parse_compression(a.compression))
    try:
        def walk(f):
            out = {}
            f.visititems(lambda k, o: out.__setitem__(k, (
                type(o).__name__, getattr(o, "dtype", None), getattr(o, "shape", None),
                getattr(o, "compression", None), getattr(o, "compression_opts", None),
                getattr(o, "chunks", None), getattr(o, "maxshape", None),
                tuple(sorted((ak, str(av)) for ak, av in o.attrs.items())))))
            return out
        with _h.File(path, "r") as f1, _h.File(ref, "r") as f2:
            w1, w2 = walk(f1), walk(f2)
            w1[""] = tuple(sorted((k, str(v)) for k, v in f1.attrs.items()))
            w2[""] = tuple(sorted((k, str(v)) for k, v in f2.attrs.items()))
        diff = {k: (w1.get(k), w2.get(k)) for k in set(w1) | set(w2) if w1.get(k) != w2.get(k)}
        if diff:
            for k, (x, y) in sorted(diff.items()):
                print(f"layout differs at {k}:\n  ours    {x}\n  anndata {y}", file=sys.stderr)
            raise SystemExit("verify: layout differs from anndata.write_h5ad")
    finally:
        os.unlink(ref)
    print(f"verify OK: {path} reads with anndata {anndata.__version__}: {ad.shape}, nnz={nnz}; "
          f"layout identical to anndata.write_h5ad", file=sys.stderr)


if __name__ == "__main__":
    main()
