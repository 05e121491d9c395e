#!/usr/bin/python3
"""Round trips through lstar's HDF5 filter plugins (zstd 32015, delta 56855) with h5py.

Checks, for every integer and float dtype and odd chunkings (1-element chunks, edge chunks, empty
datasets, 2-D chunks): the values read back are exactly those written; the pipeline carries the
documented cd_values; every zstd chunk is one zstd frame whose header records the decoded chunk
size (no checksum) and that python-zstandard decodes to the chunk's bytes; every delta chunk equals
numcodecs Delta's encoding of the chunk.  Also: datatype rejection messages from can_apply (in
h5py's exception and on the printed HDF5 error stack), the zstd level range, and corrupt or
truncated chunks failing with an OSError naming the filter, never a crash.

Environment: LSTAR_BUILD (build dir; plugins in $LSTAR_BUILD/filters/plugins).
"""
import os
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
# HDF5 reads HDF5_PLUGIN_PATH when it first needs a plugin: set it before h5py is imported.
os.environ["HDF5_PLUGIN_PATH"] = PLUGINS + ":" + DEBIAN_PLUGINS

import h5py  # noqa: E402
import numcodecs  # noqa: E402
import numpy as np  # noqa: E402
import zstandard  # noqa: E402

ZSTD = 32015
DELTA = 56855
MARKER = 0x4C535A31
SHUFFLE = h5py.h5z.FILTER_SHUFFLE
INT_DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]
FLOAT_DTYPES = ["f4", "f8"]
FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def sample(dtype, n, rng, sorted_ints=False):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        # Exercise sign, tiny and huge magnitudes, and the special values.
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(dt)
        if n >= 4:
            a[:4] = [np.nan, np.inf, -np.inf, -0.0]
        return a
    info = np.iinfo(dt)
    if sorted_ints:  # CSR-indices-like: sorted, small steps, wrapping allowed for the smallest types
        steps = rng.integers(0, 4, n).astype(np.int64)
        return (np.cumsum(steps) % (int(info.max) + 1)).astype(dt)
    # full range: differences overflow and must wrap exactly like numpy / numcodecs
    return rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)


