"""lstar inspect: golden L★ stores (text vs committed expected output, JSON field by
field against the stores' own metadata), anndata-zarr stores (v2 dir, v2 zips, v3
sharded zip), unsupported codecs, unreadable inputs."""
import json
import os
import shutil
import tempfile
import zipfile

from clitest import EXPECTED, FIXTURES, SHARED, check, check_eq, finish, need, run

need(os.path.join(FIXTURES, "golden_v2.lstar.zarr"))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def lstar_attrs(store, node):
    """The "lstar" attribute of a node of a v2 golden store."""
    return load(os.path.join(FIXTURES, store, node, ".zattrs"))["lstar"]


def unset(v):
    return None if v in (None, "") else v


# ---- golden_v2, text ------------------------------------------------------------------
rc, out, err = run("inspect", "golden_v2.lstar.zarr", cwd=FIXTURES)
check_eq(rc, 0, "inspect golden_v2 exit")
check_eq(err, "", "inspect golden_v2 stderr")
with open(os.path.join(EXPECTED, "inspect_golden_v2.txt"), encoding="utf-8") as f:
    want = f.read()
if not check(out == want, "inspect golden_v2 text == expected/inspect_golden_v2.txt"):
    import difflib
    print("".join(difflib.unified_diff(want.splitlines(True), out.splitlines(True), "expected", "got")))
text_v2 = out

# ---- golden_v2, JSON ----------------------------------------------------------------------
rc, out, err = run("inspect", "golden_v2.lstar.zarr", "--json", cwd=FIXTURES)
check_eq(rc, 0, "inspect --json golden_v2 exit")
check_eq(err, "", "inspect --json golden_v2 stderr")
rep = json.loads(out)
root = lstar_attrs("golden_v2.lstar.zarr", "")
check_eq(list(rep)[:7], ["source", "target", "kind", "profiles", "axes", "fields", "dropped"],
         "report keys (upstream order first)")
check_eq(list(rep)[7:], ["spec_version", "store", "zarr_format", "consolidated", "passthrough", "arrays"],
         "report extra keys")
check_eq(rep["source"], {"path": "golden_v2.lstar.zarr", "format": "store"}, "source")
check_eq(rep["target"], None, "target")
check_eq(rep["kind"], root["kind"], "kind")
check_eq(rep["profiles"], root["profiles"], "profiles")
check_eq(rep["dropped"], root["dropped"], "dropped")
check_eq(rep["spec_version"], "0.1", "spec_version")
check_eq(rep["store"], "directory", "store backend")
check_eq(rep["zarr_format"], 2, "zarr_format")
check_eq(rep["consolidated"], True, "consolidated")
check_eq([a["name"] for a in rep["axes"]], root["axes"], "axis names in store order")
for a in rep["axes"]:
    want_a = lstar_attrs("golden_v2.lstar.zarr", "axes/" + a["name"])
    offs = load(os.path.join(FIXTURES, "golden_v2.lstar.zarr", "axes", a["name"], "labels_offsets", ".zarray"))
    check_eq(list(a), ["name", "length", "origin", "role", "induced_by"], "axis %s keys" % a["name"])
    check_eq(a["length"], offs["shape"][0] - 1, "axis %s length" % a["name"])
    for k in ("origin", "role", "induced_by"):
        check_eq(a[k], unset(want_a.get(k)), "axis %s %s" % (a["name"], k))
check_eq([a["length"] for a in rep["axes"]], [12, 8, 3, 3], "axis lengths (expected.json: 12x8, pca 3, 3 celltypes)")
check_eq([f["name"] for f in rep["fields"]], root["fields"], "field names in store order")
for f in rep["fields"]:
    w = lstar_attrs("golden_v2.lstar.zarr", "fields/" + f["name"])
    keys = ["name", "role", "state", "span", "encoding", "coverage", "nullable"]
    if unset(w.get("subtype")):
        keys.append("subtype")
    if w.get("coverage") == "partial":
        keys.append("index_axis")
    if w.get("provenance"):
        keys.append("provenance")
    check_eq(list(f), keys, "field %s keys" % f["name"])
    check_eq(f["role"], unset(w.get("role")), "field %s role" % f["name"])
    check_eq(f["state"], unset(w.get("state")), "field %s state" % f["name"])
    check_eq(f["span"], w["span"], "field %s span" % f["name"])
    check_eq(f["encoding"], w["encoding"], "field %s encoding" % f["name"])
    check_eq(f["coverage"], w.get("coverage") or "full", "field %s coverage" % f["name"])
    check_eq(f["nullable"], bool(w.get("nullable")), "field %s nullable" % f["name"])
    if "index_axis" in keys:
        check_eq(f["index_axis"], w["index_axis"], "field %s index_axis" % f["name"])
