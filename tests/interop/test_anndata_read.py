"""Interop: our AnnData reader (lstar_anndata_read, via $LSTAR_HELPERS/lstar_test_anndata) against
anndata 0.8 (read_h5ad / read_zarr) on every h5ad / anndata-zarr file in the shared data.

For each file we compare, element by element: obs/var names with the cells/genes axes, X (sum, nnz,
encoding), raw.X, every layer, every obs/var column (categories and missing codes of categoricals,
sums of numeric columns, masks of nullable columns, string values), obsm/varm shapes and sums,
obsp/varp sums, and that every uns key is either in the passthrough tree or promoted to a field.
Elements we record as dropped (with their path) are checked to be listed in the manifest.
The dataset must validate with 0 errors.  Run with /usr/bin/python3 (Debian's anndata 0.8)."""
import json
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import scipy.sparse as sp

warnings.filterwarnings("ignore")
import anndata as ad  # noqa: E402

DATA = os.environ.get("LSTAR_SHARED_DATA", os.path.join(os.path.dirname(__file__), "../../../shared/data"))
HELPER = os.path.join(os.environ.get("LSTAR_HELPERS", ""), "lstar_test_anndata")

FILES = [
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip",
    "scverse_anndataR/inst/extdata/example.h5ad",
    "scverse_anndata/tests/data/archives/v0.5.0/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.0/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.8/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.11.4/adata.h5ad",
    "scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip",
    "scverse_anndata/tests/data/archives/v0.7.8/adata.zarr.zip",
    "scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip",
    "kaizhang_anndata-rs/anndata-test-utils/tests/data/sample.h5ad",
    "scverse_scanpy/scanpy/tests/_data/kbet-sim.h5ad",
    "chanzuckerberg_cellxgene/test/fixtures/1e4dfec4-c0b2-46ad-a04e-ff3ffb3c0a8f.h5ad",
    "chanzuckerberg_cellxgene/test/fixtures/nan.h5ad",
    "scverse_scanpy/tests/_data/neighbors_shortcut_ref.h5ad",
    "scverse_scanpy/tests/_data/t-cells.h5ad",
    "scverse_scanpy/tests/_data/10x-10k-subset.zarr",
]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def close(a, b, what):
    ok = (a is None and b is None) or (
        a is not None and b is not None and (math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-3) or (math.isnan(a) and math.isnan(b))))
    return check(ok, "%s: ours %r, anndata %r" % (what, a, b))


def msum(m):
    if sp.issparse(m):
        return float(np.nansum(m.data.astype(np.float64)))
    return float(np.nansum(np.asarray(m, dtype=np.float64)))


def read_native(path):
    if ".zarr" in path:
        if path.endswith(".zip"):
            import zarr
            store = zarr.ZipStore(path, mode="r")
            try:
                return ad.read_zarr(store)
            except Exception:
                return None
        return ad.read_zarr(path)
    return ad.read_h5ad(path)


def ours(path):
    r = subprocess.run([HELPER, path], capture_output=True, text=True)
    if r.returncode != 0:
        failures.append("%s: helper exit %d: %s" % (path, r.returncode, r.stderr.strip()[:300]))
        return None
    return json.loads(r.stdout)


def by_prov(d):
    out = {}
    for f in d["fields"]:
        loc = (f.get("provenance") or {}).get("anndata")
        if loc and not loc.startswith("uns/"):
            out[loc] = f
    return out


def compare_column(tag, f, s, n):
    import pandas as pd
    if isinstance(s.dtype, pd.CategoricalDtype):
        if not check(f["encoding"] == "categorical", "%s: encoding %s, expected categorical" % (tag, f["encoding"])):
            return
        check(f["categories"] == [str(c) for c in s.cat.categories], "%s: categories differ" % tag)
        check(f["codes_missing"] == int((s.cat.codes < 0).sum()), "%s: missing codes differ" % tag)
        check(f["codes_sum"] == float(s.cat.codes.astype("int64").sum()), "%s: codes sum differs" % tag)
        check(bool(f["ordered"]) == bool(s.cat.ordered), "%s: ordered differs" % tag)
        return
    if pd.api.types.is_extension_array_dtype(s) and not pd.api.types.is_string_dtype(s):
        check(f.get("missing") == int(s.isna().sum()), "%s: mask count %r vs %d" % (tag, f.get("missing"), int(s.isna().sum())))
        close(f.get("sum"), float(np.nansum(s.to_numpy(dtype="float64", na_value=np.nan))), tag + " sum (unmasked)")
        return
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        check(f["encoding"] == "dense", "%s: encoding %s" % (tag, f["encoding"]))
        close(f.get("sum"), float(np.nansum(np.asarray(s, dtype=np.float64))), tag + " sum")
        return
    check(f["encoding"] == "utf8", "%s: encoding %s, expected utf8" % (tag, f["encoding"]))
    check(f.get("values") == [str(x) for x in s.values], "%s: string values differ" % tag)


