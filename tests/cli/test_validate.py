"""lstar validate: golden stores pass; a store whose field span names an unknown axis
fails with the exact finding; unreadable inputs exit 2."""
import json
import os
import shutil
import tempfile

from clitest import FIXTURES, SHARED, check, check_eq, finish, need, run

need(os.path.join(FIXTURES, "golden_v2.lstar.zarr"))

for store in ("golden_v2.lstar.zarr", "golden_v3.lstar.zarr"):
    rc, out, err = run("validate", store, cwd=FIXTURES)
    check_eq(rc, 0, "validate %s exit" % store)
    check_eq(err, "", "validate %s stderr" % store)
    # knn has role "graph" (non-core: a warning, not an error; lstar-format.md §1.9)
    check_eq(out, "warning noncore-role fields/knn: role 'graph' is not a core role\n0 errors, 1 warnings\n",
             "validate %s stdout" % store)

tmp = tempfile.mkdtemp()
try:
    # corrupt a copy: fields/qc spans an axis that does not exist (.zattrs AND .zmetadata)
    bad = os.path.join(tmp, "bad.lstar.zarr")
    shutil.copytree(os.path.join(FIXTURES, "golden_v2.lstar.zarr"), bad)
    za = os.path.join(bad, "fields", "qc", ".zattrs")
    with open(za) as f:
        attrs = json.load(f)
    attrs["lstar"]["span"] = ["nosuchaxis"]
    with open(za, "w") as f:
        json.dump(attrs, f, indent=2)
    zm = os.path.join(bad, ".zmetadata")
    with open(zm) as f:
        meta = json.load(f)
    meta["metadata"]["fields/qc/.zattrs"]["lstar"]["span"] = ["nosuchaxis"]
    with open(zm, "w") as f:
        json.dump(meta, f, indent=2)
    rc, out, err = run("validate", "bad.lstar.zarr", cwd=tmp)
    check_eq(rc, 1, "validate corrupted store exit")
    check_eq(err, "", "validate corrupted store stderr")
    check_eq(out, "error span-unknown-axis fields/qc: span references unknown axis 'nosuchaxis'\n"
             "warning noncore-role fields/knn: role 'graph' is not a core role\n"
             "1 errors, 1 warnings\n", "validate corrupted store stdout")

    # not readable as an L★ store → exit 2, one line on stderr
    missing = os.path.join(tmp, "missing.lstar.zarr")
    rc, out, err = run("validate", missing)
    check_eq((rc, out, err), (2, "", "lstar: validate: %s: No such file or directory\n" % missing),
             "validate missing path")
    sub = need(os.path.join(SHARED, "scverse_scanpy", "tests", "_data", "10x-10k-subset.zarr"))
    rc, out, err = run("validate", sub)
    check_eq((rc, out, err), (2, "", "lstar: validate: %s: not an L★ store (no \"lstar\" root attribute)\n" % sub),
             "validate a non-L★ Zarr store")
    rc, out, err = run("validate")
    check_eq((rc, err), (2, "lstar: validate: expected one PATH (see 'lstar help validate')\n"), "validate no PATH")
finally:
    shutil.rmtree(tmp)

finish()
