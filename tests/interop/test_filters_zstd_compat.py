#!/usr/bin/python3
"""Interchange between lstar's zstd plugin (32015) and the widely used third-party zstd filter.

The third party is stood in for by a test-only plugin built from filters/zstd/test/ into
$LSTAR_BUILD/filters/test-plugins/zstd-reference: it behaves like the HDF Group's H5Zzstd (used by
hdf5plugin too): cd_values = [level] only, one ZSTD_compress() frame per chunk, decoded into a
buffer sized from the frame header.  Each side runs in its own process with only its plugin on
HDF5_PLUGIN_PATH (both register id 32015).

Checks: files the reference writes (cd_values [level]) read through lstar's plugin with the same
values (h5py and h5dump); files lstar writes (cd_values [level, marker, size lo, size hi]) read
through the reference; hostile chunks in a reference-layout dataset (no recorded size: the bound is
HDF5's chunk limit and the codec's cap) fail cleanly and fast, without allocating — valid frames
that decode to 3 and 5 GiB, a header declaring 3 GiB, a truncated frame, garbage — and a
frame without a content size still decodes.

Environment: LSTAR_BUILD.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("LSTAR_BUILD")
if not BUILD:
    sys.exit("LSTAR_BUILD is not set")
OURS = os.path.join(BUILD, "filters", "plugins")
REF = os.path.join(BUILD, "filters", "test-plugins", "zstd-reference")
for d, lib in ((OURS, "liblstar_h5z_zstd.so"), (REF, "libh5z_zstd_reference.so")):
    if not os.path.exists(os.path.join(d, lib)):
        sys.exit("missing plugin %s in %s" % (lib, d))

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


WRITER = r"""
import sys, json, h5py, numpy as np
path, level = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(11)
out = {}
with h5py.File(path, 'w') as f:
    for name, a, chunks in (
        ('ints', np.arange(-3000, 7000, 3, dtype='<i4'), (1000,)),
        ('floats', (rng.standard_normal((33, 17)) * 1e6).astype('<f8'), (8, 8)),
        ('bytes', rng.integers(0, 256, 777, dtype='u1'), (100,)),
        ('one', np.array([123456789012], dtype='<i8'), (1,)),
    ):
        d = f.create_dataset(name, data=a, chunks=chunks, compression=32015, compression_opts=(level,))
        p = d.id.get_create_plist()
        out[name] = {'cd': list(p.get_filter(0)[2]), 'filter': p.get_filter(0)[3].decode(),
                     'sum': float(np.asarray(a, dtype='f8').sum()), 'n': int(a.size)}
print(json.dumps(out))
"""

READER = r"""
import sys, json, h5py, numpy as np
path = sys.argv[1]
rng = np.random.default_rng(11)
want = {
    'ints': np.arange(-3000, 7000, 3, dtype='<i4'),
    'floats': (rng.standard_normal((33, 17)) * 1e6).astype('<f8'),
    'bytes': rng.integers(0, 256, 777, dtype='u1'),
    'one': np.array([123456789012], dtype='<i8'),
}
res = {}
with h5py.File(path, 'r') as f:
    for name, a in want.items():
        try:
            res[name] = bool(np.array_equal(f[name][()], a))
        except OSError as e:
            res[name] = 'OSError: %s' % e
print(json.dumps(res))
"""

HOSTILE = r"""
import sys, h5py, numpy as np, zstandard
path, case = sys.argv[1], sys.argv[2]

def rle_bomb(total):
    # A valid zstd frame of RLE blocks (4 bytes per 128 KiB) that really decodes to `total` zero bytes.
    out = bytearray(bytes.fromhex('28b52ffd') + bytes([0xC0, 0x38]) + total.to_bytes(8, 'little'))
    n = total >> 17
    for i in range(n):
        out += ((1 if i == n - 1 else 0) | (1 << 1) | (1 << 17 << 3)).to_bytes(3, 'little') + b'\0'
    return bytes(out)
