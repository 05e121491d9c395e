#!/usr/bin/python3
"""Python peers of `lstar stats` (per-gene mean, sample variance, stored entries of a CSR X).

  peers.py h5py    FILE.h5ad OUT.npy [--rows N] [--group G]   h5py row chunks + numpy (bincount) —
                                                 streaming (G: the csr_matrix group, default X)
  peers.py backed  FILE.h5ad OUT.npy [--rows N]   anndata.read_h5ad(backed='r'), X[i:j] row chunks + scipy
  peers.py scipy   FILE.h5ad OUT.npy              whole X in memory (anndata.read_h5ad) + scipy

Writes a (3, genes) float64 array: mean, var (n-1), nnz.  Same semantics as `lstar stats`
(implicit zeros count).  Sums in float64 (numpy's bincount accumulates in float64)."""
import sys

import numpy as np


def finish(n, s, q, nnz, out):
    mean = s / n
    var = (q - s * s / n) / (n - 1)
    np.save(out, np.vstack([mean, var, nnz.astype(np.float64)]))


def run_h5py(path, out, rows, group="X"):
    import h5py
    with h5py.File(path, "r") as f:
        X = f[group]
        n, g = (int(v) for v in X.attrs["shape"])
        indptr = X["indptr"][:]
        data, indices = X["data"], X["indices"]
        s = np.zeros(g)
        q = np.zeros(g)
        c = np.zeros(g, dtype=np.int64)
        for r0 in range(0, n, rows):
            r1 = min(n, r0 + rows)
            a, b = int(indptr[r0]), int(indptr[r1])
            if a == b:
                continue
            d = data[a:b].astype(np.float64)
            ix = indices[a:b]
            s += np.bincount(ix, weights=d, minlength=g)
            q += np.bincount(ix, weights=d * d, minlength=g)
            c += np.bincount(ix, minlength=g)
    finish(n, s, q, c, out)


def run_backed(path, out, rows):
    import anndata
    a = anndata.read_h5ad(path, backed="r")
    n, g = a.shape
    s = np.zeros(g)
    q = np.zeros(g)
    c = np.zeros(g, dtype=np.int64)
    for r0 in range(0, n, rows):
        m = a.X[r0:min(n, r0 + rows)]
        m = m.astype(np.float64)
        s += np.asarray(m.sum(axis=0)).ravel()
        q += np.asarray(m.multiply(m).sum(axis=0)).ravel()
        c += m.getnnz(axis=0)
    finish(n, s, q, c, out)


def run_scipy(path, out):
    import anndata
    a = anndata.read_h5ad(path)
    X = a.X.astype(np.float64)
    n = X.shape[0]
    s = np.asarray(X.sum(axis=0)).ravel()
    q = np.asarray(X.multiply(X).sum(axis=0)).ravel()
    finish(n, s, q, X.getnnz(axis=0), out)


if __name__ == "__main__":
    mode, path, out = sys.argv[1:4]
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    rows = int(opts.get("--rows", 10000))
    {"h5py": lambda: run_h5py(path, out, rows, opts.get("--group", "X")), "backed": lambda: run_backed(path, out, rows),
     "scipy": lambda: run_scipy(path, out)}[mode]()
