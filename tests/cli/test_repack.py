#!/usr/bin/python3
"""lstar repack: usage, exit codes, error messages, and what is left on disk.

Values and filters of the output are checked in tests/interop/test_repack_h5ad.py; here: the
command line contract.  HDF5_PLUGIN_PATH is removed from the environment, so the zstd runs prove
that lstar finds its own plugins (the directory `lstar plugin-path` prints).
"""
import glob
import hashlib
import os
import re
import shutil
import tempfile

import clitest
from clitest import check, check_eq, need, run

os.environ.pop("HDF5_PLUGIN_PATH", None)
PBMC = need(os.path.join(clitest.SHARED, "scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad"))
H5MU = need(os.path.join(clitest.SHARED, "scverse_mudata/tests/data/archives/v0.4.1/mdata_axis0.h5mu"))
ZARR = need(os.path.join(clitest.FIXTURES, "golden_v2.lstar.zarr"))
SUMMARY = re.compile(r"^(.*) -> (.*): (\d+) datasets re-encoded \(.* -> .*\), (\d+) copied, (\d+) groups; "
                     r"file .* -> .* \((\d+\.\d{3})x\)\n$")


def digest(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def leftovers(d):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(d, "*.tmp-*")))


with tempfile.TemporaryDirectory(prefix="lstar-cli-repack-") as tmp:
    # help
    rc, out, err = run("repack", "--help")
    check_eq(rc, 0, "repack --help exit")
    check(out.startswith("usage: lstar repack SRC DST") and "--delta-indices" in out and err == "",
          "repack --help prints the usage on stdout")
    rc, out, err = run("help", "repack")
    check(rc == 0 and out.startswith("usage: lstar repack"), "lstar help repack")

    # usage errors
    rc, out, err = run("repack", PBMC)
    check_eq((rc, out), (2, ""), "repack with one argument")
    check_eq(err, "lstar: repack: expected SRC and DST (see 'lstar help repack')\n", "one-argument message")
    dst = os.path.join(tmp, "o.h5ad")
    rc, out, err = run("repack", PBMC, dst, "--best", "--gzip")
    check_eq((rc, err), (2, "lstar: repack: --best, --filter, --gzip and --none are mutually exclusive\n"),
             "--best with --gzip")
    rc, out, err = run("repack", PBMC, dst, "--filter", "zstd:99")
    check_eq((rc, err), (2, "lstar: repack: --filter: level '99' must be an integer in -131072..22\n"),
             "zstd level out of range")
    rc, out, err = run("repack", PBMC, dst, "--gzip=10")
    check_eq((rc, err), (2, "lstar: repack: --filter: level '10' must be an integer in 0..9\n"), "gzip level 10")
    rc, out, err = run("repack", PBMC, dst, "--filter", "lzf")
    check_eq((rc, err), (2, "lstar: repack: --filter: unknown filter 'lzf' (zstd[:L], gzip[:L], none)\n"),
             "unknown filter")
    rc, out, err = run("repack", PBMC, dst, "--best", "--shuffle")
    check(rc == 2 and "--best sets the whole pipeline" in err, "--best with --shuffle")
    check(not os.path.exists(dst) and leftovers(tmp) == [], "usage errors write nothing")

    # success (plugins found without HDF5_PLUGIN_PATH), one summary line
    rc, out, err = run("repack", PBMC, dst)
    check_eq((rc, err), (0, ""), "repack (default --best) exit and stderr")
    m = SUMMARY.match(out)
    check(m is not None and m.group(1) == PBMC and m.group(2) == dst, "summary line %r" % out)
    if m:
        check(int(m.group(3)) > 0 and int(m.group(4)) > 0 and float(m.group(6)) < 1.0,
              "pbmc68k: datasets re-encoded and copied, smaller file (%s)" % out.strip())
    check(leftovers(tmp) == [], "no temporary file after success")
    mask = os.umask(0)
    os.umask(mask)
    check_eq(os.stat(dst).st_mode & 0o777, 0o666 & ~mask, "DST permissions (0666 minus the umask)")

    # DST exists without --overwrite: exit 2, DST untouched
    before = digest(dst)
    rc, out, err = run("repack", PBMC, dst, "--gzip")
    check_eq((rc, out), (2, ""), "existing DST exit")
    check_eq(err, "lstar: repack: %s: destination exists (use overwrite to replace it)\n" % dst, "existing DST message")
    check(digest(dst) == before, "existing DST untouched")
    rc, out, err = run("repack", PBMC, dst, "--gzip", "--overwrite")
    check(rc == 0 and digest(dst) != before, "--overwrite replaces DST")

    # DST is SRC: refused even with --overwrite
    src_copy = os.path.join(tmp, "copy.h5ad")
    shutil.copy(PBMC, src_copy)
    d0 = digest(src_copy)
    rc, out, err = run("repack", src_copy, src_copy, "--overwrite")
    check_eq((rc, err), (2, "lstar: repack: %s: the destination is the source file\n" % src_copy), "DST == SRC")
    check(digest(src_copy) == d0, "SRC untouched when DST == SRC")

    # truncated input: exit 2, nothing left behind
    trunc = os.path.join(tmp, "trunc.h5ad")
    with open(PBMC, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    out_t = os.path.join(tmp, "t.h5ad")
    rc, out, err = run("repack", trunc, out_t)
    check_eq((rc, out), (2, ""), "truncated input exit")
    check(err.startswith("lstar: repack: %s" % trunc) and err.count("\n") == 1, "truncated input message %r" % err)
    check(not os.path.exists(out_t) and leftovers(tmp) == [], "truncated input leaves nothing behind")

    # a truncated tail only (metadata intact, data chunks cut): fails while copying, nothing left
    trunc2 = os.path.join(tmp, "trunc2.h5ad")
    with open(trunc2, "wb") as f:
        f.write(data[: len(data) - 200000])
    rc, out, err = run("repack", trunc2, out_t)
    check(rc == 2 and err.startswith("lstar: repack: ") and out == "", "data-truncated input exit 2 (%r)" % err)
    check(not os.path.exists(out_t) and leftovers(tmp) == [], "data-truncated input leaves nothing behind")

    # not HDF5, missing, Zarr
    txt = os.path.join(tmp, "x.txt")
    with open(txt, "w") as f:
        f.write("hello\n")
    rc, out, err = run("repack", txt, out_t)
    check(rc == 2 and err.startswith("lstar: repack: %s: cannot open HDF5 file" % txt), "text file input %r" % err)
    rc, out, err = run("repack", os.path.join(tmp, "nope.h5ad"), out_t)
    check(rc == 2 and "nope.h5ad" in err, "missing input %r" % err)
    check(not os.path.exists(out_t) and leftovers(tmp) == [], "failed runs leave nothing behind")

    # Zarr store → directory store; an existing DST directory needs --overwrite and is then replaced
    zdst = os.path.join(tmp, "z.zarr")
    rc, out, err = run("repack", ZARR, zdst, "--filter", "zstd:5", "--shuffle", "--delta-indices")
    m = SUMMARY.match(out)
    check(rc == 0 and err == "" and m is not None and m.group(2) == zdst, "Zarr repack summary %r %r" % (out, err))
    check(os.path.isfile(os.path.join(zdst, ".zmetadata")), "Zarr output is a consolidated directory store")
    rc, out, err = run("repack", ZARR, zdst, "--gzip")
    check_eq((rc, err), (2, "lstar: repack: %s: destination exists (use overwrite to replace it)\n" % zdst),
             "existing Zarr DST")
    marker = os.path.join(zdst, "marker")
    open(marker, "w").close()
    rc, out, err = run("repack", ZARR, zdst, "--gzip", "--overwrite")
    check(rc == 0 and not os.path.exists(marker), "--overwrite replaces the Zarr DST directory")
    with open(os.path.join(zdst, "fields", "counts", "data", ".zarray")) as f:
        check('"gzip"' in f.read(), "replaced store has the new codec")
    check(sorted(os.listdir(tmp)).count("z.zarr") == 1 and not [p for p in os.listdir(tmp) if ".old-" in p]
          and leftovers(tmp) == [], "no temporary or old directory left")
    rc, out, err = run("repack", ZARR, ZARR, "--overwrite")
    check_eq((rc, err), (2, "lstar: repack: %s: the destination is the source\n" % ZARR), "Zarr DST == SRC")

    # a plugin directory without our plugins: zstd cannot be set up
    empty = os.path.join(tmp, "empty-plugins")
    os.mkdir(empty)
    rc, out, err = run("repack", PBMC, out_t, "--filter", "zstd", "--plugin-dir", empty)
    # HDF5 keeps plugins it loaded in-process only; a fresh process with an empty directory must fail
    check(rc == 2 and "32015" in err and "cannot be loaded" in err, "zstd without plugins %r" % err)
    rc, out, err = run("repack", PBMC, out_t, "--gzip", "--plugin-dir", empty)
    check(rc == 0, "gzip needs no plugin (%r)" % err)

    # h5mu: the 512-byte userblock is kept
    mu = os.path.join(tmp, "m.h5mu")
    rc, out, err = run("repack", H5MU, mu, "--filter", "zstd:3")
    check(rc == 0, "h5mu repack (%r)" % err)
    with open(H5MU, "rb") as a, open(mu, "rb") as b:
        check(a.read(512) == b.read(512), "h5mu userblock copied")

clitest.finish()
