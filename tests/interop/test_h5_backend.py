"""Interop: the HDF5 backend (lstar/h5.h) against h5py 3.7 and anndata 0.8.

1. lstar writes a small h5ad (lstar_test_h5 write-h5ad); h5py must see exactly the types h5py itself
   writes (scalar vlen UTF-8 string attributes, vlen string arrays, the bool enum, int64 arrays, an empty
   float64 column-order, track_order groups) and anndata.read_h5ad must load it with the right values.
2. h5py writes datasets of every kind lstar reads (big-endian, bool, vlen/fixed strings, compound members,
   scalars, chunked + gzip/shuffle/lzf, object-reference attributes); lstar must return the same values.
Run with /usr/bin/python3; LSTAR_HELPERS points at the helper programs.
"""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HELPER = os.path.join(os.environ.get("LSTAR_HELPERS", ""), "lstar_test_h5")
checked = 0
failures = []


def check(cond, what):
    global checked
    checked += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def helper(*args):
    p = subprocess.run([HELPER] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode().strip()))
    return p.stdout.decode("utf-8")


def dump(path, ds, member=None):
    out = helper("dump-member", path, ds, member) if member else helper("dump", path, ds)
    lines = out.split("\n")
    head = lines[0].split()
    vals = lines[1:-1]
    return head[0], [int(x) for x in head[2:]], vals


def str_attr_is_h5py_like(obj, name, nelem=None):
    aid = h5py.h5a.open(obj.id, name.encode())
    t = aid.get_type()
    ok = t.get_class() == h5py.h5t.STRING and t.is_variable_str() and t.get_cset() == h5py.h5t.CSET_UTF8
    if nelem is None:
        ok = ok and aid.shape == ()
    else:
        ok = ok and aid.shape == (nelem,)
    return ok


def part1(tmp):
    path = os.path.join(tmp, "lstar.h5ad")
    helper("write-h5ad", path)
    with h5py.File(path, "r") as f:
        check(f.attrs["encoding-type"] == "anndata", "root encoding-type")
        check(str_attr_is_h5py_like(f, "encoding-type"), "root encoding-type is a scalar vlen utf-8 string")
        co = f["obs"].attrs["column-order"]
        check(list(co) == ["cat", "nint"], "obs column-order %r" % (co,))
        check(str_attr_is_h5py_like(f["obs"], "column-order", 2), "column-order is a vlen utf-8 array")
        empty = f["var"].attrs["column-order"]
        check(empty.dtype == np.float64 and empty.shape == (0,), "empty column-order is float64[0] like h5py")
        ordered = f["obs/cat"].attrs["ordered"]
        check(isinstance(ordered, np.bool_) and bool(ordered), "ordered is numpy bool True")
        check(f["uns"].attrs["shape"].dtype == np.int64 and list(f["uns"].attrs["shape"]) == [4, 3], "int64 shape")
        check(f["X"].compression == "gzip" and f["X"].compression_opts == 4 and f["X"].chunks == (2, 3), "X gzip 4 chunks")
        check(np.array_equal(f["X"][()], (np.arange(12, dtype=np.float32) * 1.5 - 2).reshape(4, 3)), "X values")
        check(f["obs/nint/mask"].dtype == np.bool_, "mask is bool")
        check(h5py.check_string_dtype(f["obs/_index"].dtype).encoding == "utf-8", "vlen utf-8 index")
        check([x.decode() for x in f["obs/_index"][()]] == ["cell-α", "cell-1", "cell-2", "cell-3"], "index values")
        check(f["uns/title"][()] == b"hello h5ad", "scalar string")
        check(f["uns"].id.get_create_plist().get_link_creation_order() != 0, "uns tracks creation order")
        check(f.id.get_access_plist().get_libver_bounds()[0] == h5py.h5f.LIBVER_EARLIEST, "libver earliest")
    import anndata
    ad = anndata.read_h5ad(path)
    check(ad.shape == (4, 3), "anndata shape %r" % (ad.shape,))
    check(list(ad.obs_names) == ["cell-α", "cell-1", "cell-2", "cell-3"], "anndata obs_names")
    check(list(ad.var_names) == ["g0", "g1", "g2"], "anndata var_names")
    check(ad.obs["cat"].cat.ordered and list(ad.obs["cat"].cat.categories) == ["low", "high"], "categorical")
    check(list(ad.obs["cat"].astype(object).fillna("NA")) == ["high", "low", "NA", "high"], "categorical values")
    nint = ad.obs["nint"]
    check(str(nint.dtype) == "Int64" and nint.isna().tolist() == [False, False, True, False], "nullable integer")
    check(ad.uns["title"] == "hello h5ad" and ad.uns["pi"] == 3.25, "uns scalars")
    check(np.allclose(ad.X, (np.arange(12, dtype=np.float32) * 1.5 - 2).reshape(4, 3)), "anndata X")


