#!/usr/bin/python3
"""Interop: L* stores written by lstar, read by zarr-python 2.13.

The upstream golden v2 store (as a directory and zipped) is copied with our writer (lstar_test_lstarfmt copy)
in several variants (no compression / gzip, single chunk / multi-chunk), then
both OUR store and the UPSTREAM store are opened with zarr-python
(zarr.open_consolidated and zarr.open) and compared: root attributes, every
axis/field/passthrough group's attributes (values and key order), every array's
dtype, shape and values, strings decoded from bytes + offsets, the chunking and
compressor we promised, and the consolidated metadata listing every node.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import zarr

HELPERS = os.environ.get("LSTAR_HELPERS", "")
SHARED = os.environ.get("LSTAR_SHARED_DATA", "")
GOLDEN = os.path.join(SHARED, "kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr")
TOOL = os.path.join(HELPERS, "lstar_test_lstarfmt")

checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def decode_strings(group, name):
    b = bytes(np.asarray(group[name][:], dtype=np.uint8))
    o = np.asarray(group[name + "_offsets"][:])
    check(o.dtype == np.int64, f"{group.path}/{name}_offsets is int64")
    return [b[o[i]:o[i + 1]].decode("utf-8") for i in range(len(o) - 1)]


def raw_attrs(root, rel):
    with open(os.path.join(root, rel, ".zattrs"), "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def order_ok(keys, ref_keys):
    """Upstream writer order (zarr-python 3, the golden store) or sorted keys
    (zarr-python 2 serialises attributes with sort_keys, as upstream 0.1.0-0.1.6 did)."""
    return list(keys) == list(ref_keys) or list(keys) == sorted(keys)


def compare(ours_path, variant, chunk_elems, compressor_id):
    gold = zarr.open_consolidated(GOLDEN, mode="r")
    for opener in ("open_consolidated", "open"):
        ours = getattr(zarr, opener)(ours_path, mode="r")
        tag = f"[{variant}/{opener}]"
        check(ours.attrs["lstar"] == gold.attrs["lstar"], f"{tag} root attrs")
        check(order_ok(raw_attrs(ours_path, "")["lstar"],
                       ["spec_version", "kind", "profiles", "dropped", "axes", "fields", "passthrough"]),
              f"{tag} root key order")
        check(sorted(ours.group_keys()) == ["axes", "fields", "models", "passthrough"], f"{tag} top-level groups")
        check(len(list(ours["models"].keys())) == 0, f"{tag} models/ is empty")
        for g in ("axes", "fields", "models", "passthrough"):
            check(dict(ours[g].attrs) == {}, f"{tag} {g}/ attrs are {{}}")
        lst = gold.attrs["lstar"]
        for ax in lst["axes"]:
            rel = f"axes/{ax}"
            check(dict(ours[rel].attrs) == dict(gold[rel].attrs), f"{tag} {rel} attrs")
            check(order_ok(raw_attrs(ours_path, rel)["lstar"], raw_attrs(GOLDEN, rel)["lstar"]),
                  f"{tag} {rel} key order")
            check(decode_strings(ours[rel], "labels") == decode_strings(gold[rel], "labels"), f"{tag} {rel} labels")
            check(ours[rel]["labels"].dtype == np.uint8, f"{tag} {rel}/labels is uint8")
        for fname in lst["fields"]:
            rel = f"fields/{fname}"
            check(dict(ours[rel].attrs) == dict(gold[rel].attrs), f"{tag} {rel} attrs")
            check(order_ok(raw_attrs(ours_path, rel)["lstar"], raw_attrs(GOLDEN, rel)["lstar"]),
                  f"{tag} {rel} key order")
            check(sorted(ours[rel].array_keys()) == sorted(gold[rel].array_keys()), f"{tag} {rel} arrays")
            for an in gold[rel].array_keys():
                a, b = ours[rel][an], gold[rel][an]
                check(a.dtype == b.dtype, f"{tag} {rel}/{an} dtype {a.dtype} == {b.dtype}")
                check(a.shape == b.shape, f"{tag} {rel}/{an} shape")
                check(np.array_equal(a[...], b[...]), f"{tag} {rel}/{an} values")
                if compressor_id is None:
                    check(a.compressor is None, f"{tag} {rel}/{an} uncompressed")
                else:
                    check(a.compressor is not None and a.compressor.codec_id == compressor_id,
                          f"{tag} {rel}/{an} compressor {compressor_id}")
                rows = a.shape[0] if a.ndim else 1
                inner = int(np.prod(a.shape[1:])) if a.ndim > 1 else 1
                want = rows if not chunk_elems else min(rows, max(1, chunk_elems // max(inner, 1)))
                if a.ndim:
                    check(a.chunks[0] == max(want, 1), f"{tag} {rel}/{an} chunks {a.chunks} (want {want} rows)")
                    check(tuple(a.chunks[1:]) == tuple(a.shape[1:]), f"{tag} {rel}/{an} whole trailing dims")
            enc = gold[rel].attrs["lstar"]["encoding"]
            if enc == "utf8":
                check(decode_strings(ours[rel], "values") == decode_strings(gold[rel], "values"), f"{tag} {rel} strings")
            if enc == "categorical":
                check(decode_strings(ours[rel], "categories") == ["T", "B", "NK"], f"{tag} {rel} categories")
                check(ours[rel]["codes"].dtype == np.int32, f"{tag} {rel} codes int32")
        for ns in lst["passthrough"]:
            rel = f"passthrough/{ns}"
            check(dict(ours[rel].attrs) == dict(gold[rel].attrs), f"{tag} {rel} attrs")
            tree = json.loads(ours[rel].attrs["lstar"]["tree"])
            check(tree["$obj"]["params"]["$obj"]["n_pca"] == 3, f"{tag} {rel} tree")
            for leaf in ours[rel].attrs["lstar"]["arrays"]:
                check(np.array_equal(ours[rel][leaf["id"]][...], gold[rel][leaf["id"]][...]),
                      f"{tag} {rel}/{leaf['id']} values")
        # sparse matrices rebuild identically (csc counts: indptr over genes)
        c = ours["fields/counts"]
        check(len(c["indptr"]) == 9 and int(c["indptr"][-1]) == len(c["data"]) == 44, f"{tag} counts csc layout")
        check(abs(float(np.sum(c["data"][:], dtype=np.float64)) - 112.0) < 1e-9, f"{tag} counts sum")

    # consolidated metadata lists every node's metadata documents
    with open(os.path.join(ours_path, ".zmetadata")) as f:
        zm = json.load(f)
    check(zm.get("zarr_consolidated_format") == 1, f"[{variant}] .zmetadata format")
    on_disk = set()
    for dirpath, _, files in os.walk(ours_path):
        for fn in files:
            if fn in (".zarray", ".zattrs", ".zgroup"):
                rel = os.path.relpath(os.path.join(dirpath, fn), ours_path)
                on_disk.add(rel.replace(os.sep, "/"))
    check(on_disk <= set(zm["metadata"]), f"[{variant}] .zmetadata covers {len(on_disk)} documents")


def main():
    if not os.path.isdir(GOLDEN):
        print(f"SKIP-FAIL: upstream golden store not found at {GOLDEN}")
        return 1
    if not os.access(TOOL, os.X_OK):
        print(f"FAIL: helper {TOOL} not built")
        return 1
    tmp = tempfile.mkdtemp(prefix="lstar-zarr-python-")
    try:
        variants = [
            ("v2-none-single", [], 0, None),
            ("v2-gzip-multi", ["--compression", "gzip:5", "--chunk-elems", "5"], 5, "gzip"),
            ("v2-none-multi", ["--chunk-elems", "7", "--threads", "2"], 7, None),
            ("v2-zlib-multi", ["--compression", "zlib:3", "--chunk-elems", "10"], 10, "zlib"),
        ]
        for name, args, ce, comp in variants:
            dst = os.path.join(tmp, name + ".lstar.zarr")
            r = subprocess.run([TOOL, "copy", GOLDEN, dst, "--zarr-format", "2"] + args,
                               capture_output=True, text=True)
            check(r.returncode == 0, f"[{name}] copy: {r.stderr.strip()}")
            compare(dst, name, ce, comp)
            print(f"ok {name}")
        # a copy of our own copy (lstar reads what lstar wrote) is still identical to upstream
        src = os.path.join(tmp, "v2-gzip-multi.lstar.zarr")
        again = os.path.join(tmp, "again.lstar.zarr")
        r = subprocess.run([TOOL, "copy", src, again], capture_output=True, text=True)
        check(r.returncode == 0, f"copy of our copy: {r.stderr.strip()}")
        compare(again, "again", 0, None)
        # a zipped store (.lstar.zarr.zip, every entry STORED, as upstream packs them) reads too
        zpath = os.path.join(tmp, "golden_v2.lstar.zarr.zip")
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_STORED) as zf:
            for dirpath, _, files in os.walk(GOLDEN):
                for fn in sorted(files):
                    full = os.path.join(dirpath, fn)
                    zf.write(full, os.path.relpath(full, GOLDEN).replace(os.sep, "/"))
        from_zip = os.path.join(tmp, "from-zip.lstar.zarr")
        r = subprocess.run([TOOL, "copy", zpath, from_zip], capture_output=True, text=True)
        check(r.returncode == 0, f"copy from zip: {r.stderr.strip()}")
        compare(from_zip, "from-zip", 0, None)
        print("ok from-zip")
        print(f"PASS: {checks} checks")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
