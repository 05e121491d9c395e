"""lstar convert: the report (exact text, JSON field by field), the native check (pass, fail, skip,
--strict), DST handling (exists, --overwrite, temporary names), conversion errors naming the element,
--to, format detection, the progress bar, usage errors; and `lstar inspect` on h5ad / anndata-zarr.

Run with /usr/bin/python3 (h5py, zarr-python 2.13, anndata 0.8).  Env: see clitest.py; LSTAR_BUILD
locates the checker copy (<build>/share/lstar/lstar_check.py)."""
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import BIN, EXPECTED, FIXTURES, SHARED, check, check_eq, finish, need, run  # noqa: E402

warnings.filterwarnings("ignore")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import zarr  # noqa: E402

BUILD = os.environ.get("LSTAR_BUILD", "")
CHECKER = os.path.join(BUILD, "share", "lstar", "lstar_check.py")
need(CHECKER)


def sanitized_build():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt"), encoding="utf-8") as f:
            return any(l.strip() in ("LSTAR_SANITIZE:BOOL=ON", "LSTAR_SANITIZE:BOOL=1") for l in f)
    except OSError:
        return False


SANITIZED = sanitized_build()
ARCH = os.path.join(SHARED, "scverse_anndata", "tests", "data", "archives")
V078 = need(os.path.join(ARCH, "v0.7.8", "adata.h5ad"))
ZV078 = need(os.path.join(ARCH, "v0.7.8", "adata.zarr.zip"))
SUBSET = need(os.path.join(SHARED, "scverse_scanpy", "tests", "_data", "10x-10k-subset.zarr"))
H5MU = need(os.path.join(SHARED, "scverse_mudata", "tests", "data", "archives", "v0.4.1", "mdata_axis0.h5mu"))
need(os.path.join(FIXTURES, "golden_v2.lstar.zarr"))