# anndata 0.8 cannot read Zarr v3: the scanpy v3 store holds the same dataset as the h5ad (X, obs,
# var, obsm, varm, obsp); its layers/raw differ (counts layer, raw = None), so those are skipped.
ALT_REFERENCE = {
    "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip":
        "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad",
}


def compare(rel):
    path = os.path.join(DATA, rel)
    if not os.path.exists(path):
        print("skip (missing):", rel)
        return
    d = ours(path)
    if d is None:
        return
    alt = ALT_REFERENCE.get(rel)
    a = read_native(os.path.join(DATA, alt)) if alt else read_native(path)
    check(d["validate"]["errors"] == 0, "%s: validation errors %s" % (rel, d["validate"]["findings"]))
    check(d["profiles"][0] == "anndata@0.1", "%s: profiles %s" % (rel, d["profiles"]))
    if a is None:
        print("anndata 0.8 cannot read %s; checked self-consistency only" % rel)
        return
    axes = {x["name"]: x for x in d["axes"]}
    check(axes["cells"]["labels"] == [str(x) for x in a.obs_names], rel + ": obs_names differ")
    check(axes["genes"]["labels"] == [str(x) for x in a.var_names], rel + ": var_names differ")
    fields = by_prov(d)
    dropped = d["dropped"]

    def is_dropped(loc):
        return any(x == loc or x.startswith(loc + " ") for x in dropped)

    if a.X is not None:
        f = fields.get("X")
        if check(f is not None, rel + ": no X field"):
            close(f.get("sum"), msum(a.X), rel + " X sum")
            check(f["shape"] == list(a.shape), rel + ": X shape")
            if sp.issparse(a.X):
                check(f["encoding"] == a.X.format, rel + ": X encoding")
                check(f["nnz"] == a.X.nnz, rel + ": X nnz")
    else:
        check("X" not in fields, rel + ": X field without X")
    if alt:
        a.raw = None
        for k in list(a.layers.keys()):
            del a.layers[k]
        a.uns = {}
    if a.raw is not None:
        f = fields.get("raw/X")
        if check(f is not None, rel + ": no raw field"):
            close(f.get("sum"), msum(a.raw.X), rel + " raw sum")
            check(f["shape"] == list(a.raw.shape), rel + ": raw shape")
            gax = f["span"][1]
            check(axes[gax]["labels"] == [str(x) for x in a.raw.var_names], rel + ": raw var names")
    for k, v in a.layers.items():
        f = fields.get("layers/" + k)
        if check(f is not None, "%s: layer %s missing" % (rel, k)):
            close(f.get("sum"), msum(v), "%s layer %s sum" % (rel, k))
    for side, df, n in (("obs", a.obs, a.n_obs), ("var", a.var, a.n_vars)):
        for c in df.columns:
            loc = "%s/%s" % (side, c)
            f = fields.get(loc)
            if f is None:
                check(is_dropped(loc), "%s: column %s neither read nor dropped" % (rel, loc))
                continue
            compare_column("%s %s" % (rel, loc), f, df[c], n)
    for slot, m in (("obsm", a.obsm), ("varm", a.varm), ("obsp", a.obsp), ("varp", a.varp)):
        for k, v in m.items():
            loc = "%s/%s" % (slot, k)
            f = fields.get(loc)
            if f is None:
                check(is_dropped(loc), "%s: %s neither read nor dropped" % (rel, loc))
                continue
            check(list(f["shape"]) == list(v.shape), "%s: %s shape %s vs %s" % (rel, loc, f["shape"], v.shape))
            close(f.get("sum"), msum(v), "%s %s sum" % (rel, loc))
    tree = d["passthrough"][0]["tree"]["$obj"] if d["passthrough"] else {}
    promoted = set()
    for f in d["fields"]:
        loc = (f.get("provenance") or {}).get("anndata", "")
        if loc.startswith("uns/"):
            promoted.add(loc.split("/")[1])
    legacy_cats = {k for k in dropped}
    for k in a.uns.keys():
        if k.startswith("lstar"):
            continue
        check(k in tree or k in promoted or k in legacy_cats, "%s: uns key %s lost" % (rel, k))
    print("ok:", rel, "(%d fields, %d dropped)" % (len(d["fields"]), len(dropped)))


def main():
    if not os.path.exists(HELPER):
        print("helper not built:", HELPER)
        return 1
    for rel in FILES:
        try:
            compare(rel)
        except Exception as e:  # a crash in the comparison is a failure, not a skip
            failures.append("%s: %s: %s" % (rel, type(e).__name__, e))
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
