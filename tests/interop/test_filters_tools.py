#!/usr/bin/python3
"""lstar's HDF5 filter plugins through the real tools: h5dump, h5ls, h5repack, h5diff, h5py, anndata.

1. A file written with h5py through zstd (32015) and delta (56855) + shuffle + zstd: h5dump prints
   the right values (parsed and compared), h5ls -v names both filters with their cd_values.
   Negative check: with a plugin path that lacks our plugins, h5dump prints no values and h5py
   raises — so the positive checks really go through the plugins.
2. Real h5ad files from $LSTAR_SHARED_DATA, repacked by h5repack with our filters
   (-f UD=32015,0,1,5 for everything; delta + shuffle + zstd on the sparse indices/indptr): h5ls
   shows the filters, h5diff finds no difference to the original (and fails without the plugins),
   h5dump prints the original values, h5py reads every dataset equal, anndata.read_h5ad reads an
   equal object.  anndata.write_h5ad(compression=32015) writes through the plugin and reads back
   equal (h5dump agrees).  Then h5repack converts our filtered file back to gzip and the result
   reads without any plugin (h5repack decoded through ours).

Environment: LSTAR_BUILD, LSTAR_SHARED_DATA (the real files; the h5ad part is skipped, saying so,
when they are absent).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("LSTAR_BUILD")
if not BUILD:
    sys.exit("LSTAR_BUILD is not set")
PLUGINS = os.path.join(BUILD, "filters", "plugins")
DEBIAN_PLUGINS = "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
for lib in ("liblstar_h5z_zstd.so", "liblstar_h5z_delta.so"):
    if not os.path.exists(os.path.join(PLUGINS, lib)):
        sys.exit("missing plugin %s in %s" % (lib, PLUGINS))
WITH_PLUGINS = PLUGINS + ":" + DEBIAN_PLUGINS
os.environ["HDF5_PLUGIN_PATH"] = WITH_PLUGINS

import h5py  # noqa: E402
import numpy as np  # noqa: E402

SHARED = os.environ.get("LSTAR_SHARED_DATA", "")
H5AD_FILES = [
    "scverse_anndataR/inst/extdata/example.h5ad",
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
]
ZSTD = 32015
DELTA = 56855
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(args, plugin_path=WITH_PLUGINS):
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = plugin_path
    return subprocess.run(args, capture_output=True, text=True, env=env)


def h5dump_values(path, dset, plugin_path=WITH_PLUGINS):
    """The values h5dump prints for one dataset, as a flat list of strings ([] when it printed none)."""
    r = run(["h5dump", "-w", "0", "-m", "%.17g", "-d", dset, path], plugin_path)
    m = re.search(r"^\s*DATA \{\n(.*?)^\s*\}", r.stdout, re.S | re.M)
    if not m:
        return [], r
    body = re.sub(r"\(\d+(?:,\d+)*\):", " ", m.group(1))
    return [t for t in re.split(r"[\s,]+", body) if t], r


def as_text(a):
    a = np.asarray(a).ravel()
    if a.dtype.kind == "f":
        return ["%.17g" % v for v in a]
    return [str(int(v)) for v in a]


def values_equal(printed, a):
    """h5dump's text equals the array: ints exactly, floats parsed back bit-exactly."""
    a = np.asarray(a).ravel()
    if len(printed) != a.size:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(np.array([float(t) for t in printed], dtype=a.dtype), a, equal_nan=True)
    return printed == as_text(a)


def make_dataset(f, name, a, chunks, pipeline):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    for fid, cd in pipeline:
        dcpl.set_filter(fid, h5py.h5z.FLAG_MANDATORY, tuple(cd))
    did = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(a.dtype), h5py.h5s.create_simple(a.shape),
                          dcpl=dcpl)
    ds = h5py.Dataset(did)
    ds[...] = a
    return ds