def run_env(args, env=None, cwd=None, stdin=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([BIN, *args], cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def run_checker(spec):
    p = subprocess.run([sys.executable, CHECKER], input=json.dumps(spec).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def listing(d):
    return sorted(os.listdir(d))


def norm_versions(text):
    """The peers' versions are the machine's, not ours: normalise them in expectations."""
    text = re.sub(r"zarr-python \S+ read", "zarr-python <version> read", text)
    return re.sub(r"anndata \S+ read", "anndata <version> read", text)


tmp = tempfile.mkdtemp()
try:
    # ---- the report, text: exact, for one small file ----------------------------------------------
    shutil.copy(V078, os.path.join(tmp, "adata.h5ad"))
    rc, out, err = run("convert", "adata.h5ad", "adata.lstar.zarr", "--report", "--report-json", "r.json", cwd=tmp)
    check_eq((rc, err), (0, ""), "convert v0.7.8 h5ad -> L★ v2 --report: exit, stderr")
    with open(os.path.join(EXPECTED, "convert_report_v078.txt"), encoding="utf-8") as f:
        want = f.read()
    check(norm_versions(out) == want, "report text == expected/convert_report_v078.txt")
    if norm_versions(out) != want:
        print(norm_versions(out))

    # ---- the report, JSON: field by field ---------------------------------------------------------------
    with open(os.path.join(tmp, "r.json"), encoding="utf-8") as f:
        rep = json.load(f)
    check_eq(list(rep), ["source", "target", "kind", "profiles", "axes", "fields", "dropped", "native_check",
                         "target_dropped", "source_container", "target_container", "native_check_spec"],
             "report keys (upstream order, then lstar's extras)")
    check_eq(rep["source"], {"path": "adata.h5ad", "format": "anndata"}, "source")
    check_eq(rep["target"], {"path": "adata.lstar.zarr", "format": "store"}, "target")
    check_eq((rep["kind"], rep["profiles"]), ("sample", ["anndata@0.1", "anndata@unknown"]), "kind, profiles")
    with h5py.File(V078, "r") as h:
        n_obs, n_var = len(h["obs"]["_index"]), len(h["var"]["_index"])
        xdata = h["X"]["data"][:]
        raw_n = len(h["raw"]["var"]["_index"])
    check_eq(rep["axes"][:3], [
        {"name": "cells", "length": n_obs, "origin": "observed", "role": "observation", "induced_by": None},
        {"name": "genes", "length": n_var, "origin": "observed", "role": "feature", "induced_by": None},
        {"name": "genes_raw", "length": raw_n, "origin": "observed", "role": "feature", "induced_by": None}],
        "axes cells, genes, genes_raw (lengths from h5py)")
    check_eq(rep["axes"][3], {"name": "obs_cat", "length": 21, "origin": "derived", "role": "factor",
                              "induced_by": "obs_cat"}, "factor axis obs_cat")
    fields = {f["name"]: f for f in rep["fields"]}
    check_eq(list(fields["X"].items()), [
        ("name", "X"), ("role", "measure"), ("state", None), ("span", ["cells", "genes"]), ("encoding", "csr"),
        ("coverage", "full"), ("nullable", False), ("provenance", {"anndata": "X"})], "field X, keys in order")
    check_eq(fields["raw"]["state"], "raw", "raw state")
    check_eq(fields["cat_ordered"], {"name": "cat_ordered", "role": "label", "state": None, "span": ["cells"],
                                     "encoding": "categorical", "coverage": "full", "nullable": False,
                                     "provenance": {"anndata": "obs/cat_ordered"}}, "field cat_ordered")
    check_eq(fields["sparse.obsp"]["span"], ["cells", "cells"], "obsp relation span")
    check(all("subtype" not in f and "index_axis" not in f for f in rep["fields"]),
          "no subtype / index_axis keys when unset")
    check_eq(rep["dropped"], ["raw/var/var_cat (raw var column)", "raw/var/cat_ordered (raw var column)",
                              "raw/var/int64 (raw var column)", "raw/var/float64 (raw var column)",
                              "raw/var/uint8 (raw var column)", "raw/varm/array (raw varm)", "raw/varm/df (raw varm)",
                              "raw/varm/sparse (raw varm)", "obsm/df (dataframe)", "varm/df (dataframe)"], "dropped")
    check_eq((rep["native_check"]["format"], rep["native_check"]["status"]), ("store", "pass"), "native_check")
    check(rep["native_check"]["detail"].endswith("read adata.lstar.zarr: 9 axes, 22 fields match, X checksum "
                                                 "matches (239 nonzero, sum 302)"), "native_check detail")
    check_eq((rep["target_dropped"], rep["source_container"], rep["target_container"]),
             ([], "h5ad", "L★ store, Zarr v2"), "extras")
    spec = rep["native_check_spec"]
    check_eq((spec["container"], spec["zarr_format"], spec["target"]), ("lstar", 2, "adata.lstar.zarr"), "spec")
    x = spec["x"]
    check_eq((x["field"], x["encoding"], x["shape"], x["values"], x["nonzero"], x["nonfinite"]),
             ("X", "csr", [n_obs, n_var], len(xdata), int(np.count_nonzero(xdata)), 0), "X checksum counts (h5py)")
    check(abs(x["sum"] - float(xdata.astype(np.float64).sum())) <= 1e-9 * x["abssum"], "X checksum sum (h5py)")
    # the written store holds the model the report describes
    rc, out, err = run("inspect", "adata.lstar.zarr", "--json", cwd=tmp)
    ins = json.loads(out)
    check_eq((ins["axes"], ins["fields"], ins["dropped"]), (rep["axes"], rep["fields"], rep["dropped"]),
             "inspect of the result: same axes, fields, dropped as the report")

    # ---- the checker, directly: pass on the result, fail once X is changed -----------------------------
    spec_abs = dict(spec, target=os.path.join(tmp, "adata.lstar.zarr"))
    check_eq(run_checker(spec_abs)["status"], "pass", "checker on the good store: pass")
    zd = zarr.open_array(os.path.join(tmp, "adata.lstar.zarr", "fields", "X", "data"), mode="r+")
    zd[0] = zd[0] + 1.0
    v = run_checker(spec_abs)
    check_eq(v, {"status": "fail", "detail": "field X: X sum of |values| 303, expected 302"},
             "checker on a store whose X changed: fail")
    spec_bad = dict(spec_abs)
    spec_bad["axes"] = [dict(a) for a in spec["axes"]]
    spec_bad["axes"][0]["names_crc32"] ^= 1
    zd[0] = zd[0] - 1.0
    check_eq(run_checker(spec_bad), {"status": "fail", "detail": "the labels of axis cells differ"},
             "checker: other cell names: fail")
    spec3 = dict(spec_abs, zarr_format=3)
    zv = ".".join(zarr.__version__.split(".")[:2])
    check_eq(run_checker(spec3), {"status": "skip", "detail": "zarr-python %s cannot read Zarr v3" % zv},
             "checker: L★ v3 skipped")

    # ---- h5ad target: pass, the checker fails when X changes --------------------------------------------
    rc, out, err = run("convert", "adata.h5ad", "back.h5ad", "--report-json", "b.json", cwd=tmp)
    check_eq((rc, err), (0, ""), "convert h5ad -> h5ad: exit, stderr")
    with open(os.path.join(tmp, "b.json"), encoding="utf-8") as f:
        rb = json.load(f)
    check_eq((rb["target"], rb["native_check"]["format"], rb["native_check"]["status"]),
             ({"path": "back.h5ad", "format": "anndata"}, "anndata", "pass"), "h5ad target: report + check pass")
    check(norm_versions(rb["native_check"]["detail"]) == "anndata <version> read back.h5ad: 30 x 20, obs/var names "
          "match, X checksum matches (239 nonzero, sum 302)", "h5ad check detail: %r" % rb["native_check"]["detail"])
    sb = dict(rb["native_check_spec"], target=os.path.join(tmp, "back.h5ad"))
    with h5py.File(sb["target"], "r+") as h:
        d = h["X"]["data"]
        d[0] = -d[0]
    v = run_checker(sb)
    check(v["status"] == "fail" and v["detail"].startswith("X sum of values "), "checker on h5ad with X changed: %r" % v)

    # ---- --strict: a result that fails the check exits 3 (checker wrapper corrupts X first) ----------------
    wrapper = os.path.join(tmp, "corrupting_checker.py")
    with open(wrapper, "w") as f:
        f.write("import json, os, subprocess, sys\n"
                "import zarr\n"
                "spec = json.loads(sys.stdin.read())\n"
                "z = zarr.open_array(os.path.join(spec['target'], 'fields', spec['x']['field'], 'data'), mode='r+')\n"
                "z[:] = z[:] * 2\n"
                "r = subprocess.run([sys.executable, os.environ['REAL_CHECKER']], input=json.dumps(spec).encode(),\n"
                "                   stdout=subprocess.PIPE)\n"
                "sys.stdout.write(r.stdout.decode())\n")
    env = {"LSTAR_CHECK_SCRIPT": wrapper, "REAL_CHECKER": CHECKER}
    rc, out, err = run_env(["convert", "adata.h5ad", "s.lstar.zarr", "--strict"], env=env, cwd=tmp)
    check_eq((rc, err), (3, "lstar: convert: s.lstar.zarr: native check failed: field X: X sum of |values| 604, "
                            "expected 302\n"), "--strict with a failing check: exit 3, one line")
    check(out.endswith("native check fail\n") and os.path.isdir(os.path.join(tmp, "s.lstar.zarr")),
          "--strict: summary says fail, DST kept")
    rc, out, err = run_env(["convert", "adata.h5ad", "s2.lstar.zarr", "--report-json", "-"], env=env, cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"]["status"]), (0, "fail"), "failing check without --strict: exit 0")
    check(err.startswith("lstar: convert: s2.lstar.zarr: native check failed: "), "... and a warning line")
    rc, out, err = run_env(["convert", "adata.h5ad", "s3.lstar.zarr", "--report-json", "-"],
                           env={"LSTAR_PYTHON": "/nonexistent/python3"}, cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"]), (0, {"format": "store", "status": "skip", "detail":
             "Python peers not installed: /nonexistent/python3 not found"}), "no Python: skip")
    rc, out, err = run("convert", "adata.h5ad", "s4.lstar.zarr", "--no-check", "--report-json", "-", cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"], json.loads(out)["native_check_spec"]),
             (0, {"format": "store", "status": "skip", "detail": "disabled (--no-check)"}, None), "--no-check")

    # ---- L★ v3 and anndata-zarr v3 targets: check skipped with the reason -------------------------------
    rc, out, err = run("convert", "adata.h5ad", "v3.lstar.zarr", "--zarr-format", "3", "--report-json", "-", cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"]), (0, {"format": "store", "status": "skip",
             "detail": "zarr-python %s cannot read Zarr v3" % zv}), "L★ v3 target: skip")
    check(os.path.isfile(os.path.join(tmp, "v3.lstar.zarr", "zarr.json")), "L★ v3 target written as Zarr v3")
    rc, out, err = run("convert", "adata.h5ad", "a3.zarr", "--zarr-format", "3", "--report-json", "-", cwd=tmp)
    nc = json.loads(out)["native_check"] if rc == 0 else {}
    check(rc == 0 and nc.get("status") == "skip" and "cannot read anndata-zarr v3" in nc.get("detail", ""),
          "anndata-zarr v3 target: skip with the reason: %r" % nc)
    rc, out, err = run("convert", "adata.h5ad", "a2.zarr", "--report-json", "-", cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"]["status"], json.loads(out)["target_container"]),
             (0, "pass", "anndata-zarr v2"), "anndata-zarr v2 target: check pass")
    rc, out, err = run("convert", "adata.h5ad", "z.h5ad", "--compression", "zstd:3", "--report-json", "-", cwd=tmp)
    zc = json.loads(out)["native_check"] if rc == 0 else {}
    if SANITIZED:  # the build's ASan-instrumented filter plugins cannot load into Python
        check(rc == 0 and zc.get("status") == "fail" and "ASan" in zc.get("detail", ""),
              "h5ad with zstd in a sanitizer build: the plugin cannot load into Python: %r" % zc)
    else:
        check_eq((rc, zc.get("status")), (0, "pass"),
                 "h5ad with zstd: anndata reads it (HDF5_PLUGIN_PATH set for the checker)")

    # ---- L★ sources without AnnData provenance: X is the matrix the writer's role -> slot contract picks ----
    rc, out, err = run("convert", os.path.join(FIXTURES, "golden_v2.lstar.zarr"), "gold.h5ad", "--report-json", "-",
                       cwd=tmp)
    gj = json.loads(out) if rc == 0 else {}
    gx = (gj.get("native_check_spec") or {}).get("x") or {}
    check_eq((rc, gj.get("native_check", {}).get("status"), gx.get("field"), gx.get("shape"), gx.get("nonzero")),
             (0, "pass", "lognorm", [12, 8], 44), "golden L★ -> h5ad: X is the lognorm measure, check pass")
    rc, out, err = run("synth", "syn.lstar.zarr", "--cells", "120", "--genes", "40", cwd=tmp)
    for dst in ("syn.h5ad", "syn.zarr"):
        rc, out, err = run("convert", "syn.lstar.zarr", dst, "--report-json", "-", cwd=tmp)
        sj = json.loads(out) if rc == 0 else {}
        check_eq((rc, sj.get("native_check", {}).get("status"), ((sj.get("native_check_spec") or {}).get("x") or {})
                  .get("field"), sj.get("target_dropped")), (0, "pass", "X", []), "synth L★ -> %s: check pass" % dst)

    # ---- DST exists ---------------------------------------------------------------------------------------
    os.makedirs(os.path.join(tmp, "taken.lstar.zarr"))
    with open(os.path.join(tmp, "taken.lstar.zarr", "keep"), "w") as f:
        f.write("mine")
    rc, out, err = run("convert", "adata.h5ad", "taken.lstar.zarr", cwd=tmp)
    check_eq((rc, out, err), (2, "", "lstar: convert: taken.lstar.zarr: already exists (use --overwrite to replace "
                                     "it)\n"), "DST exists: exit 2")
    check_eq(listing(os.path.join(tmp, "taken.lstar.zarr")), ["keep"], "DST untouched")
    with open(os.path.join(tmp, "taken.h5ad"), "w") as f:
        f.write("mine")
    rc, out, err = run("convert", "adata.h5ad", "taken.h5ad", cwd=tmp)
    check_eq((rc, open(os.path.join(tmp, "taken.h5ad")).read()), (2, "mine"), "DST file exists: exit 2, untouched")
    rc, out, err = run("convert", "adata.h5ad", "taken.lstar.zarr", "--overwrite", "--no-check", cwd=tmp)
    check(rc == 0 and os.path.isfile(os.path.join(tmp, "taken.lstar.zarr", ".zattrs")) and
          not os.path.exists(os.path.join(tmp, "taken.lstar.zarr", "keep")), "--overwrite replaces DST")
    rc, out, err = run("convert", "adata.h5ad", "adata.h5ad", "--overwrite", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: adata.h5ad: DST is SRC; the input is never modified\n"), "DST is SRC")

    # ---- truncated h5ad: exit 2 naming the element, nothing left behind ----------------------------------
    tdir = os.path.join(tmp, "trunc")
    os.makedirs(tdir)
    with open(V078, "rb") as f:
        head = f.read(20000)
    with open(os.path.join(tdir, "cut.h5ad"), "wb") as f:
        f.write(head)
    rc, out, err = run("convert", "cut.h5ad", "cut.lstar.zarr", cwd=tdir)
    check(rc == 2 and out == "" and err.startswith("lstar: convert: cut.h5ad: ") and "truncated" in err
          and err.count("\n") == 1, "truncated h5ad (superblock EOF beyond the file): exit 2: %r" % err)
    check_eq(listing(tdir), ["cut.h5ad"], "nothing left behind")
    # an h5ad whose gzip X is cut in the middle, end-of-file address patched: it opens, X fails to read
    import anndata as ad  # noqa: E402
    import pandas as pd  # noqa: E402
    p = os.path.join(tdir, "x.h5ad")
    ad.AnnData(obs=pd.DataFrame(index=["c%d" % i for i in range(200)]),
               var=pd.DataFrame(index=["g%d" % i for i in range(50)])).write_h5ad(p)
    with h5py.File(p, "a") as h:
        d = h.create_dataset("X", data=np.random.default_rng(0).random((200, 50)).astype(np.float32),
                             chunks=(20, 50), compression="gzip")
        d.attrs["encoding-type"] = "array"
        d.attrs["encoding-version"] = "0.2.0"
    with h5py.File(p, "r") as h:
        ci = h["X"].id.get_chunk_info(5)
    with open(p, "r+b") as f:
        assert f.read(9)[8] == 0, "superblock v0 expected"
        cut = ci.byte_offset + ci.size // 2
        f.truncate(cut)
        f.seek(40)
        f.write(struct.pack("<Q", cut))
    for dst in ("x.lstar.zarr", "x2.h5ad", "x3.zarr"):
        rc, out, err = run("convert", "x.h5ad", dst, cwd=tdir)
        check(rc == 2 and out == "" and err.startswith("lstar: convert: x.h5ad/X: ") and err.count("\n") == 1,
              "h5ad with X cut short -> %s: exit 2 naming x.h5ad/X: %r" % (dst, err))
        check_eq(listing(tdir), ["cut.h5ad", "x.h5ad"], "nothing left behind (%s, no temporaries)" % dst)

    # a Zarr source with a damaged chunk: the error names the array inside the store
    shutil.copytree(SUBSET, os.path.join(tdir, "sub.zarr"))
    with open(os.path.join(tdir, "sub.zarr", "X", "1.0"), "wb") as f:
        f.write(b"garbage")
    for dst in ("sub.lstar.zarr", "sub.h5ad"):
        rc, out, err = run("convert", "sub.zarr", dst, cwd=tdir)
        check(rc == 2 and err.startswith("lstar: convert: sub.zarr/X: ") and err.count("\n") == 1,
              "anndata-zarr with a damaged X chunk -> %s: exit 2 naming sub.zarr/X: %r" % (dst, err))
        check_eq(listing(tdir), ["cut.h5ad", "sub.zarr", "x.h5ad"], "nothing left behind (%s)" % dst)

    # ---- --to, detection by name and content ---------------------------------------------------------------
    rc, out, err = run("convert", "adata.h5ad", "out.data", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: out.data: cannot tell the target format from the name (expected "
                            "*.h5ad, *.lstar.zarr or *.zarr); use --to h5ad|anndata-zarr|lstar\n"), "unknown DST name")
    rc, out, err = run("convert", "adata.h5ad", "out.data", "--to", "lstar", "--no-check", cwd=tmp)
    check(rc == 0 and os.path.isfile(os.path.join(tmp, "out.data", ".zattrs")) and "L★ store" in out,
          "--to lstar with any name: %r" % out)
    rc, out, err = run("convert", "adata.h5ad", "plain.zarr", "--to", "lstar", "--no-check", cwd=tmp)
    check(rc == 0 and "(L★ store, Zarr v2)" in out, "--to lstar overrides *.zarr -> anndata-zarr")
    rc, out, err = run("convert", "adata.h5ad", "o.lstar.zarr", "--to", "h5ad", "--no-check", cwd=tmp)
    with open(os.path.join(tmp, "o.lstar.zarr"), "rb") as f:
        check(rc == 0 and f.read(8) == b"\x89HDF\r\n\x1a\n", "--to h5ad overrides *.lstar.zarr")
    rc, out, err = run("convert", "adata.h5ad", "x.h5ad", "--to", "loom", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: --to must be h5ad, anndata-zarr or lstar (got 'loom')\n"), "--to loom")
    # an L★ store named *.zarr is recognised by its attributes; L★ -> L★ v3
    shutil.copytree(os.path.join(FIXTURES, "golden_v2.lstar.zarr"), os.path.join(tmp, "golden.zarr"))
    rc, out, err = run("convert", "golden.zarr", "golden.zarr/inner.h5ad", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: golden.zarr/inner.h5ad: DST lies inside SRC; the input is never "
                            "modified\n"), "DST inside SRC refused")
    rc, out, err = run("convert", "golden.zarr", tmp, "--to", "h5ad", "--overwrite", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: %s: SRC lies inside DST; the input is never modified\n" % tmp),
             "SRC inside DST refused (--overwrite would remove it)")
    rc, out, err = run("convert", "golden.zarr", "g3.lstar.zarr", "--zarr-format", "3", "--report-json", "-", cwd=tmp)
    g = json.loads(out) if rc == 0 else {}
    check_eq((rc, g.get("source"), g.get("source_container")),
             (0, {"path": "golden.zarr", "format": "store"}, "L★ store, Zarr v2"), "L★ source named *.zarr")
    rc, out, err = run("inspect", "g3.lstar.zarr", "--json", cwd=tmp)
    check_eq([f["name"] for f in json.loads(out)["fields"]], [f["name"] for f in g.get("fields", [])],
             "L★ -> L★ v3 keeps every field")
    rc, out, err = run("convert", ZV078, "z.lstar.zarr", "--report-json", "-", cwd=tmp)
    zr = json.loads(out) if rc == 0 else {}
    check_eq((rc, zr.get("source", {}).get("format"), zr.get("source_container"), zr.get("native_check", {}).get("status")),
             (0, "anndata", "anndata-zarr v2, zip", "pass"), "anndata-zarr zip source")
    rc, out, err = run("convert", SUBSET, "sub.h5ad", "--report-json", "-", cwd=tmp)
    check_eq((rc, json.loads(out)["native_check"]["status"] if rc == 0 else None), (0, "pass"),
             "anndata-zarr directory -> h5ad")
    rc, out, err = run("convert", "adata.h5ad", "z.zip", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: z.zip: writing zipped stores is not supported; write a directory store "
                            "and zip it\n"), "zip DST refused")
    # MuData: a modality
    rc, out, err = run("convert", H5MU, "m.lstar.zarr", cwd=tmp)
    check(rc == 2 and "choose a modality (--modality; one of: mod1, mod2)" in err, "h5mu without --modality: %r" % err)
    rc, out, err = run("convert", H5MU, "m.lstar.zarr", "--modality", "mod1", "--report-json", "-", cwd=tmp)
    m = json.loads(out) if rc == 0 else {}
    check_eq((rc, m.get("source", {}).get("format"), m.get("source_container")),
             (0, "mudata", "h5mu (modality mod1)"), "h5mu --modality mod1")
    rc, out, err = run("convert", "adata.h5ad", "n.lstar.zarr", "--modality", "x", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: adata.h5ad: --modality applies to MuData sources (.h5mu, mudata-zarr) "
                            "only\n"), "--modality on an AnnData")

    # ---- usage errors ---------------------------------------------------------------------------------------
    for args, msg in ((["a.h5ad"], "expected SRC and DST (see 'lstar help convert')"),
                      (["adata.h5ad", "u.lstar.zarr", "--zarr-format", "4"], "--zarr-format must be 2 or 3"),
                      (["adata.h5ad", "u.lstar.zarr", "--shard-elems", "10"], "--shard-elems needs --zarr-format 3"),
                      (["adata.h5ad", "u.h5ad", "--zarr-format", "2"], "--zarr-format applies to Zarr targets only"),
                      (["adata.h5ad", "u.lstar.zarr", "--check", "--no-check"],
                       "--check and --no-check exclude each other"),
                      (["adata.h5ad", "u.lstar.zarr", "--compression", "nope"], None)):
        rc, out, err = run("convert", *args, cwd=tmp)
        if msg:
            check_eq((rc, out, err), (2, "", "lstar: convert: %s\n" % msg), "usage: %s" % msg)
        else:
            check(rc == 2 and err.startswith("lstar: convert: --compression nope: "), "bad --compression: %r" % err)
    check(not os.path.exists(os.path.join(tmp, "u.lstar.zarr")), "usage errors write nothing")
    rc, out, err = run("convert", "missing.h5ad", "u.lstar.zarr", cwd=tmp)
    check_eq((rc, err), (2, "lstar: convert: missing.h5ad: No such file or directory\n"), "missing SRC")
    rc, out, err = run("help", "convert")
    check(rc == 0 and out.startswith("usage: lstar convert SRC DST"), "help convert")

    # ---- progress: absent when stderr is not a TTY, a '\r' bar under a pty -------------------------------------
    rc, out, err = run("convert", "adata.h5ad", "p1.lstar.zarr", "--no-check", cwd=tmp)
    check_eq((rc, err), (0, ""), "no progress output when stderr is a pipe")
    master, slave = pty.openpty()
    proc = subprocess.Popen([BIN, "convert", "adata.h5ad", "p2.lstar.zarr", "--no-check"], cwd=tmp,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    tty = b""
    while True:
        r, _, _ = select.select([master], [], [], 60)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    proc.wait(timeout=60)
    os.close(master)
    check(proc.returncode == 0 and b"\rconverting [" in tty and b"100%" in tty,
          "progress bar drawn with '\\r' on a terminal: %r" % tty[:120])

    # ---- inspect on AnnData inputs ----------------------------------------------------------------------------
    rc, out, err = run("inspect", "adata.h5ad", cwd=tmp)
    check_eq((rc, err), (0, ""), "inspect h5ad: exit 0")
    lines = out.splitlines()
    nleaves = len(ins["passthrough"][0]["leaves"])  # what the L★ result holds
    check_eq(lines[:5], ["path         adata.h5ad",
                         "format       h5ad (AnnData, read as L★ by the anndata@0.1 profile)",
                         "kind         sample",
                         "profiles     anndata@0.1, anndata@unknown",
                         "passthrough  anndata.uns (%d leaves)" % nleaves], "inspect h5ad header")
    # the same axes / fields / dropped tables as the convert report
    body = out[out.index("\naxes ("):]
    want_body = want[want.index("\naxes ("):want.index("\ndropped by the source reader")]
    check(body.startswith(want_body), "inspect h5ad: axes and fields tables == the convert report's")
    check(body.endswith("\ndropped (10)\n  raw/var/var_cat (raw var column)\n  raw/var/cat_ordered (raw var column)\n"
                        "  raw/var/int64 (raw var column)\n  raw/var/float64 (raw var column)\n"
                        "  raw/var/uint8 (raw var column)\n  raw/varm/array (raw varm)\n  raw/varm/df (raw varm)\n"
                        "  raw/varm/sparse (raw varm)\n  obsm/df (dataframe)\n  varm/df (dataframe)\n"),
          "inspect h5ad: dropped list")
    rc, out, err = run("inspect", "adata.h5ad", "--json", cwd=tmp)
    ij = json.loads(out)
    check_eq(list(ij), ["source", "target", "kind", "profiles", "axes", "fields", "dropped", "container",
                        "passthrough"], "inspect h5ad --json keys")
    check_eq((ij["source"], ij["target"], ij["container"], ij["fields"], ij["axes"], ij["dropped"]),
             ({"path": "adata.h5ad", "format": "anndata"}, None, "h5ad", rep["fields"], rep["axes"], rep["dropped"]),
             "inspect h5ad --json == the report's model")
    check_eq(ij["passthrough"], [{"namespace": "anndata.uns", "leaves": nleaves}], "inspect h5ad --json passthrough")
    rc, out, err = run("inspect", ZV078)
    check(rc == 0 and "\nL★ view (anndata-zarr v2, read by the anndata@0.1 profile)\n" in out
          and "\n    fields (22)\n" in out, "inspect anndata-zarr: the tree, then the L★ view")
    rc, out, err = run("inspect", ZV078, "--json")
    lv = json.loads(out).get("lstar_view", {})
    check_eq(([f["name"] for f in lv.get("fields", [])], lv.get("container")),
             ([f["name"] for f in rep["fields"]], "anndata-zarr v2"), "inspect anndata-zarr --json lstar_view")
    bad = os.path.join(tdir, "cut.h5ad")
    rc, out, err = run("inspect", bad)
    check(rc == 2 and err.startswith("lstar: inspect: %s: " % bad) and "truncated" in err, "inspect truncated h5ad")
finally:
    shutil.rmtree(tmp)

finish()