with h5py.File(path, 'a') as f:
    d = f['ints']                      # 1000-element int32 chunks: 4000 bytes
    good = d.id.read_direct_chunk((0,))[1]
    if case == 'bomb_3GiB':          # valid frame, 3 GiB of content: above the decode cap
        bad = rle_bomb(3 << 30)
    elif case == 'bomb_5GiB':        # beyond HDF5's 4 GiB - 1 chunk limit
        bad = rle_bomb(5 << 30)
    elif case == 'header_3GiB':      # a header declaring 3 GiB, followed by nothing valid
        bad = bytes.fromhex('28b52ffd') + bytes([0xa0]) + (3 << 30).to_bytes(4, 'little') + bytes(40)
    elif case == 'truncated':
        bad = good[:len(good) - 7]
    elif case == 'garbage':
        bad = bytes(range(256)) * 3
    elif case == 'empty_frame':      # a valid frame of 0 bytes
        bad = zstandard.ZstdCompressor().compress(b'')
    elif case == 'no_content_size':  # valid data, frame header without the size
        bad = zstandard.ZstdCompressor(write_content_size=False).compress(np.arange(-3000, 0, 3, dtype='<i4').tobytes())
    d.id.write_direct_chunk((0,), bad)
with h5py.File(path, 'r') as f:
    try:
        v = f['ints'][:1000]
        print('READ', bool(np.array_equal(v, np.arange(-3000, 0, 3, dtype='<i4'))))
    except OSError as e:
        print('OSERROR', e)
"""


def py(plugin_dir, script, *args):
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = plugin_dir
    return subprocess.run([sys.executable, "-c", script] + list(args), capture_output=True, text=True, env=env)


def main():
    tmp = tempfile.mkdtemp(prefix="lstar_filters_compat_")
    ref_file = os.path.join(tmp, "written_by_reference.h5")
    our_file = os.path.join(tmp, "written_by_lstar.h5")

    r = py(REF, WRITER, ref_file, "4")
    check(r.returncode == 0, "reference writer failed: %s" % r.stderr[-800:])
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    for name, d in info.items():
        check(d["cd"] == [4] and d["filter"] == "zstd (reference test filter)",
              "reference-written %s: pipeline %r (expected the reference filter with cd_values [4])" % (name, d))
    r = py(OURS, WRITER, our_file, "4")
    check(r.returncode == 0, "lstar writer failed: %s" % r.stderr[-800:])
    info = json.loads(r.stdout) if r.returncode == 0 else {}
    for name, d in info.items():
        check(d["cd"][:2] == [4, 0x4C535A31] and len(d["cd"]) == 4 and d["filter"] == "zstd (lstar)",
              "lstar-written %s: pipeline %r" % (name, d))

    for writer, path in (("reference", ref_file), ("lstar", our_file)):
        for reader, plugins in (("lstar", OURS), ("reference", REF)):
            r = py(plugins, READER, path)
            res = json.loads(r.stdout) if r.returncode == 0 else {"process": r.stderr[-500:]}
            check(all(v is True for v in res.values()) and len(res) == 4,
                  "written by %s, read by %s: %r" % (writer, reader, res))
            print("written by %-9s read by %-9s: %s" % (writer, reader, res))

    # h5dump through lstar's plugin prints the reference-written values
    env = dict(os.environ)
    env["HDF5_PLUGIN_PATH"] = OURS
    r = subprocess.run(["h5dump", "-w", "0", "-d", "/ints", "-s", "0", "-c", "5", ref_file], capture_output=True,
                       text=True, env=env)
    check("(0): -3000, -2997, -2994, -2991, -2988" in r.stdout,
          "h5dump (lstar plugin) of reference-written /ints: %r" % r.stdout[-400:])

    # hostile chunks in the reference layout (no recorded size)
    expect = {
        "bomb_3GiB": "OSERROR",
        "bomb_5GiB": "OSERROR",
        "header_3GiB": "OSERROR",
        "truncated": "OSERROR",
        "garbage": "OSERROR",
        "empty_frame": "OSERROR",
        "no_content_size": "READ True",
    }
    for case, want in expect.items():
        path = os.path.join(tmp, "hostile_%s.h5" % case)
        shutil.copy(ref_file, path)
        r = py(OURS, HOSTILE, path, case)
        out = r.stdout.strip()
        check(r.returncode == 0, "hostile '%s': reader exited %d (crash?) %s" % (case, r.returncode, r.stderr[-500:]))
        ok = out.startswith(want) and (want != "OSERROR" or "lstar zstd filter (32015)" in out)
        check(ok, "hostile '%s' (reference layout) read by lstar: expected %s, got %r" % (case, want, out))
        print("hostile chunk %-16s -> %s" % (case, out[:170]))
    if not FAILURES:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    print("%d checks, %d failures" % (CHECKS[0], len(FAILURES)))
    sys.exit(1 if FAILURES else 0)
