"""lstar_check.py — the native check of `lstar convert --check`.

Opens a conversion result in its native library and compares it with the
expectations the C side computed from the dataset it wrote:

  h5ad           anndata.read_h5ad(path, backed="r")   (X streamed from the file)
  anndata-zarr   anndata.read_zarr(path)               (Zarr v2 only)
  lstar          zarr.open_group(path, mode="r")       (L★ store, Zarr v2 only)

Input: one JSON object on stdin (see tools/native_check.h and docs/cli.md):
  {"version": 1, "target": PATH, "container": "h5ad"|"anndata-zarr"|"lstar",
   "zarr_format": 2|3|null, "axes": [{"name", "length", "names_crc32"}],
   "obs_axis"/"var_axis" (AnnData), "fields": [names] (L★),
   "x": null | {"field", "encoding", "shape", "values", "nonzero", "nonfinite", "sum", "abssum"}}
Output: the last line on stdout is {"status": "pass"|"fail"|"skip", "detail": "..."}.
Exit status 0 whatever the verdict (a crash is reported by lstar as a failed check).

Names CRC: zlib.crc32 of every name's UTF-8 bytes, each followed by one NUL.
X checksum over every stored value (dense: every element; sparse: every entry
of data) as float64: nonzero (v != 0, NaN counts) and nonfinite counts exact;
abssum = sum |v| over finite values within 1e-6 relative; sum over finite
values within 1e-6 * abssum.  Run with /usr/bin/python3 (Debian's anndata,
zarr, numpy).
"""
import json
import sys
import warnings
import zlib

BLOCK = 1 << 20  # values per block when streaming X
REL_TOL = 1e-6


def verdict(status, detail):
    sys.stdout.write(json.dumps({"status": status, "detail": detail}) + "\n")
    sys.stdout.flush()
    sys.exit(0)


def names_crc32(names):
    crc = 0
    for n in names:
        crc = zlib.crc32(str(n).encode("utf-8") + b"\0", crc)
    return crc


class Sum:
    """Running checksum of float64 values."""

    def __init__(self):
        self.values = 0
        self.nonzero = 0
        self.nonfinite = 0
        self.sum = 0.0
        self.abssum = 0.0

    def add(self, arr):
        import numpy as np

        v = np.asarray(arr).astype(np.float64, copy=False).ravel()
        self.values += v.size
        self.nonzero += int(np.count_nonzero(v))
        fin = np.isfinite(v)
        self.nonfinite += int(v.size - np.count_nonzero(fin))
        f = v[fin]
        self.sum += float(f.sum())
        self.abssum += float(np.abs(f).sum())


def compare_x(x, got, shape):
    """None if the checksum matches, else a sentence."""
    if list(shape) != list(x["shape"]):
        return "X shape %s, expected %s" % (list(shape), list(x["shape"]))
    if got.nonzero != x["nonzero"]:
        return "X has %d nonzero values, expected %d" % (got.nonzero, x["nonzero"])
    if got.nonfinite != x["nonfinite"]:
        return "X has %d non-finite values, expected %d" % (got.nonfinite, x["nonfinite"])
    if abs(got.abssum - x["abssum"]) > REL_TOL * max(abs(got.abssum), abs(x["abssum"])):
        return "X sum of |values| %.17g, expected %.17g" % (got.abssum, x["abssum"])
    if abs(got.sum - x["sum"]) > REL_TOL * max(got.abssum, x["abssum"]):
        return "X sum of values %.17g, expected %.17g" % (got.sum, x["sum"])
    return None


def x_summary(x):
    return "X checksum matches (%d nonzero, sum %.6g)" % (x["nonzero"], x["sum"])


# ---- AnnData (h5ad, anndata-zarr v2) -------------------------------------------------------------


