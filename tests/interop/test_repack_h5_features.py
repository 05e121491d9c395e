#!/usr/bin/python3
"""`lstar repack` on an HDF5 file that h5py writes with the features h5ad files do not all use:
big-endian and float16 data, bool and other enums, complex and compound datasets, chunked and
contiguous layouts with every Debian filter (gzip, lzf, shuffle, fletcher32, scaleoffset), fill
values with unallocated chunks, resizable datasets, empty and null-dataspace datasets, groups that
track creation order, soft/external/hard links, object references in attributes and in datasets,
committed datatypes, attributes of many types (incl. h5py.Empty and UTF-8 names).

Each pipeline's output is compared with the source in h5py (objects, link kinds and targets, order,
attributes, values, dtypes, shapes, maxshape, fill values), h5diff must agree, and a file with a
region reference must be refused with exit 2 and leave nothing behind.

Environment: LSTAR_BIN.
"""
import os
import subprocess
import sys
import tempfile

BIN = os.environ.get("LSTAR_BIN")
if not BIN:
    sys.exit("LSTAR_BIN must be set")
PLUGIN_PATH = subprocess.run([BIN, "plugin-path"], stdout=subprocess.PIPE, check=True).stdout.decode().strip()
os.environ["HDF5_PLUGIN_PATH"] = PLUGIN_PATH

import h5py  # noqa: E402
import numpy as np  # noqa: E402

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)
    return cond


def make(path):
    rng = np.random.default_rng(7)
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["name"] = "features"
        f.attrs["ünïcode"] = "välue"
        f.attrs["empty"] = h5py.Empty("f8")
        f.attrs["ints"] = np.arange(5, dtype="<i2")
        f.attrs["be"] = np.arange(3, dtype=">f8")
        f.attrs["flag"] = np.bool_(True)
        f.attrs["strs"] = np.array(["a", "bb", "ccc"], dtype=h5py.string_dtype())
        f.attrs["fixed"] = np.bytes_("fixed")
        g = f.create_group("data")
        g.create_dataset("be_f8", data=rng.normal(size=(300, 7)).astype(">f8"), chunks=(64, 7), compression="gzip")
        g.create_dataset("be_i4", data=np.arange(70000, dtype=">i4"), chunks=(10000,), shuffle=True,
                         compression="gzip")
        g.create_dataset("f2", data=rng.normal(size=5000).astype("f2"), chunks=(1000,), compression="lzf")
        g.create_dataset("bools", data=rng.random(20000) > 0.5, chunks=(4096,), compression="gzip")
        g.create_dataset("enum", data=np.arange(9000, dtype="u1") % 3,
                         dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2}, basetype="u1"), chunks=(1000,))
        g.create_dataset("cplx", data=(rng.normal(size=100) + 1j).astype("c16"), chunks=(50,))
        g.create_dataset("fletcher", data=np.arange(30000, dtype="<u8"), chunks=(4096,), fletcher32=True)
        g.create_dataset("scaleoffset", data=np.arange(30000, dtype="<i4") % 1000, chunks=(4096,), scaleoffset=0)
        g.create_dataset("contig_big", data=rng.normal(size=(200, 50)).astype("<f4"))
        g.create_dataset("contig_small", data=np.arange(10, dtype="<i8"))
        g.create_dataset("scalar", data=3.5)
        g.create_dataset("nullspace", data=h5py.Empty("f4"))
        fill = g.create_dataset("fill", shape=(1000,), dtype="<i4", chunks=(100,), fillvalue=-7, compression="gzip")
        fill[:100] = np.arange(100)
        fill[500:600] = 5
        g.create_dataset("resizable", data=np.arange(1000, dtype="<f4"), maxshape=(None,), chunks=(128,))
        g.create_dataset("empty_resizable", shape=(0,), maxshape=(None,), dtype="<i4", chunks=(16,))
        g.create_dataset("strings", data=np.array(["x%d" % i for i in range(100)], dtype=h5py.string_dtype()),
                         chunks=(50,), compression="gzip")
        rec = np.zeros(10, dtype=[("a", "<i4"), ("b", "<f8"), ("s", "S5")])
        rec["a"] = np.arange(10)
        g.create_dataset("compound", data=rec)
        sp = f.create_group("sparse")
        sp.attrs["encoding-type"] = "csr_matrix"
        sp.create_dataset("indptr", data=np.arange(0, 5001, 5, dtype="<i8"), maxshape=(None,), chunks=(256,))
        sp.create_dataset("indices", data=np.tile(np.arange(5, dtype="<i4"), 1000) * 7, maxshape=(None,),
                          chunks=(512,), compression="gzip")
        sp.create_dataset("data", data=rng.poisson(2, 5000).astype("<f4") + 1, maxshape=(None,), chunks=(512,))
        # links and references
        f["soft"] = h5py.SoftLink("/data/be_f8")
        f["ext"] = h5py.ExternalLink("other.h5", "/x")
        f["hard"] = f["data/resizable"]
        cats = f.create_group("cats")
        cats.create_dataset("c1", data=np.array(["u", "v"], dtype=h5py.string_dtype()))
        codes = f.create_dataset("codes", data=np.array([0, 1, 1, 0], dtype="i1"))
        codes.attrs["categories"] = cats["c1"].ref
        f["data/be_f8"].attrs["partner"] = f["data/cplx"].ref
        refs = f.create_dataset("refs", (3,), dtype=h5py.ref_dtype)
        refs[0] = f["data/fill"].ref
        refs[1] = f["cats"].ref
        f["named_type"] = np.dtype("<i2")
        f.create_dataset("typed", data=np.arange(20000, dtype="<i2"), dtype=f["named_type"], chunks=(5000,))
        tr = f.create_group("tracked", track_order=True)
        for name in ("z", "a", "m"):
            tr.create_dataset(name, data=np.arange(3))
        for name in ("zz", "aa"):
            tr.attrs[name] = name