def part1(tmp):
    rng = np.random.default_rng(3)
    path = os.path.join(tmp, "ours.h5")
    data = {
        "/ints": (np.arange(-500, 1500, 7, dtype="<i4"), (50,), [(ZSTD, (5,))]),
        "/indices": (np.cumsum(rng.integers(0, 100, 3000)).astype("<i8"), (256,),
                     [(DELTA, ()), (h5py.h5z.FILTER_SHUFFLE, ()), (ZSTD, (3,))]),
        "/indptr": (np.cumsum(rng.integers(0, 5, 101)).astype("<u4"), (101,), [(DELTA, ())]),
        "/dense": ((rng.standard_normal((40, 13)) * 1e3).astype("<f8"), (16, 5), [(ZSTD, (9,))]),
        "/small": (np.array([42], dtype="<i2"), (1,), [(DELTA, ()), (ZSTD, (1,))]),
    }
    with h5py.File(path, "w") as f:
        for name, (a, chunks, pipeline) in data.items():
            make_dataset(f, name, a, chunks, pipeline)

    for name, (a, _, _) in data.items():
        printed, r = h5dump_values(path, name)
        check(values_equal(printed, a), "h5dump -d %s: printed %d values, expected %d equal ones (rc %d, %s)"
              % (name, len(printed), a.size, r.returncode, r.stderr[-300:]))
    print("h5dump prints the written values of %d datasets (zstd, delta, delta+shuffle+zstd)" % len(data))

    r = run(["h5ls", "-v", path + "/indices"])
    check(re.search(r"Filter-0:\s+delta \(lstar, numcodecs-compatible\)-56855\s+\{8, 1, 2048, 0\}", r.stdout)
          is not None, "h5ls -v /indices: no delta filter line with {8, 1, 2048, 0}:\n" + r.stdout)
    check(re.search(r"Filter-1:\s+shuffle-2\s+\{8\}", r.stdout) is not None, "h5ls -v /indices: no shuffle {8}")
    check(re.search(r"Filter-2:\s+zstd \(lstar\)-32015\s+\{3, 1280530993, 2048, 0\}", r.stdout) is not None,
          "h5ls -v /indices: no zstd filter line with {3, 1280530993, 2048, 0}:\n" + r.stdout)
    r = run(["h5ls", "-v", path + "/dense"])
    check(re.search(r"Filter-0:\s+zstd \(lstar\)-32015\s+\{9, 1280530993, 640, 0\}", r.stdout) is not None,
          "h5ls -v /dense: no zstd filter line with {9, 1280530993, 640, 0}:\n" + r.stdout)
    print("h5ls -v shows delta-56855 {8, 1, 2048, 0}, shuffle-2 {8}, zstd-32015 {level, marker, chunk bytes, 0}")

    # Negative: the same reads without our plugins print nothing / raise.
    empty = os.path.join(tmp, "no-plugins")
    os.makedirs(empty, exist_ok=True)
    for name in ("/ints", "/indptr"):
        printed, r = h5dump_values(path, name, empty)
        check(printed == [], "without plugins h5dump -d %s still printed values: %r" % (name, printed[:5]))
    code = ("import h5py, sys\n"
            "try:\n"
            "    h5py.File(%r, 'r')['/ints'][:]\n"
            "    print('READ')\n"
            "except OSError as e:\n"
            "    print('OSERROR', e)\n" % path)
    r = run([sys.executable, "-c", code], empty)
    check(r.stdout.startswith("OSERROR"), "without plugins h5py read /ints: %r %r" % (r.stdout, r.stderr[-300:]))
    print("without the plugins: h5dump prints no values, h5py raises (%s)" % r.stdout.strip()[:90])
    return path