def same(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a.tobytes() == b.tobytes()  # bitwise: NaN payloads and -0.0 included


def make_dataset(f, name, data, chunks, pipeline, maxshape=None, shape=None):
    """Create a dataset whose dcpl holds `pipeline` = [(filter_id, cd_values), ...] in order."""
    dt = np.dtype(data.dtype if data is not None else "i4")
    shape = data.shape if shape is None else shape
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk(chunks)
    dcpl.set_fill_value(np.zeros(1, dt))
    for fid, cd in pipeline:
        dcpl.set_filter(fid, h5py.h5z.FLAG_MANDATORY, tuple(cd))
    maxs = tuple(h5py.h5s.UNLIMITED if m is None else m for m in maxshape) if maxshape else None
    space = h5py.h5s.create_simple(shape, maxs)
    did = h5py.h5d.create(f.id, name.encode(), h5py.h5t.py_create(dt), space, dcpl=dcpl)
    ds = h5py.Dataset(did)
    if data is not None and data.size:
        ds[...] = data
    return ds


def pipeline_of(ds):
    p = ds.id.get_create_plist()
    return [p.get_filter(i)[:3] for i in range(p.get_nfilters())]


def chunk_items(shape, chunks):
    """Offsets of every chunk (C order)."""
    import itertools

    ranges = [range(0, s, c) for s, c in zip(shape, chunks)]
    return list(itertools.product(*ranges))


def padded_chunk(a, off, chunks):
    """The bytes HDF5 filters see for the chunk at `off`: full size, fill 0 beyond the edge."""
    out = np.zeros(chunks, a.dtype)
    sl = tuple(slice(o, min(o + c, s)) for o, c, s in zip(off, chunks, a.shape))
    src = a[sl]
    out[tuple(slice(0, n) for n in src.shape)] = src
    return out


def check_zstd_chunks(ds, a, chunks, what):
    chunk_bytes = int(np.prod(chunks)) * a.dtype.itemsize
    for off in chunk_items(a.shape, chunks):
        mask, raw = ds.id.read_direct_chunk(off)
        check(mask == 0, "%s: chunk %s filter mask %d (expected 0)" % (what, off, mask))
        params = zstandard.get_frame_parameters(raw)
        check(params.content_size == chunk_bytes,
              "%s: chunk %s frame content size %s, expected %d" % (what, off, params.content_size, chunk_bytes))
        check(not params.has_checksum, "%s: chunk %s frame has a checksum" % (what, off))
        dec = zstandard.ZstdDecompressor().decompressobj()
        plain = dec.decompress(raw)
        check(dec.eof and dec.unused_data == b"", "%s: chunk %s is not exactly one frame" % (what, off))
        check(plain == padded_chunk(a, off, chunks).tobytes(),
              "%s: chunk %s decodes (python-zstandard) to other bytes" % (what, off))


def main():
    rng = np.random.default_rng(20261121)
    tmp = tempfile.mkdtemp(prefix="lstar_filters_rt_")
    path = os.path.join(tmp, "rt.h5")
    cases = []  # (name, expected array)

    # ---- zstd: every int and float dtype, odd chunkings --------------------------------------
    layouts = [
        ("edge", (1001,), (64,)),       # 16 chunks, the last one 41 of 64
        ("one", (7,), (1,)),            # 1-element chunks
        ("big", (300,), (300,)),        # one chunk = the whole dataset
        ("twod", (37, 23), (8, 5)),     # 2-D with edge chunks in both dimensions
    ]
    with h5py.File(path, "w") as f:
        for dt in INT_DTYPES + FLOAT_DTYPES:
            for lname, shape, chunks in layouts:
                a = sample(dt, int(np.prod(shape)), rng).reshape(shape)
                name = "zstd_%s_%s" % (dt, lname)
                level = {"edge": 3, "one": 1, "big": 19, "twod": -5}[lname]
                cd = (level & 0xFFFFFFFF,)  # negative levels travel as two's complement
                ds = make_dataset(f, name, a, chunks, [(ZSTD, cd)])
                chunk_bytes = int(np.prod(chunks)) * a.dtype.itemsize
                got = pipeline_of(ds)
                check(got == [(ZSTD, 0, (level & 0xFFFFFFFF, MARKER, chunk_bytes, 0))],
                      "%s: pipeline %r, expected zstd cd_values (level, marker, %d, 0)" % (name, got, chunk_bytes))
                cases.append((name, a))
        # the h5py convenience spelling (optional filter) and the default level
        a = np.arange(5000, dtype="<i4")
        ds = f.create_dataset("zstd_h5py_default", data=a, chunks=(1000,), compression=ZSTD)
        check(pipeline_of(ds) == [(ZSTD, 1, (3, MARKER, 4000, 0))],
              "h5py compression=32015 without opts: pipeline %r, expected level 3 + size" % pipeline_of(ds))
        cases.append(("zstd_h5py_default", a))
        # h5py puts shuffle before and fletcher32 after the compressor: the size zstd sees is the chunk
        ds = f.create_dataset("h5py_zstd_shuffle_fletcher", data=a, chunks=(999,), compression=ZSTD,
                              compression_opts=(2,), shuffle=True, fletcher32=True)
        got = pipeline_of(ds)
        check([g[0] for g in got] == [SHUFFLE, ZSTD, h5py.h5z.FILTER_FLETCHER32] and got[1][2] == (2, MARKER, 3996, 0),
              "h5py shuffle+zstd+fletcher32: pipeline %r, expected zstd size 3996" % got)
        cases.append(("h5py_zstd_shuffle_fletcher", a))
        # scaleoffset comes first and changes the byte count: zstd must record the size as unknown (0)
        b = (np.arange(5000) % 77).astype("<i4")
        ds = f.create_dataset("scaleoffset_zstd", data=b, chunks=(1000,), compression=ZSTD, scaleoffset=0)
        got = pipeline_of(ds)
        check([g[0] for g in got] == [h5py.h5z.FILTER_SCALEOFFSET, ZSTD] and got[1][2] == (3, MARKER, 0, 0),
              "scaleoffset+zstd: pipeline %r, expected zstd cd_values (3, marker, 0, 0)" % got)
        cases.append(("scaleoffset_zstd", b))
        # delta after a size-changing filter would see a packed bit stream: refused at creation
        try:
            make_dataset(f, "scaleoffset_delta", b, (1000,), [(h5py.h5z.FILTER_SCALEOFFSET, (2, 0)), (DELTA, ())])
            check(False, "scaleoffset + delta: dataset creation did not fail")
        except ValueError as e:
            check("lstar delta filter (56855): must come before every filter that changes the chunk's size" in str(e)
                  and "filter 6 comes first" in str(e), "scaleoffset + delta: message %r" % str(e))

        # ---- delta (alone, and delta + shuffle + zstd) for every integer dtype ----------------
        for dt in INT_DTYPES:
            for lname, shape, chunks in layouts:
                for kind in ("sorted", "random"):
                    a = sample(dt, int(np.prod(shape)), rng, sorted_ints=(kind == "sorted")).reshape(shape)
                    isz = np.dtype(dt).itemsize
                    signed = 1 if np.dtype(dt).kind == "i" else 0
                    name = "delta_%s_%s_%s" % (dt, lname, kind)
                    ds = make_dataset(f, name, a, chunks, [(DELTA, ())])
                    chunk_bytes = int(np.prod(chunks)) * isz
                    got = pipeline_of(ds)
                    check(got == [(DELTA, 0, (isz, signed, chunk_bytes, 0))],
                          "%s: pipeline %r, expected delta cd_values (%d, %d, %d, 0)"
                          % (name, got, isz, signed, chunk_bytes))
                    cases.append((name, a))
                    name = "dsz_%s_%s_%s" % (dt, lname, kind)
                    ds = make_dataset(f, name, a, chunks, [(DELTA, ()), (SHUFFLE, ()), (ZSTD, (7,))])
                    got = pipeline_of(ds)
                    want = [(DELTA, 0, (isz, signed, chunk_bytes, 0)), (SHUFFLE, 0, (isz,)), (ZSTD, 0, (7, MARKER, chunk_bytes, 0))]
                    check(got == want, "%s: pipeline %r, expected %r" % (name, got, want))
                    cases.append((name, a))

        # ---- empty datasets (no chunk is ever written) and a later resize ---------------------
        for fid, cd, dt in ((ZSTD, (3,), "f8"), (DELTA, (), "i8")):
            name = "empty_%d" % fid
            make_dataset(f, name, np.zeros(0, dt), (10,), [(fid, cd)], maxshape=(None,))
            cases.append((name, np.zeros(0, dt)))
            name = "grown_%d" % fid
            ds = make_dataset(f, name, np.zeros(0, dt), (10,), [(fid, cd)], maxshape=(None,))
            ds.resize((25,))
            grown = np.arange(25).astype(dt)
            ds[:] = grown
            cases.append((name, grown))
        ds = make_dataset(f, "empty_2d", np.zeros((0, 4), "u2"), (3, 4), [(DELTA, ()), (ZSTD, ())],
                          maxshape=(None, 4))
        cases.append(("empty_2d", np.zeros((0, 4), "u2")))

    # ---- read everything back in a fresh handle ---------------------------------------------
    with h5py.File(path, "r") as f:
        for name, a in cases:
            got = f[name][...]
            check(same(got, a), "%s: values read back differ from those written" % name)
            if name.startswith("zstd_") and name != "zstd_h5py_default":
                check_zstd_chunks(f[name], a, f[name].chunks, name)
            if name.startswith("delta_"):
                ds = f[name]
                for off in chunk_items(a.shape, ds.chunks):
                    _, raw = ds.id.read_direct_chunk(off)
                    want = numcodecs.Delta(dtype=a.dtype.str).encode(padded_chunk(a, off, ds.chunks))
                    check(raw == bytes(want), "%s: chunk %s differs from numcodecs Delta's bytes" % (name, off))
        # partial reads across chunk boundaries
        a = dict(cases)["dsz_i8_edge_sorted"]
        check(same(f["dsz_i8_edge_sorted"][100:700:3], a[100:700:3]), "strided partial read of dsz_i8_edge_sorted")
        a = dict(cases)["zstd_f8_twod"]
        check(same(f["zstd_f8_twod"][5:30, 3:17], a[5:30, 3:17]), "2-D partial read of zstd_f8_twod")
    print("round trips: %d datasets (zstd: %d dtypes x %d layouts; delta and delta+shuffle+zstd: %d dtypes)"
          % (len(cases), len(INT_DTYPES + FLOAT_DTYPES), len(layouts), len(INT_DTYPES)))

    check_rejections(tmp)
    check_corrupt_chunks(tmp)
    if not FAILURES:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("files kept in", tmp)


def check_rejections(tmp):
    path = os.path.join(tmp, "reject.h5")
    with h5py.File(path, "w") as f:
        for dt, words in (("f4", ["only integer datasets", "floating-point"]),
                          ("f8", ["only integer datasets", "floating-point"]),
                          ("S5", ["only integer datasets", "string"]),
                          (">i4", ["little-endian"]),
                          ([("a", "i4"), ("b", "f8")], ["only integer datasets", "compound"])):
            try:
                f.create_dataset("x%s" % len(f), data=np.zeros(10, dt), chunks=(5,), compression=DELTA)
                check(False, "delta on %s: dataset creation did not fail" % (dt,))
            except ValueError as e:
                msg = str(e)
                ok = "lstar delta filter (56855)" in msg and all(w in msg for w in words)
                check(ok, "delta on %s: message %r lacks the filter name or %r" % (dt, msg, words))
        for level in (23, -200000):
            try:
                f.create_dataset("lvl%d" % len(f), data=np.zeros(10, "i4"), chunks=(5,), compression=ZSTD,
                                 compression_opts=(level & 0xFFFFFFFF,))
                check(False, "zstd level %d: dataset creation did not fail" % level)
            except ValueError as e:
                check("lstar zstd filter (32015)" in str(e) and "compression level %d" % level in str(e),
                      "zstd level %d: message %r" % (level, str(e)))
    # The same rejection on the HDF5 error stack as HDF5 prints it (h5py silences it by default).
    code = (
        "import h5py, h5py._errors, numpy as np\n"
        "h5py._errors.unsilence_errors()\n"
        "f = h5py.File(%r, 'w')\n"
        "try:\n"
        "    f.create_dataset('x', data=np.zeros(4, 'f4'), chunks=(2,), compression=%d)\n"
        "except ValueError:\n"
        "    pass\n" % (os.path.join(tmp, "stack.h5"), DELTA))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    check(r.returncode == 0, "error-stack subprocess exit %d: %s" % (r.returncode, r.stderr[-500:]))
    check("lstar delta filter (56855): only integer datasets can be delta-coded" in r.stderr
          and "major: Data filters" in r.stderr,
          "printed HDF5 error stack lacks the delta filter's record: %r" % r.stderr[-2000:])
    print("rejections: delta on float/string/big-endian/compound and bad zstd levels fail with the filter's message")


CORRUPT_SCRIPT = r"""
import sys, h5py, numpy as np, zstandard
path, case = sys.argv[1], sys.argv[2]

def rle_bomb(total):
    # A valid zstd frame of RLE blocks (4 bytes per 128 KiB) that really decodes to `total` zero bytes.
    out = bytearray(bytes.fromhex('28b52ffd') + bytes([0xC0, 0x38]) + total.to_bytes(8, 'little'))
    n = total >> 17
    for i in range(n):
        out += ((1 if i == n - 1 else 0) | (1 << 1) | (1 << 17 << 3)).to_bytes(3, 'little') + b'\0'
    return bytes(out)
a = np.arange(1000, dtype='<i4') * 7
with h5py.File(path, 'w') as f:
    d = f.create_dataset('z', data=a, chunks=(250,), compression=32015)
    good = d.id.read_direct_chunk((0,))[1]
    if case == 'magic':
        bad = b'\x00' + good[1:]
    elif case == 'truncated':
        bad = good[:len(good) // 2]
    elif case == 'one_byte':
        bad = b'\x28'
    elif case == 'wrong_size':   # a valid frame of another size than the chunk
        bad = zstandard.ZstdCompressor().compress(np.arange(300, dtype='<i4').tobytes())
    elif case == 'no_size_too_long':   # frame without a content size that decodes past the chunk
        bad = zstandard.ZstdCompressor(write_content_size=False).compress(bytes(1001))
    elif case == 'huge_declared':  # frame header declaring 3 GiB, then nothing useful
        bad = bytes.fromhex('28b52ffd') + bytes([0xa0]) + (3 << 30).to_bytes(4, 'little') + bytes(20)
    elif case == 'bomb':           # a valid frame that decodes to 3 GiB
        bad = rle_bomb(3 << 30)
    elif case == 'two_frames':
        half = a[:250].tobytes()
        c = zstandard.ZstdCompressor()
        bad = c.compress(half[:500]) + c.compress(half[500:])
    elif case == 'flipped_middle':
        bad = bytearray(good)
        for i in range(8, len(bad), 5):
            bad[i] ^= 0xA5
        bad = bytes(bad)
    d.id.write_direct_chunk((0,), bad)
with h5py.File(path, 'r') as f:
    d = f['z']
    ok = (d[250:] == a[250:]).all()          # the other chunks still read
    try:
        v = d[:250]
        print('READ', 'equal' if (v == a[:250]).all() else 'different', ok)
    except OSError as e:
        print('OSERROR', ok, e)
"""


DELTA_SHORT_SCRIPT = r"""
import sys, h5py, numpy as np
path, case = sys.argv[1], sys.argv[2]
a = np.arange(1000, dtype='<i4')
with h5py.File(path, 'w') as f:
    d = f.create_dataset('d', data=a, chunks=(250,), compression=56855)
    bad = {'short': bytes(8), 'odd': bytes(3), 'long': bytes(1004)}[case]
    d.id.write_direct_chunk((0,), bad)
with h5py.File(path, 'r') as f:
    try:
        f['d'][:250]
        print('READ')
    except OSError as e:
        print('OSERROR', e)
"""


def check_corrupt_chunks(tmp):
    """Each case runs in its own process so that a crash shows up as a signal, not a dead test."""
    script = os.path.join(tmp, "corrupt.py")
    with open(script, "w") as fh:
        fh.write(CORRUPT_SCRIPT)
    must_fail = {
        "magic": "zstd",
        "truncated": "zstd",
        "one_byte": "zstd",
        "wrong_size": "1200",
        "no_size_too_long": "zstd",
        "huge_declared": "zstd",
        "bomb": "3221225472",
    }
    for case in list(must_fail) + ["two_frames", "flipped_middle"]:
        r = subprocess.run([sys.executable, script, os.path.join(tmp, "corrupt_%s.h5" % case), case],
                           capture_output=True, text=True, env=os.environ)
        out = r.stdout.strip()
        check(r.returncode == 0, "corrupt chunk '%s': reader exited with %d (crash?): %s %s"
              % (case, r.returncode, out, r.stderr[-800:]))
        if case in must_fail:
            check(out.startswith("OSERROR True") and "lstar zstd filter (32015)" in out and must_fail[case] in out,
                  "corrupt chunk '%s': expected an OSError from the zstd filter, got %r" % (case, out))
        elif case == "two_frames":
            # two concatenated frames that together make exactly the chunk decode correctly
            check(out.startswith("READ equal True"), "two-frame chunk: got %r" % out)
        else:
            # without a checksum a damaged frame may still decode: it must fail or read, never crash
            check(out.startswith("OSERROR True") or out.startswith("READ"), "flipped chunk: got %r" % out)
        print("corrupt chunk %-17s -> %s" % (case, out[:160]))
    # delta alone: a stored chunk of the wrong size must not reach HDF5 (which would read past it)
    script = os.path.join(tmp, "delta_short.py")
    with open(script, "w") as fh:
        fh.write(DELTA_SHORT_SCRIPT)
    for case, words in (("short", "the chunk has 8 bytes, the dataset's chunks have 1000"),
                        ("odd", "the chunk has 3 bytes"), ("long", "the chunk has 1004 bytes")):
        r = subprocess.run([sys.executable, script, os.path.join(tmp, "delta_%s.h5" % case), case],
                           capture_output=True, text=True, env=os.environ)
        out = r.stdout.strip()
        check(r.returncode == 0 and out.startswith("OSERROR") and "lstar delta filter (56855)" in out and words in out,
              "delta chunk '%s': expected an OSError with %r, got %r (rc %d)" % (case, words, out, r.returncode))
        print("delta chunk %-19s -> %s" % (case, out[:160]))


if __name__ == "__main__":
    main()
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