byname = {f["name"]: f for f in rep["fields"]}
check_eq(byname["qc"]["nullable"], True, "qc nullable (expected.json: missing positions)")
check_eq(byname["adt"]["coverage"], "partial", "adt partial")
check_eq(byname["adt"]["index_axis"], "cells", "adt index_axis")
check_eq(byname["knn"]["role"], "graph", "knn role (non-core, kept)")
check_eq(rep["passthrough"], [{"namespace": "anndata.uns", "leaves": [{"id": "a0", "kind": "dense"}]}],
         "passthrough")

# arrays: every array of every axis/field/passthrough group, against .zarray and the chunk files
want_paths = []
for kind, names in (("axes", root["axes"]), ("fields", root["fields"]), ("passthrough", root["passthrough"])):
    for n in names:
        g = os.path.join(FIXTURES, "golden_v2.lstar.zarr", kind, n)
        for child in sorted(os.listdir(g)):
            if os.path.exists(os.path.join(g, child, ".zarray")):
                want_paths.append("%s/%s/%s" % (kind, n, child))
check_eq([a["path"] for a in rep["arrays"]], want_paths, "arrays listed (store order, sorted within a group)")
dtypes = {"<f4": "float32", "<f8": "float64", "<i4": "int32", "<i8": "int64", "|u1": "uint8"}
for a in rep["arrays"]:
    d = os.path.join(FIXTURES, "golden_v2.lstar.zarr", a["path"])
    za = load(os.path.join(d, ".zarray"))
    stored = sum(os.path.getsize(os.path.join(d, c)) for c in os.listdir(d) if not c.startswith("."))
    check(a["shape"] == za["shape"] and a["chunks"] == za["chunks"] and a["dtype"] == dtypes[za["dtype"]]
          and a["shards"] is None and a["stored_bytes"] == stored and isinstance(a["codecs"], str),
          "array %s: shape %s chunks %s dtype %s stored %s" % (a["path"], a["shape"], a["chunks"], a["dtype"],
                                                               a["stored_bytes"]))
arr = {a["path"]: a for a in rep["arrays"]}
check_eq(arr["fields/counts/data"]["shape"], [44], "counts nnz 44 (expected.json)")
check_eq(arr["fields/knn/data"]["shape"], [43], "knn nnz 43 (expected.json)")
check_eq(arr["fields/adt/index"]["shape"], [6], "adt index length 6 (expected.json)")
check_eq(arr["fields/pca/values"]["shape"], [12, 3], "pca shape (expected.json)")

# ---- golden_v3: same model, Zarr v3 ---------------------------------------------------------
need(os.path.join(FIXTURES, "golden_v3.lstar.zarr"))
rc, out, err = run("inspect", "golden_v3.lstar.zarr", "--json", cwd=FIXTURES)
check_eq(rc, 0, "inspect --json golden_v3 exit")
rep3 = json.loads(out)
check_eq(rep3["zarr_format"], 3, "golden_v3 zarr_format")
check_eq(rep3["axes"], rep["axes"], "golden_v3 axes == golden_v2 axes")
check_eq(rep3["fields"], rep["fields"], "golden_v3 fields == golden_v2 fields")
check_eq([a["path"] for a in rep3["arrays"]], [a["path"] for a in rep["arrays"]], "golden_v3 array paths")
check_eq([(a["shape"], a["dtype"]) for a in rep3["arrays"]], [(a["shape"], a["dtype"]) for a in rep["arrays"]],
         "golden_v3 array shapes and dtypes")
rc, out, err = run("inspect", "golden_v3.lstar.zarr", cwd=FIXTURES)
check_eq(rc, 0, "inspect golden_v3 exit")
check("format        L★ store (Zarr v3, consolidated)\n" in out, "golden_v3 format line")


def section(text, start, end):
    return text[text.index(start):text.index(end)]


check_eq(section(out, "\naxes (", "\narrays ("), section(text_v2, "\naxes (", "\narrays ("),
         "golden_v3 text axes/fields/passthrough sections == golden_v2's")