def stream_matrix(m, got):
    """Checksum an in-memory or backed matrix (dense, scipy sparse, h5py dataset, backed sparse)."""
    import numpy as np
    import scipy.sparse as sp

    if sp.issparse(m):
        got.add(m.data)
        return
    # anndata 0.8 backed sparse (h5py group underneath)
    group = getattr(m, "group", None)
    if group is not None and "data" in group:
        data = group["data"]
        for s in range(0, data.shape[0], BLOCK):
            got.add(data[s:s + BLOCK])
        return
    shape = m.shape
    if len(shape) == 0:
        got.add(np.asarray(m[()]))
        return
    row = 1
    for d in shape[1:]:
        row *= d
    rows = max(1, BLOCK // max(row, 1))
    for s in range(0, shape[0], rows):
        got.add(np.asarray(m[s:s + rows]))


def check_anndata(spec):
    try:
        import anndata
    except Exception as e:  # noqa: BLE001
        verdict("skip", "Python peers not installed: cannot import anndata (%s)" % e)
    path = spec["target"]
    if spec["container"] == "anndata-zarr" and spec.get("zarr_format") == 3:
        zv = ".".join(_zarr_version().split(".")[:2]) or "?"
        verdict("skip", "anndata %s cannot read anndata-zarr v3 (zarr-python %s reads Zarr v2 only)"
                % (anndata.__version__, zv))
    try:
        if spec["container"] == "h5ad":
            adata = anndata.read_h5ad(path, backed="r")
        else:
            adata = anndata.read_zarr(path)
    except Exception as e:  # noqa: BLE001
        verdict("fail", "anndata %s could not read %s: %s: %s" % (anndata.__version__, path, type(e).__name__,
                                                                  str(e).splitlines()[0] if str(e) else ""))
    try:
        axes = {a["name"]: a for a in spec["axes"]}
        for slot, key, names in (("obs", "obs_axis", adata.obs_names), ("var", "var_axis", adata.var_names)):
            name = spec.get(key)
            if name is None:
                continue
            a = axes[name]
            if len(names) != a["length"]:
                verdict("fail", "%s has %d names, expected %d (axis %s)" % (slot, len(names), a["length"], name))
            if names_crc32(names) != a["names_crc32"]:
                verdict("fail", "%s_names differ from the labels of axis %s" % (slot, name))
        x = spec.get("x")
        if x is not None:
            if adata.X is None:
                verdict("fail", "X is missing (expected field %s)" % x["field"])
            got = Sum()
            stream_matrix(adata.X, got)
            why = compare_x(x, got, adata.X.shape)
            if why:
                verdict("fail", why)
        detail = "anndata %s read %s: %d x %d, obs/var names match" % (
            anndata.__version__, path, adata.n_obs, adata.n_vars)
        detail += ", " + x_summary(x) if x is not None else ", no X to compare"
        verdict("pass", detail)
    finally:
        f = getattr(adata, "file", None)
        if f is not None and getattr(adata, "isbacked", False):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass


# ---- L★ store (Zarr v2) ----------------------------------------------------------------------------


def _zarr_version():
    try:
        import zarr

        return zarr.__version__
    except Exception:  # noqa: BLE001
        return ""


def strings_of(group, name):
    import numpy as np

    data = np.asarray(group[name][:], dtype=np.uint8).tobytes()
    offs = np.asarray(group[name + "_offsets"][:], dtype=np.int64)
    return [data[offs[i]:offs[i + 1]].decode("utf-8") for i in range(len(offs) - 1)]


def check_lstar(spec):
    try:
        import zarr
    except Exception as e:  # noqa: BLE001
        verdict("skip", "Python peers not installed: cannot import zarr (%s)" % e)
    zv = ".".join(zarr.__version__.split(".")[:2])
    if spec.get("zarr_format") == 3 and int(zarr.__version__.split(".")[0]) < 3:
        verdict("skip", "zarr-python %s cannot read Zarr v3" % zv)
    path = spec["target"]
    try:
        g = zarr.open_group(path, mode="r")
        root = dict(g.attrs)["lstar"]
    except Exception as e:  # noqa: BLE001
        verdict("fail", "zarr-python %s could not open %s as an L★ store: %s: %s" % (
            zarr.__version__, path, type(e).__name__, e))
    want_axes = [a["name"] for a in spec["axes"]]
    if list(root.get("axes", [])) != want_axes:
        verdict("fail", "root axes %s, expected %s" % (root.get("axes"), want_axes))
    if list(root.get("fields", [])) != list(spec["fields"]):
        verdict("fail", "root fields %s, expected %s" % (root.get("fields"), spec["fields"]))
    try:
        for a in spec["axes"]:
            labels = strings_of(g["axes/" + a["name"]], "labels")
            if len(labels) != a["length"]:
                verdict("fail", "axis %s has %d labels, expected %d" % (a["name"], len(labels), a["length"]))
            if names_crc32(labels) != a["names_crc32"]:
                verdict("fail", "the labels of axis %s differ" % a["name"])
        x = spec.get("x")
        if x is not None:
            fg = g["fields/" + x["field"]]
            fa = fg.attrs.get("lstar", {})
            enc = fa.get("encoding")
            got = Sum()
            if enc == "dense":
                arr = fg["values"]
                shape = arr.shape
                stream_matrix(arr, got)
            else:
                arr = fg["weight" if enc == "coo" else "data"]
                for s in range(0, arr.shape[0], BLOCK):
                    got.add(arr[s:s + BLOCK])
                shape = fa.get("shape", [])
            why = compare_x(x, got, shape)
            if why:
                verdict("fail", "field %s: %s" % (x["field"], why))
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        verdict("fail", "zarr-python %s could not read %s: %s: %s" % (zarr.__version__, path, type(e).__name__, e))
    detail = "zarr-python %s read %s: %d axes, %d fields match" % (
        zarr.__version__, path, len(spec["axes"]), len(spec["fields"]))
    x = spec.get("x")
    detail += ", " + x_summary(x).replace("X checksum", "%s checksum" % x["field"]) if x is not None else \
        ", no X to compare"
    verdict("pass", detail)


def main():
    warnings.filterwarnings("ignore")
    try:
        spec = json.loads(sys.stdin.read())
    except ValueError as e:
        verdict("fail", "bad checker input: %s" % e)
    c = spec.get("container")
    if c in ("h5ad", "anndata-zarr"):
        check_anndata(spec)
    elif c == "lstar":
        check_lstar(spec)
    else:
        verdict("fail", "bad checker input: unknown container %r" % c)


if __name__ == "__main__":
    main()
