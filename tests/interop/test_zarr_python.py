#!/usr/bin/python3
"""Interop: lstar's Zarr v2 layer against zarr-python 2.13 / numcodecs 0.11.

1. lstar writes a v2 hierarchy (every dtype x codec chain numcodecs knows,
   vlen-utf8 strings, fixed bytes, fill values with missing chunks, consolidated
   metadata); zarr-python must read every array with identical values.
2. zarr-python writes arrays (order F, big-endian, blosc variants, object
   strings, fill values, missing chunks, '/' separator, |S, <U, rank 0, ...);
   lstar must read identical values (via the lstar_test_zarr helper).

Environment: LSTAR_HELPERS (directory of lstar_test_* programs).
Exits non-zero on the first mismatch; prints what it checked.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numcodecs
import numpy as np
import zarr

HELPER = os.path.join(os.environ.get("LSTAR_HELPERS", ""), "lstar_test_zarr")
CHECKED = []


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def run(*args):
    r = subprocess.run([HELPER, *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


# ---- the formulas of tests/helpers/zarr.c -----------------------------------
NP_TYPES = {
    "bool": np.bool_, "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "float32": np.float32, "float64": np.float64, "complex64": np.complex64, "complex128": np.complex128,
}


def expected_values(dtype, idx):
    i = np.asarray(idx, dtype=np.int64)
    if dtype == "bool":
        return (i % 3) == 0
    if dtype.startswith("int"):
        return ((i * 7 + 3) % 100 - 50).astype(NP_TYPES[dtype])
    if dtype.startswith("uint"):
        return ((i * 7 + 3) % 200).astype(NP_TYPES[dtype])
    if dtype.startswith("float"):
        return (i * 0.5 - 20.25).astype(NP_TYPES[dtype])
    if dtype.startswith("complex"):
        return ((i * 0.5 - 1) - 1j * i).astype(NP_TYPES[dtype])
    raise ValueError(dtype)


def expected_strings(n):
    return ["s%d%s" % (i, "é" * (i % 3)) for i in range(n)]


def same(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return bool(np.all(a == b))


# ---- 1. lstar writes, zarr-python reads ------------------------------------
def check_ours(tmp):
    store = os.path.join(tmp, "ours.zarr")
    run("write", store, "2", "all")
    paths = run("list", store).split()
    if len(paths) < 100:
        fail("only %d arrays written" % len(paths))
    root = zarr.open_consolidated(store, mode="r")
    plain = zarr.open_group(store, mode="r")
    if root.attrs["writer"] != "lstar_test_zarr" or plain["grp"].attrs["k"] != [1, 2]:
        fail("attributes differ")
    for p in paths:
        arr = root[p]
        if arr.order != "C" or arr.fill_value is None and not p.startswith("str"):
            fail("%s: unexpected order/fill" % p)
        got = arr[...]
        name = p.split("/")[-1]
        if name.startswith("str_"):
            want = np.array(expected_strings(11), dtype=object)
            if arr.dtype != object or list(got) != list(want):
                fail("%s: strings %r" % (p, list(got)))
        elif name == "fixed_bytes":
            want = np.array([s.encode()[:8] for s in expected_strings(11)], dtype="S8")
            if arr.dtype != np.dtype("S8") or not same(got, want):
                fail("%s: %r" % (p, got))
        elif name.startswith("fill_"):
            dt = {"fill_f64": "float64", "fill_i32": "int32", "fill_f32": "float32"}[name]
            fillv = {"fill_f64": np.nan, "fill_i32": -9, "fill_f32": 2.5}[name]
            want = np.full(10, fillv, dtype=NP_TYPES[dt])
            want[4:8] = expected_values(dt, range(4, 8))
            if got.dtype != want.dtype or not same(got, want):
                fail("%s: %r" % (p, got))
        else:
            dt = name.split("_")[0] if name != "nested_f64" else "float64"
            want = expected_values(dt, range(91)).reshape(13, 7)
            if got.dtype != want.dtype or not same(got, want):
                fail("%s: values differ (%s)\n%r" % (p, got.dtype, got))
            if arr.chunks != (5, 3):
                fail("%s: chunks %r" % (p, arr.chunks))
        CHECKED.append("zarr-python reads lstar %s (%s, %s)" % (p, arr.dtype, arr.compressor))
    # the codecs really are the ones we meant
    comp = root["float32_blosc"].compressor
    if not isinstance(comp, numcodecs.Blosc) or comp.cname != "lz4" or comp.shuffle != 1:
        fail("float32_blosc compressor %r" % comp)
    flt = root["int32_deltazlib"].filters
    if not flt or not isinstance(flt[0], numcodecs.Delta):
        fail("int32_deltazlib filters %r" % flt)
    print("ok: zarr-python read %d lstar v2 arrays" % len(paths))


# ---- 2. zarr-python writes, lstar reads -------------------------------------
def dump(store, path):
    return json.loads(run("dump", store, path))


def as_list(a):
    a = np.asarray(a)
    out = []
    for v in a.reshape(-1):
        if a.dtype.kind == "c":
            out.append([float(v.real), float(v.imag)])
        elif a.dtype.kind == "f":
            out.append(float(v))
        elif a.dtype.kind == "b":
            out.append(bool(v))
        elif a.dtype.kind in "iu":
            out.append(int(v))
        elif a.dtype.kind == "S":
            out.append(v.rstrip(b"\0").decode("latin-1"))
        else:
            out.append(str(v))
    return out


def norm(v):
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    return v


def eq(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def check_theirs(tmp):
    store = os.path.join(tmp, "theirs.zarr")
    g = zarr.open_group(store, mode="w")
    rng = np.random.default_rng(7)
    cases = {}

    def add(name, data, **kw):
        a = g.create_dataset(name, shape=data.shape, dtype=kw.pop("dtype", data.dtype), **kw)
        a[...] = data
        cases[name] = a

    m = rng.integers(-1000, 1000, size=(7, 5)).astype("i4")
    add("order_f_i4", m, chunks=(3, 2), order="F")
    add("order_f_3d", rng.random((4, 3, 5)), chunks=(3, 2, 2), order="F")
    add("big_i4", m.astype(">i4"), chunks=(4, 4))
    add("big_f8", rng.random((9,)).astype(">f8"), chunks=(4,))
    add("big_u2_F", m.astype(">u2"), chunks=(3, 3), order="F")
    for cname in ["lz4", "zstd", "zlib", "blosclz", "lz4hc"]:
        for shuffle in [0, 1, 2]:
            add("blosc_%s_%d" % (cname, shuffle), rng.random((50, 3)).astype("f4"), chunks=(16, 2),
                compressor=numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle))
    add("zstd_i8", rng.integers(0, 10**12, size=(100,)), chunks=(30,), compressor=numcodecs.Zstd(level=5))
    add("gzip_u1", rng.integers(0, 255, size=(40,)).astype("u1"), chunks=(16,), compressor=numcodecs.GZip(level=6))
    add("zlib_i2", rng.integers(-300, 300, size=(40,)).astype("i2"), chunks=(16,), compressor=numcodecs.Zlib(level=1))
    add("lz4_f8", rng.random((40,)), chunks=(16,), compressor=numcodecs.LZ4())
    add("delta_i4", np.arange(100, dtype="i4") * 3, chunks=(32,), filters=[numcodecs.Delta(dtype="i4")],
        compressor=numcodecs.Zlib(1))
    add("shuffle_f4", rng.random((33,)).astype("f4"), chunks=(10,), filters=[numcodecs.Shuffle(elementsize=4)],
        compressor=None)
    add("bool", rng.random((17,)) > 0.5, chunks=(5,))
    add("complex", (rng.random((6,)) + 1j * rng.random((6,))).astype("c16"), chunks=(4,))
    add("f2", rng.random((9,)).astype("f2"), chunks=(4,))
    add("sep_slash", m, chunks=(3, 3), dimension_separator="/")
    add("fixed_S", np.array([b"ab", b"abcde", b"", b"x"], dtype="S5"), chunks=(3,))
    add("unicode_U", np.array(["hi", "é", "wxyz", ""], dtype="<U4"), chunks=(3,))
    strs = np.array(["a", "", "γάμμα", "long string " * 3, "z"], dtype=object)
    add("obj_str", strs, dtype=str, chunks=(2,))
    add("obj_str_zstd", strs, dtype=object, object_codec=numcodecs.VLenUTF8(), chunks=(3,),
        compressor=numcodecs.Zstd(1))
    add("scalar", np.array(3.25), chunks=())
    # fill values and missing chunks: write part of the array only
    f = g.create_dataset("fill_nan", shape=(10,), chunks=(4,), dtype="f8", fill_value=np.nan)
    f[4:8] = [1, 2, 3, 4]
    cases["fill_nan"] = f
    f = g.create_dataset("fill_int", shape=(3, 10), chunks=(2, 4), dtype="i4", fill_value=-9)
    f[0:2, 4:8] = 5
    cases["fill_int"] = f
    f = g.create_dataset("fill_str", shape=(6,), chunks=(2,), dtype=object, object_codec=numcodecs.VLenUTF8(),
                         fill_value="")
    f[2:4] = ["x", "y"]
    cases["fill_str"] = f
    f = g.create_dataset("fill_none", shape=(5,), chunks=(2,), dtype="u1", fill_value=None)
    f[0:2] = [1, 2]
    cases["fill_none"] = f
    sub = g.create_group("sub")
    sub.attrs["x"] = 1
    a = sub.create_dataset("deep", data=np.arange(12, dtype="i8").reshape(3, 4), chunks=(2, 2))
    cases["sub/deep"] = a
    zarr.consolidate_metadata(store)

    listed = set(run("list", store).split())
    if listed != set(cases):
        fail("lstar lists %r, zarr-python wrote %r" % (sorted(listed), sorted(cases)))
    for name, arr in cases.items():
        d = dump(store, name)
        want = arr[...]
        if name == "fill_none":
            want = want[:2]
            d["data"] = d["data"][:2]  # undefined fill: compare the written part only
        if list(d["shape"]) != list(arr.shape):
            fail("%s: shape %r vs %r" % (name, d["shape"], arr.shape))
        if arr.dtype == object:
            wl = [str(x) if x != 0 else "" for x in np.asarray(want).reshape(-1)]
        elif arr.dtype.kind == "U":
            wl = [str(x) for x in np.asarray(want).reshape(-1)]
        else:
            wl = as_list(want)
        got = norm(d["data"])
        if not eq(got, wl):
            fail("%s: lstar read %r\nzarr-python has %r" % (name, got[:20], wl[:20]))
        CHECKED.append("lstar reads zarr-python %s (%s, order %s, %s)" % (name, arr.dtype, arr.order, arr.compressor))
    print("ok: lstar read %d zarr-python v2 arrays" % len(cases))


def main():
    if not os.access(HELPER, os.X_OK):
        fail("helper %s not built" % HELPER)
    with tempfile.TemporaryDirectory() as tmp:
        check_ours(tmp)
        check_theirs(tmp)
    for c in CHECKED:
        print("checked:", c)
    print("PASS: %d checks" % len(CHECKED))


if __name__ == "__main__":
    main()
