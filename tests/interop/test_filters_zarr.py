#!/usr/bin/python3
"""Zarr <-> HDF5 chunk byte identity through lstar's filter plugins.

zarr-python 2.13 writes arrays with filters=[Delta(X), Shuffle(itemsize)] and compressor=Zstd(L);
h5py writes the same values with the HDF5 pipeline delta(56855) + shuffle(2) + zstd(32015, L), same
chunk shape, fill value 0.  Every raw HDF5 chunk (dsid.read_direct_chunk) must equal the Zarr chunk
file byte for byte — edge chunks included (both pad with 0).  The same for zstd alone (any dtype).
Then the reverse direction: the Zarr chunk files, written verbatim into an HDF5 dataset with that
pipeline (write_direct_chunk), read back through HDF5 as the values zarr-python reads.

Environment: LSTAR_BUILD (build dir; plugins in $LSTAR_BUILD/filters/plugins).
"""
import os
import shutil
import sys
import tempfile

BUILD = os.environ.get("LSTAR_BUILD")
if not BUILD:
    sys.exit("LSTAR_BUILD is not set")
PLUGINS = os.path.join(BUILD, "filters", "plugins")
for lib in ("liblstar_h5z_zstd.so", "liblstar_h5z_delta.so"):
    if not os.path.exists(os.path.join(PLUGINS, lib)):
        sys.exit("missing plugin %s in %s" % (lib, PLUGINS))
os.environ["HDF5_PLUGIN_PATH"] = PLUGINS + ":/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

import itertools  # noqa: E402

import h5py  # noqa: E402
import numcodecs  # noqa: E402
import numpy as np  # noqa: E402
import zarr  # noqa: E402

ZSTD = 32015
DELTA = 56855
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def h5_dataset(f, name, dtype, shape, chunks, pipeline):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    dcpl.set_fill_value(np.zeros(1, dtype))
    for fid, cd in pipeline:  # HDF5 applies the filters in the order they are added
        dcpl.set_filter(fid, h5py.h5z.FLAG_MANDATORY, tuple(cd))
    did = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(np.dtype(dtype)), h5py.h5s.create_simple(shape),
                          dcpl=dcpl)
    return h5py.Dataset(did)


def chunk_keys(shape, chunks):
    grid = [range((s + c - 1) // c) for s, c in zip(shape, chunks)]
    for idx in itertools.product(*grid):
        yield idx, tuple(i * c for i, c in zip(idx, chunks))


def compare(tmp, name, a, chunks, level, with_delta):
    dt = a.dtype
    zpath = os.path.join(tmp, name + ".zarr")
    filters = [numcodecs.Delta(dtype=dt.str), numcodecs.Shuffle(elementsize=dt.itemsize)] if with_delta else None
    z = zarr.open(zpath, mode="w", shape=a.shape, chunks=chunks, dtype=dt, fill_value=0, filters=filters,
                  compressor=numcodecs.Zstd(level=level))
    z[...] = a
    pipeline = [(DELTA, ()), (h5py.h5z.FILTER_SHUFFLE, ()), (ZSTD, (level,))] if with_delta else [(ZSTD, (level,))]
    hpath = os.path.join(tmp, name + ".h5")
    nchunks = 0
    with h5py.File(hpath, "w") as f:
        ds = h5_dataset(f, "x", dt, a.shape, chunks, pipeline)
        ds[...] = a
    with h5py.File(hpath, "r") as f:
        ds = f["x"]
        check((ds[...] == a).all(), "%s: HDF5 values differ" % name)
        for idx, off in chunk_keys(a.shape, chunks):
            mask, raw = ds.id.read_direct_chunk(off)
            with open(os.path.join(zpath, ".".join(map(str, idx))), "rb") as fh:
                zbytes = fh.read()
            check(mask == 0, "%s: chunk %s has filter mask %d" % (name, idx, mask))
            check(raw == zbytes, "%s: chunk %s: HDF5 %d bytes != Zarr %d bytes" % (name, idx, len(raw), len(zbytes)))
            nchunks += 1
    # reverse: zarr's chunk files, verbatim, as the chunks of an HDF5 dataset
    rpath = os.path.join(tmp, name + "_from_zarr.h5")
    with h5py.File(rpath, "w") as f:
        ds = h5_dataset(f, "x", dt, a.shape, chunks, pipeline)
        for idx, off in chunk_keys(a.shape, chunks):
            with open(os.path.join(zpath, ".".join(map(str, idx))), "rb") as fh:
                ds.id.write_direct_chunk(off, fh.read())
    with h5py.File(rpath, "r") as f:
        check((f["x"][...] == zarr.open(zpath, mode="r")[...]).all(),
              "%s: HDF5 reading zarr's chunk bytes gives other values than zarr-python" % name)
    return nchunks


def main():
    rng = np.random.default_rng(7)
    tmp = tempfile.mkdtemp(prefix="lstar_filters_zarr_")
    total = 0
    cases = 0
    # sorted CSR-like indices / indptr (the intended use), every integer dtype
    for dt in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
        dt = np.dtype(dt).newbyteorder("<")
        for n, chunk, level in ((4500, 1000, 5), (1, 1, 3), (1000, 1000, 1), (777, 64, 9)):
            a = np.cumsum(rng.integers(0, 40, n)).astype(dt)  # wraps for the small types, as intended
            total += compare(tmp, "dsz_%s_%d_%d" % (dt.str[1:], n, chunk), a, (chunk,), level, True)
            cases += 1
        # full-range random values: differences overflow and must wrap identically
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, 3001, dtype=dt, endpoint=True)
        total += compare(tmp, "dsz_%s_random" % dt.str[1:], a, (500,), 3, True)
        cases += 1
    # 2-D chunks with edges in both dimensions
    a = np.cumsum(rng.integers(0, 9, 47 * 31)).astype("<i4").reshape(47, 31)
    total += compare(tmp, "dsz_2d", a, (10, 8), 3, True)
    cases += 1
    # zstd alone, including floats
    for dt in ["<f4", "<f8", "<i2", "<u8"]:
        a = (rng.standard_normal(2500) * 1000).astype(dt)
        total += compare(tmp, "zstd_%s" % dt[1:], a, (512,), 4, False)
        cases += 1
    if not FAILURES:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("files kept in", tmp)
    print("zarr <-> HDF5: %d arrays, %d chunks byte-identical (delta+shuffle+zstd and zstd), "
          "and HDF5 reads zarr's chunk files" % (cases, total))


if __name__ == "__main__":
    main()
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