# ---- golden_v2 zipped (STORED entries, as upstream .lstar.zarr.zip) ---------------------------
tmpz = tempfile.mkdtemp()
try:
    zpath = os.path.join(tmpz, "golden_v2.lstar.zarr.zip")
    src = os.path.join(FIXTURES, "golden_v2.lstar.zarr")
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
        for d, dirs, files in sorted(os.walk(src)):
            for fn in sorted(files):
                zf.write(os.path.join(d, fn), os.path.relpath(os.path.join(d, fn), src))
    rc, out, err = run("inspect", "golden_v2.lstar.zarr.zip", "--json", cwd=tmpz)
    check_eq((rc, err), (0, ""), "inspect --json zipped golden_v2")
    repz = json.loads(out)
    check_eq((repz["store"], repz["source"]), ("zip", {"path": "golden_v2.lstar.zarr.zip", "format": "store"}),
             "zipped golden_v2 store/source")
    check(repz["axes"] == rep["axes"] and repz["fields"] == rep["fields"] and repz["arrays"] == rep["arrays"],
          "zipped golden_v2: same axes, fields and arrays as the directory")
    rc, out, err = run("inspect", "golden_v2.lstar.zarr.zip", cwd=tmpz)
    check_eq(out.replace("golden_v2.lstar.zarr.zip", "golden_v2.lstar.zarr").replace(
        "store         zip", "store         directory"), text_v2, "zipped golden_v2 text == directory text")
finally:
    shutil.rmtree(tmpz)

# ---- anndata-zarr stores ---------------------------------------------------------------------


def walk(node):
    yield node
    for c in node.get("children", []):
        yield from walk(c)


sub = need(os.path.join(SHARED, "scverse_scanpy", "tests", "_data", "10x-10k-subset.zarr"))
rc, out, err = run("inspect", sub)
check_eq(rc, 0, "inspect 10x-10k-subset.zarr exit")
xrow = [l for l in out.splitlines() if l.startswith("    X ") or l.startswith("  X ")]
check(len(xrow) == 1 and "[10000, 1000]" in xrow[0] and "float32" in xrow[0] and "blosc" in xrow[0]
      and "[2000, 1000]" in xrow[0], "10x-10k-subset X row: %r" % xrow)
check(out.startswith("path    %s\nstore   directory\nformat  Zarr v2" % sub), "10x-10k-subset header")
rc, out, err = run("inspect", sub, "--json")
check_eq(rc, 0, "inspect --json 10x-10k-subset.zarr exit")
t = json.loads(out)
nodes = {n["path"]: n for n in walk(t["tree"])}
x = nodes.get("X", {})
check_eq((x.get("node_type"), x.get("shape"), x.get("dtype"), x.get("chunks"), x.get("shards")),
         ("array", [10000, 1000], "float32", [2000, 1000], None), "10x-10k-subset X array")
check("blosc" in (x.get("codecs") or ""), "10x-10k-subset X codecs contain blosc: %r" % x.get("codecs"))
xdir = os.path.join(sub, "X")
check_eq(x.get("stored_bytes"), sum(os.path.getsize(os.path.join(xdir, c)) for c in os.listdir(xdir)
                                    if not c.startswith(".")), "10x-10k-subset X stored bytes")

pbmc = need(os.path.join(SHARED, "scverse_scanpy", "src", "scanpy", "datasets", "10x_pbmc68k_reduced.zarr.zip"))
rc, out, err = run("inspect", pbmc, "--json")
check_eq(rc, 0, "inspect --json 10x_pbmc68k_reduced.zarr.zip exit")
t = json.loads(out)
check_eq((t["zarr_format"], t["store"], t["consolidated"]), (3, "zip", True), "pbmc68k format")
nodes = {n["path"]: n for n in walk(t["tree"])}
x = nodes.get("X", {})
check(x.get("node_type") == "array" and x.get("shards") is not None and x.get("dtype") == "float32"
      and x.get("shape") == [700, 765], "pbmc68k X sharded float32 [700, 765]: %r" % {k: x.get(k) for k in (
          "shape", "dtype", "chunks", "shards", "codecs")})
recs = [p for p, n in nodes.items() if n.get("encoding_type") == "rec-array"]
check_eq(sorted(recs), ["uns/rank_genes_groups/names", "uns/rank_genes_groups/scores"], "pbmc68k rec-arrays")
check(all("error" not in n for p, n in nodes.items() if p not in recs), "pbmc68k: every non-record array opened")
check(all(nodes[p].get("shape") == [100] and ("error" in nodes[p] or nodes[p].get("codecs")) for p in recs),
      "pbmc68k: rec-arrays listed (shape [100]; opened or with the error noted)")
check_eq(nodes.get("obs", {}).get("encoding_type"), "dataframe", "pbmc68k obs encoding-type")
check_eq(nodes.get("obs/louvain", {}).get("encoding_type"), "categorical", "pbmc68k obs/louvain encoding-type")
rc, out, err = run("inspect", pbmc)
check_eq(rc, 0, "inspect 10x_pbmc68k_reduced.zarr.zip (text) exit")
xrow = [l for l in out.splitlines() if l.startswith("    X ")]
check(len(xrow) == 1 and "in shards" in xrow[0] and "[700, 765]" in xrow[0], "pbmc68k X text row: %r" % xrow)