def part2(tmp):
    path = os.path.join(tmp, "h5py.h5")
    rng = np.random.default_rng(7)
    be = rng.normal(size=(37, 11)).astype(">f8")
    ints = rng.integers(-(2 ** 40), 2 ** 40, size=(5, 6, 7)).astype(">i8")
    u16 = rng.integers(0, 65535, size=300).astype("<u2")
    bools = rng.integers(0, 2, size=50).astype(bool)
    labels = ["ünï-%d" % i * (i % 4) for i in range(123)]
    rec = np.array([(b"a", 1, 1.5, "x"), (b"bcd", -2, np.nan, "yy"), (b"", 3, 0.25, "")],
                   dtype=[("name", "S3"), ("n", "<i4"), ("v", ">f4"), ("s", h5py.string_dtype())])
    with h5py.File(path, "w") as f:
        f.create_dataset("be", data=be, chunks=(8, 4), compression="gzip", shuffle=True)
        f.create_dataset("ints", data=ints, chunks=(2, 3, 4), compression="lzf")
        f.create_dataset("u16", data=u16)
        f.create_dataset("bools", data=bools, chunks=(16,))
        f.create_dataset("labels", data=labels, dtype=h5py.string_dtype(), chunks=(10,), compression="gzip")
        f.create_dataset("fixed", data=np.array([b"ab", b"abcdef", b""], dtype="S6"))
        f.create_dataset("rec", data=rec)
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("sstr", data="scalar ☃", dtype=h5py.string_dtype())
        f.create_dataset("half_be", data=np.array([0.5, -2.0, 65504.0, 1e-3], dtype=">f2"))
        f.create_dataset("cplx64", data=np.array([1 + 2j, -3.5j], dtype=np.complex64))
        f.create_dataset("cplx128", data=np.array([[0.1 - 0.2j]], dtype=">c16"))
        f.create_dataset("enum_u8", data=np.array([0, 2, 1], dtype=np.uint8),
                         dtype=h5py.enum_dtype({"A": 0, "B": 1, "C": 2}, basetype="u1"))
        g = f.create_group("ordered", track_order=True)
        for name in ["zz", "aa", "mm"]:
            g.create_group(name)
        f["u16"].attrs["ref"] = f["rec"].ref
        f["u16"].attrs["flag"] = np.bool_(True)
        f["u16"].attrs["vals"] = np.array([1.5, 2.5])
        f["u16"].attrs["fixedstr"] = np.bytes_(b"fixed!")
        f["u16"].attrs["one"] = ["only"]

    dt, shape, vals = dump(path, "be")
    check(dt == "float64" and shape == [37, 11], "be header")
    check(np.array_equal(np.array([float(v) for v in vals]), be.ravel().astype(float)), "big-endian float64 values")
    dt, shape, vals = dump(path, "ints")
    check(dt == "int64" and shape == [5, 6, 7], "ints header")
    check([int(v) for v in vals] == ints.ravel().tolist(), "lzf big-endian int64 values")
    dt, shape, vals = dump(path, "u16")
    check(dt == "uint16" and [int(v) for v in vals] == u16.tolist(), "uint16")
    dt, shape, vals = dump(path, "bools")
    check(dt == "bool" and [int(v) for v in vals] == bools.astype(int).tolist(), "bool enum")
    dt, shape, vals = dump(path, "labels")
    check(dt == "string" and vals == labels, "vlen utf-8 labels")
    dt, shape, vals = dump(path, "fixed")
    check(vals == ["ab", "abcdef", ""], "fixed strings %r" % (vals,))
    check(dump(path, "rec", "name")[2] == ["a", "bcd", ""], "compound fixed-string member")
    check(dump(path, "rec", "n")[2] == ["1", "-2", "3"], "compound int member")
    v = dump(path, "rec", "v")[2]
    check(v[0] == "1.5" and v[1] == "nan" and v[2] == "0.25", "compound big-endian float member %r" % (v,))
    check(dump(path, "rec", "s")[2] == ["x", "yy", ""], "compound vlen-string member")
    dt, shape, vals = dump(path, "scalar")
    check(dt == "float32" and shape == [] and vals == ["2.5"], "scalar float")
    dt, shape, vals = dump(path, "sstr")
    check(dt == "string" and vals == ["scalar ☃"], "scalar string")
    dt, shape, vals = dump(path, "half_be")
    check(dt == "float16" and [float(v) for v in vals] == np.array([0.5, -2.0, 65504.0, 1e-3], dtype="f2").astype(float).tolist(),
          "big-endian float16 %r" % (vals,))
    dt, shape, vals = dump(path, "cplx64")
    cv = [complex(*map(float, v.split())) for v in vals]
    check(dt == "complex64" and cv == [1 + 2j, -3.5j], "complex64 %r" % (vals,))
    dt, shape, vals = dump(path, "cplx128")
    cv = [complex(*map(float, v.split())) for v in vals]
    check(dt == "complex128" and shape == [1, 1] and cv == [0.1 - 0.2j], "big-endian complex128 %r" % (vals,))
    dt, shape, vals = dump(path, "enum_u8")
    check(dt == "uint8" and vals == ["0", "2", "1"], "enum read as its base integers %r" % (vals,))
    check(helper("children", path, "ordered").split() == ["zz", "aa", "mm"], "track_order listing")
    check(helper("attr", path, "u16", "ref", "ref").strip() == "/rec", "object reference attribute")
    check(helper("attr", path, "u16", "flag", "bool").strip() == "1", "bool attribute")
    check(helper("attr", path, "u16", "vals", "f64").split() == ["1.5", "2.5"], "float attribute")
    check(helper("attr", path, "u16", "fixedstr", "string").strip() == "fixed!", "fixed string attribute")
    check(helper("attr", path, "u16", "one", "string").strip() == "only", "1-element string array attribute")


def main():
    if not os.path.exists(HELPER):
        print("helper missing:", HELPER)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        part1(tmp)
        part2(tmp)
    print("%d checks, %d failures" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