def walk_datasets(f):
    out = []
    f.visititems(lambda n, o: out.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(out)


def filter_ids(ds):
    p = ds.id.get_create_plist()
    return [p.get_filter(i)[0] for i in range(p.get_nfilters())]


def same_dataset(x, y):
    a, b = x[()], y[()]
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    return np.array_equal(np.asarray(a), np.asarray(b)) if isinstance(a, np.ndarray) else a == b


def part2(tmp, ours):
    files = [os.path.join(SHARED, p) for p in H5AD_FILES]
    present = [p for p in files if os.path.exists(p)]
    if not present:
        print("SKIP h5ad checks: none of %s found under LSTAR_SHARED_DATA=%r" % (H5AD_FILES, SHARED))
        return
    for p in files:
        if p not in present:
            print("note: %s is absent, not checked" % p)
    for src in present:
        base = os.path.splitext(os.path.basename(src))[0]
        # (a) zstd level 5 on every dataset; (b) delta + shuffle + zstd on sparse indices/indptr.
        outs = {}
        out = os.path.join(tmp, base + "_zstd.h5ad")
        r = run(["h5repack", "-f", "UD=32015,0,1,5", src, out])
        check(r.returncode == 0 and os.path.exists(out), "h5repack UD=32015 %s: rc %d %s" % (base, r.returncode,
                                                                                            r.stderr[-300:]))
        outs["zstd"] = out
        with h5py.File(src, "r") as f:
            sparse = [n for n in walk_datasets(f) if n.split("/")[-1] in ("indices", "indptr")
                      and f[n].dtype.kind in "iu" and f[n].chunks is not None]
        if sparse:
            objs = ",".join("/" + n for n in sparse)
            out = os.path.join(tmp, base + "_delta.h5ad")
            r = run(["h5repack", "-f", objs + ":UD=56855,0,1,0", "-f", objs + ":SHUF", "-f", objs + ":UD=32015,0,1,9",
                     src, out])
            check(r.returncode == 0 and os.path.exists(out), "h5repack delta %s: rc %d %s" % (base, r.returncode,
                                                                                             r.stderr[-300:]))
            outs["delta"] = out
        for kind, out in outs.items():
            with h5py.File(src, "r") as a, h5py.File(out, "r") as b:
                names = walk_datasets(a)
                check(names == walk_datasets(b), "%s %s: the repacked file has other datasets" % (base, kind))
                filtered = []
                for n in names:
                    check(same_dataset(a[n], b[n]), "%s %s: h5py reads /%s differently" % (base, kind, n))
                    ids = filter_ids(b[n])
                    if ZSTD in ids:
                        filtered.append((n, ids))
                check(len(filtered) > 0, "%s %s: no dataset carries filter 32015" % (base, kind))
                if kind == "delta":
                    for n in sparse:
                        ids = dict(filtered).get(n)
                        check(ids == [DELTA, h5py.h5z.FILTER_SHUFFLE, ZSTD],
                              "%s: /%s pipeline %r, expected delta, shuffle, zstd" % (base, n, ids))
                # h5dump prints the original values of the largest filtered dataset
                name = max((n for n, _ in filtered), key=lambda n: a[n].size)
                printed, r = h5dump_values(out, "/" + name)
                check(values_equal(printed, a[name][()]), "%s %s: h5dump /%s printed %d values, not the originals"
                      % (base, kind, name, len(printed)))
            r = run(["h5ls", "-v", "-r", out])
            check("zstd (lstar)-32015" in r.stdout, "%s %s: h5ls -v -r shows no zstd filter" % (base, kind))
            r = run(["h5diff", src, out])
            check(r.returncode == 0, "%s %s: h5diff with plugins: rc %d\n%s" % (base, kind, r.returncode,
                                                                            (r.stdout + r.stderr)[-500:]))
            r = run(["h5diff", src, out], os.path.join(tmp, "no-plugins"))
            check(r.returncode == 2, "%s %s: h5diff without plugins should fail (rc 2), rc %d" % (base, kind,
                                                                                             r.returncode))
            # anndata 0.8 reads the repacked file as the original
            code = (
                "import anndata, numpy as np, scipy.sparse as sp, warnings\n"
                "warnings.simplefilter('ignore')\n"
                "a = anndata.read_h5ad(%r); b = anndata.read_h5ad(%r)\n"
                "def eq(x, y):\n"
                "    if sp.issparse(x): return sp.issparse(y) and x.shape == y.shape and (x != y).nnz == 0\n"
                "    return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)\n"
                "ok = a.shape == b.shape and eq(a.X, b.X) and a.obs.equals(b.obs) and a.var.equals(b.var)\n"
                "ok = ok and all(eq(a.layers[k], b.layers[k]) for k in a.layers) and set(a.layers) == set(b.layers)\n"
                "ok = ok and all(eq(a.obsm[k], b.obsm[k]) for k in a.obsm) and set(a.obsm) == set(b.obsm)\n"
                "ok = ok and all(eq(a.obsp[k], b.obsp[k]) for k in a.obsp) and set(a.obsp) == set(b.obsp)\n"
                "print('EQUAL' if ok else 'DIFFERENT', a.shape, type(a.X).__name__)\n" % (src, out))
            r = run([sys.executable, "-c", code])
            check(r.stdout.startswith("EQUAL"), "%s %s: anndata.read_h5ad: %r %r" % (base, kind, r.stdout,
                                                                                     r.stderr[-500:]))
            print("%s via h5repack (%s): h5py/h5dump/h5diff/anndata read the original values (%s)"
                  % (base, kind, r.stdout.strip()))

        # anndata itself writing through the plugin (compression=32015 goes to h5py's create_dataset)
        out = os.path.join(tmp, base + "_anndata_zstd.h5ad")
        code = (
            "import anndata, numpy as np, scipy.sparse as sp, warnings\n"
            "warnings.simplefilter('ignore')\n"
            "a = anndata.read_h5ad(%r)\n"
            "a.write_h5ad(%r, compression=32015, compression_opts=(7,))\n"
            "b = anndata.read_h5ad(%r)\n"
            "x, y = a.X, b.X\n"
            "same = ((x != y).nnz == 0) if sp.issparse(x) else np.array_equal(x, y, equal_nan=True)\n"
            "print('EQUAL' if same and a.obs.equals(b.obs) and a.var.equals(b.var) else 'DIFFERENT')\n"
            % (src, out, out))
        r = run([sys.executable, "-c", code])
        check(r.stdout.startswith("EQUAL"), "%s: anndata write_h5ad(compression=32015) then read: %r %r"
              % (base, r.stdout, r.stderr[-500:]))
        r = run(["h5ls", "-v", "-r", out])
        check(re.search(r"zstd \(lstar\)-32015 OPT \{7, 1280530993, \d+, 0\}", r.stdout) is not None,
              "%s: the anndata-written file shows no zstd level 7 filter" % base)
        with h5py.File(out, "r") as f:
            name = max((n for n in walk_datasets(f) if ZSTD in filter_ids(f[n])), key=lambda n: f[n].size)
            want = f[name][()]
        printed, r = h5dump_values(out, "/" + name)
        check(values_equal(printed, want), "%s: h5dump of anndata-written /%s" % (base, name))
        print("%s written by anndata through the zstd plugin: anndata reads it back equal, h5dump /%s agrees"
              % (base, name))

    # h5repack reads through our plugins too: back to gzip, then readable with no plugin at all.
    back = os.path.join(tmp, "ours_gzip.h5")
    r = run(["h5repack", "-f", "GZIP=6", ours, back])
    check(r.returncode == 0, "h5repack GZIP=6 of our file: rc %d %s" % (r.returncode, r.stderr[-300:]))
    empty = os.path.join(tmp, "no-plugins")
    with h5py.File(ours, "r") as f:
        for name in ("/ints", "/indices", "/indptr", "/dense", "/small"):
            printed, r = h5dump_values(back, name, empty)
            check(values_equal(printed, f[name][()]), "gzip copy %s: h5dump without plugins printed %d values"
                  % (name, len(printed)))
            r = run(["h5ls", "-v", back + name], empty)
            check("deflate" in r.stdout and "32015" not in r.stdout and "56855" not in r.stdout,
                  "gzip copy %s still lists our filters" % name)
    print("h5repack decodes our filters: the gzip copy reads with no plugin path")


def main():
    tmp = tempfile.mkdtemp(prefix="lstar_filters_tools_")
    ours = part1(tmp)
    part2(tmp, ours)
    if not FAILURES:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("files kept in", tmp)


if __name__ == "__main__":
    main()
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
