#!/usr/bin/python3
"""The anndata 0.8 peer of `lstar convert`, one conversion per process (run.py measures the process).

  peer_anndata.py h5ad2zarr IN.h5ad OUT.zarr   anndata.read_h5ad + AnnData.write_zarr (zarr 2.13 defaults:
                                              Blosc lz4 clevel 5 shuffle, zarr's automatic chunking)
  peer_anndata.py zarr2h5ad IN.zarr OUT.h5ad   anndata.read_zarr + AnnData.write_h5ad [--compression gzip]
  peer_anndata.py h5ad2h5ad IN.h5ad OUT.h5ad   read_h5ad + write_h5ad (rewrite, e.g. recompress)
"""
import sys
import warnings

import anndata

warnings.simplefilter("ignore")


def main():
    mode, src, dst = sys.argv[1:4]
    comp = None
    if "--compression" in sys.argv:
        comp = sys.argv[sys.argv.index("--compression") + 1]
        comp = None if comp == "none" else comp
    if mode == "h5ad2zarr":
        anndata.read_h5ad(src).write_zarr(dst)
    elif mode == "zarr2h5ad":
        anndata.read_zarr(src).write_h5ad(dst, compression=comp)
    elif mode == "h5ad2h5ad":
        anndata.read_h5ad(src).write_h5ad(dst, compression=comp)
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