def describe(f):
    """Everything we compare, as plain Python data."""
    out = {}

    def link_kind(parent, name):
        lk = parent.get(name, getlink=True)
        if isinstance(lk, h5py.SoftLink):
            return ("soft", lk.path)
        if isinstance(lk, h5py.ExternalLink):
            return ("external", lk.filename, lk.path)
        return ("hard",)

    def attrs(o):
        res = []
        for k in o.attrs.keys():
            v = o.attrs.get(k)
            if isinstance(v, h5py.Reference):
                v = ("ref", f[v].name if v else None)
            elif isinstance(v, h5py.Empty):
                v = ("empty", str(v.dtype))
            elif isinstance(v, np.ndarray):
                v = ("array", str(v.dtype), v.shape, v.tolist())
            else:
                v = (type(v).__name__, v)
            res.append((k, v))
        return res

    def walk(g, prefix):
        for name in g.keys():
            path = prefix + name
            kind = link_kind(g, name)
            if kind[0] != "hard":
                out[path] = kind
                continue
            o = g[name]
            if isinstance(o, h5py.Group):
                out[path] = ("group", attrs(o), list(o.keys()))
                walk(o, path + "/")
            elif isinstance(o, h5py.Dataset):
                if o.shape is None:
                    out[path] = ("dataset-empty", str(o.dtype), attrs(o))
                    continue
                if o.dtype.metadata and o.dtype.metadata.get("ref"):
                    vals = [f[r].name if r else None for r in o[()]]
                else:
                    vals = o[()]
                    vals = vals.tolist() if isinstance(vals, np.ndarray) else vals
                fv = o.fillvalue if o.dtype.kind in "iufbc" else None  # h5py 3.7 crashes on vlen/ref fills
                out[path] = ("dataset", str(o.dtype), o.dtype.str, o.shape, o.maxshape,
                             fv.tolist() if isinstance(fv, np.ndarray) else fv, attrs(o), vals,
                             h5py.check_enum_dtype(o.dtype))
            else:
                out[path] = ("datatype", str(o.dtype))

    walk(f, "/")
    return out


def main():
    with tempfile.TemporaryDirectory(prefix="lstar-repack-feat-") as tmp:
        src = os.path.join(tmp, "src.h5")
        make(src)
        with h5py.File(src, "r") as f:
            want = describe(f)
        pipelines = [("zstd-shuffle-delta", ["--filter", "zstd:3", "--shuffle", "--delta-indices"]),
                     ("gzip", ["--gzip"]), ("none", ["--none"]), ("best", ["--best"]),
                     ("rechunk", ["--filter", "zstd:1", "--chunk-elems", "777", "--threads", "2"])]
        for name, opts in pipelines:
            dst = os.path.join(tmp, name + ".h5")
            p = subprocess.run([BIN, "repack", src, dst, *opts], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if not check(p.returncode == 0, "%s: exit %d (%s)" % (name, p.returncode, p.stderr.decode())):
                continue
            with h5py.File(dst, "r") as f:
                got = describe(f)
                check(list(got.keys()) == list(want.keys()), "%s: same links in the same order" % name)
                for k in want:
                    check(got.get(k) == want[k], "%s: %s equal\n  got  %r\n  want %r" % (
                        name, k, str(got.get(k))[:300], str(want[k])[:300]))
                check(f["hard"].id == f["data/resizable"].id, "%s: hard link shares the object" % name)
                dcpl = f["sparse/indices"].id.get_create_plist()
                ids = [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]
                if name == "zstd-shuffle-delta":
                    check(ids == [56855, 2, 32015], "%s: indices pipeline %s" % (name, ids))
                    be = f["data/be_i4"].id.get_create_plist()
                    check([be.get_filter(i)[0] for i in range(be.get_nfilters())] == [2, 32015],
                          "%s: big-endian ints get no delta" % name)
                    check(f["data/fill"].id.get_num_chunks() == 2, "%s: unallocated chunks stay unallocated" % name)
                if name == "rechunk":
                    check(f["data/be_f8"].chunks == (111, 7) and f["sparse/indices"].chunks == (777,),
                          "%s: chunks %s %s" % (name, f["data/be_f8"].chunks, f["sparse/indices"].chunks))
            env = dict(os.environ, LD_PRELOAD="liblzf.so.1")
            d = subprocess.run(["h5diff", src, dst], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            text = (d.stdout + d.stderr).decode()
            check(d.returncode == 0 and "not available" not in text, "%s: h5diff exit %d %s" % (
                name, d.returncode, text[-300:]))
        # region references are refused, nothing left behind
        bad = os.path.join(tmp, "region.h5")
        with h5py.File(bad, "w") as f:
            ds = f.create_dataset("x", data=np.arange(10))
            ds.attrs["r"] = ds.regionref[2:5]
        out = os.path.join(tmp, "region.out.h5")
        p = subprocess.run([BIN, "repack", bad, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode()
        check(p.returncode == 2 and "region references" in err and err.startswith("lstar: repack: %s/x:" % bad),
              "region reference refused (%d %r)" % (p.returncode, err))
        check(not os.path.exists(out) and not [n for n in os.listdir(tmp) if ".tmp-" in n], "nothing left behind")
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