for v in ("v0.7.0", "v0.7.8", "v0.11.4"):
    z = need(os.path.join(SHARED, "scverse_anndata", "tests", "data", "archives", v, "adata.zarr.zip"))
    rc, out, err = run("inspect", z, "--json")
    check_eq(rc, 0, "inspect anndata %s zip exit" % v)
    t = json.loads(out)
    nodes = {n["path"]: n for n in walk(t["tree"])}
    check_eq((nodes.get("obs/_index", {}).get("dtype"), nodes.get("obs/_index", {}).get("encoding_type")),
             ("string", "string-array" if v == "v0.11.4" else None), "anndata %s obs/_index" % v)
    if v == "v0.11.4":  # AnnData(shape=(10, 20)): no X
        check_eq((nodes["obs/_index"]["shape"], nodes["var/_index"]["shape"]), ([10], [20]), "anndata v0.11.4 index shapes")
        check_eq(nodes[""].get("encoding_type"), "anndata", "anndata v0.11.4 root encoding-type")
    else:
        with zipfile.ZipFile(z) as zf:  # the last entry of a name wins, as in our zip store
            meta = {n: json.loads(zf.read(i)) for i in zf.infolist() for n in [i.filename]
                    if n in ("X/data/.zarray", "X/indptr/.zarray")}
        check_eq((nodes.get("X", {}).get("encoding_type"), nodes.get("X/data", {}).get("shape"),
                  nodes.get("X/indptr", {}).get("shape")),
                 ("csr_matrix", meta["X/data/.zarray"]["shape"], [31]), "anndata %s X csr" % v)
    check(all("error" not in n for n in nodes.values()), "anndata %s: every array opened" % v)
    check_eq((t["zarr_format"], t["store"]), (2, "zip"), "anndata %s format" % v)

# ---- an array with an unsupported codec is listed, not fatal -------------------------------------
tmp = tempfile.mkdtemp()
try:
    s = os.path.join(tmp, "odd.zarr")
    os.makedirs(os.path.join(s, "good"))
    os.makedirs(os.path.join(s, "weird"))
    with open(os.path.join(s, ".zgroup"), "w") as f:
        f.write('{"zarr_format": 2}')
    meta = {"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "<i4", "fill_value": 0, "order": "C",
            "filters": None, "compressor": None}
    with open(os.path.join(s, "good", ".zarray"), "w") as f:
        json.dump(meta, f)
    with open(os.path.join(s, "good", "0"), "wb") as f:
        f.write(b"\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00")
    meta["compressor"] = {"id": "nosuchcodec", "level": 1}
    with open(os.path.join(s, "weird", ".zarray"), "w") as f:
        json.dump(meta, f)
    rc, out, err = run("inspect", "odd.zarr", cwd=tmp)
    check_eq(rc, 0, "inspect store with an unsupported codec: exit 0")
    lines = out.splitlines()
    good = [l for l in lines if l.startswith("    good ")]
    weird = [l for l in lines if l.startswith("    weird ")]
    check(len(good) == 1 and "[3]" in good[0] and "int32" in good[0] and "12 B" in good[0], "good array row %r" % good)
    check(len(weird) == 1 and "error:" in weird[0] and "nosuchcodec" in weird[0] and "[3]" in weird[0],
          "unsupported-codec array listed with its error: %r" % weird)
    rc, out, err = run("inspect", "odd.zarr", "--json", cwd=tmp)
    t = json.loads(out)
    nodes = {n["path"]: n for n in walk(t["tree"])}
    check("nosuchcodec" in nodes.get("weird", {}).get("error", "") and nodes["weird"].get("shape") == [3],
          "JSON: weird array has error + shape %r" % nodes.get("weird"))
    check_eq(nodes.get("good", {}).get("stored_bytes"), 12, "JSON: good array stored bytes")

    # ---- unreadable inputs: exit 2 with one precise line ---------------------------------------
    rc, out, err = run("inspect", os.path.join(tmp, "missing.zarr"))
    check_eq((rc, out, err), (2, "", "lstar: inspect: %s: No such file or directory\n" % os.path.join(tmp, "missing.zarr")),
             "inspect missing path")
    txt = os.path.join(tmp, "notes.txt")
    with open(txt, "w") as f:
        f.write("hello\n")
    rc, out, err = run("inspect", txt)
    check_eq((rc, out, err), (2, "", "lstar: inspect: %s: not a Zarr store (neither a directory nor a zip file) "
                              "nor an HDF5 file\n" % txt), "inspect a text file")
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    rc, out, err = run("inspect", empty)
    check(rc == 2 and out == "" and err.startswith("lstar: inspect: %s: " % empty) and err.count("\n") == 1,
          "inspect an empty directory: exit 2, one line: %r" % err)
finally:
    shutil.rmtree(tmp)

finish()
