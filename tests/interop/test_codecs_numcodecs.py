"""Interop: lstar codecs against numcodecs 0.11, Python's gzip/zlib, python-zstandard and HDF5 (h5py).

For every codec and several dtypes: numcodecs-encoded bytes must decode with lstar to the original bytes,
and lstar-encoded bytes must decode with numcodecs to the original bytes.  Checksums that numcodecs 0.11
lacks (crc32c, fletcher32) are compared with a Python CRC-32C and with HDF5's own fletcher32 filter.
Run with /usr/bin/python3; LSTAR_HELPERS points at the helper programs.
"""
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import numcodecs
from numcodecs import Blosc, Delta, GZip, LZ4, Shuffle, Zlib, Zstd

HELPER = os.path.join(os.environ.get("LSTAR_HELPERS", ""), "lstar_test_codec")
checked = 0
failures = []


def run(mode, config, dtype, data, num=None):
    args = [HELPER, mode, json.dumps(config) if not isinstance(config, str) else config, dtype]
    if num is not None:
        args.append(str(num))
    p = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s %s: exit %d: %s" % (mode, args[2], p.returncode, p.stderr.decode().strip()))
    return p.stdout


def check(cond, what):
    global checked
    checked += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


V3_NAMES = {"int8": "|i1", "uint8": "|u1"}


def make_array(dtype, n, rng):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        walk = np.cumsum(rng.integers(-3, 4, size=n)) + (int(info.max) // 2 if dt.kind == "u" else 0)
        a = (walk % (int(info.max) - int(info.min) + 1) + int(info.min)).astype(dt)
        if n > 10:  # include the extremes so delta wraps around
            a[3] = info.max
            a[4] = info.min
        return a
    return (np.round(rng.normal(0, 100, size=n) * 4) / 4).astype(dt)


def lstar_dtype_name(dt):
    return np.dtype(dt).name


def both_ways(codec, arr, label, decode_expected_only=False):
    """numcodecs -> lstar decode, lstar encode -> numcodecs decode."""
    raw = arr.tobytes()
    cfg = codec.get_config()
    dname = lstar_dtype_name(arr.dtype)
    theirs = bytes(codec.encode(arr))
    ours_dec = run("decode", cfg, dname, theirs, len(raw))
    check(ours_dec == raw, "%s: lstar decodes numcodecs bytes (known size)" % label)
    if not decode_expected_only:
        ours_dec2 = run("decode", cfg, dname, theirs)
        check(ours_dec2 == raw, "%s: lstar decodes numcodecs bytes (unknown size)" % label)
    ours = run("encode", cfg, dname, raw, arr.itemsize)
    back = np.frombuffer(bytes(numcodecs.get_codec(cfg).decode(ours)), dtype=np.uint8).tobytes() if len(raw) else b""
    check(back == raw, "%s: numcodecs decodes lstar bytes" % label)
    return theirs, ours


def main():
    if not os.access(HELPER, os.X_OK):
        print("helper not found:", HELPER)
        return 1
    rng = np.random.default_rng(20240607)
    dtypes = ["uint8", "int16", "int32", "int64", "float32", "float64"]
    sizes = [1, 7, 20000]
    blosc_cnames = []
    for cname in Blosc.list_compressors() if hasattr(Blosc, "list_compressors") else numcodecs.blosc.list_compressors():
        try:
            run("tojson", {"id": "blosc", "cname": cname}, "none", b"", 2)
            blosc_cnames.append(cname)
        except RuntimeError as e:
            print("note: blosc compressor %s not available in lstar's libblosc (%s)" % (cname, e))
    check(set(["blosclz", "lz4", "lz4hc", "zlib", "zstd"]) <= set(blosc_cnames), "blosc compressors present")

    for dtype in dtypes:
        for n in sizes:
            arr = make_array(dtype, n, rng)
            tag = "%s[%d]" % (dtype, n)
            for codec in (Zlib(1), Zlib(9), GZip(1), GZip(9), Zstd(1), Zstd(7), LZ4(1), LZ4(8),
                          Shuffle(elementsize=arr.itemsize)):
                both_ways(codec, arr, "%s %s" % (tag, codec))
            shuffles = [Blosc.NOSHUFFLE, Blosc.SHUFFLE, Blosc.BITSHUFFLE, Blosc.AUTOSHUFFLE]
            for cname in blosc_cnames:
                for sh in shuffles if n == 20000 else shuffles[1:2]:
                    both_ways(Blosc(cname=cname, clevel=5, shuffle=sh), arr, "%s blosc %s/%d" % (tag, cname, sh))
            # Delta: our encoded bytes must equal numcodecs' exactly; decodes must agree bit for bit.
            d = Delta(dtype=arr.dtype)
            cfg = d.get_config()
            theirs = bytes(d.encode(arr))
            ours = run("encode", cfg, lstar_dtype_name(arr.dtype), arr.tobytes())
            check(ours == theirs, "%s delta: encoded bytes identical" % tag)
            ref = np.asarray(d.decode(theirs)).tobytes()
            check(run("decode", cfg, lstar_dtype_name(arr.dtype), theirs, len(ref)) == ref,
                  "%s delta: decode identical" % tag)

    # Delta with an integer astype different from dtype (narrowing, widening, signedness changes)
    for dt, at in (("<i2", "|i1"), ("<i8", "<i2"), ("|u1", "<i8"), ("<u2", "|i1"), ("<i4", "<u4"),
                   ("<u8", "<u4"), ("|i1", "<u2")):
        a = make_array(np.dtype(dt).name, 3000, rng)
        d = Delta(dtype=dt, astype=at)
        theirs = bytes(d.encode(a))
        ours = run("encode", d.get_config(), np.dtype(dt).name, a.tobytes())
        check(ours == theirs, "delta %s->%s: encoded bytes identical" % (dt, at))
        ref = np.asarray(d.decode(theirs)).tobytes()
        check(run("decode", d.get_config(), np.dtype(dt).name, theirs, len(ref)) == ref,
              "delta %s->%s: decode identical (known size)" % (dt, at))
        check(run("decode", d.get_config(), np.dtype(dt).name, theirs) == ref,
              "delta %s->%s: decode identical (unknown size)" % (dt, at))

    # float16 delta (numpy half arithmetic) and its JSON spelling
    h = (rng.normal(0, 30, size=5000)).astype("<f2")
    h[10] = np.float16(65504)
    h[11] = np.float16(-65504)
    h[12] = np.float16(6e-8)
    d = Delta(dtype="<f2")
    theirs = bytes(d.encode(h))
    ours = run("encode", d.get_config(), "float16", h.tobytes())
    check(ours == theirs, "float16 delta: encoded bytes identical")
    ref = np.asarray(d.decode(theirs)).tobytes()
    check(run("decode", d.get_config(), "float16", theirs, len(ref)) == ref, "float16 delta: decode identical")

    # Empty chunk through the deflate/zstd family
    for codec in (Zlib(1), GZip(1), Zstd(1)):
        empty = np.zeros(0, dtype="u1")
        theirs = bytes(codec.encode(empty))
        check(run("decode", codec.get_config(), "uint8", theirs) == b"", "empty %s decodes" % codec)

    # v3 spellings decode numcodecs bytes the same way
    arr = make_array("int32", 5000, rng)
    raw = arr.tobytes()
    enc = bytes(Blosc(cname="zstd", clevel=3, shuffle=Blosc.BITSHUFFLE).encode(arr))
    v3 = {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": "bitshuffle",
                                              "typesize": 4, "blocksize": 0}}
    check(run("decode", v3, "int32", enc, len(raw)) == raw, "v3 blosc config decodes numcodecs blosc")
    enc = bytes(GZip(5).encode(arr))
    check(run("decode", {"name": "gzip", "configuration": {"level": 5}}, "int32", enc, len(raw)) == raw,
          "v3 gzip config decodes numcodecs gzip")
    enc = bytes(Zlib(5).encode(arr))
    check(run("decode", {"name": "numcodecs.zlib", "configuration": {"level": 5}}, "int32", enc, len(raw)) == raw,
          "v3 numcodecs.zlib decodes numcodecs zlib")

    # numcodecs can instantiate what we write as v2 JSON
    for cfg in ({"id": "zstd", "level": 3}, {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
                {"id": "zlib", "level": 4}, {"id": "gzip", "level": 2}, {"id": "lz4", "acceleration": 2},
                {"id": "shuffle", "elementsize": 8}, {"id": "delta", "dtype": "<i4"}):
        text = run("tojson", cfg, "int32", b"", 2).decode().strip()
        codec = numcodecs.get_codec(json.loads(text))
        check(codec.get_config()["id"] == cfg["id"], "numcodecs accepts our v2 JSON %s" % text)

    # gzip written by Python's gzip module with a file name and mtime (FNAME flag), multi-member
    buf = io.BytesIO()
    with gzip.GzipFile(filename="chunk.bin", mode="wb", fileobj=buf, mtime=1234567890) as g:
        g.write(raw[:7000])
    member2 = gzip.compress(raw[7000:], compresslevel=9)
    stream = buf.getvalue() + member2
    check(buf.getvalue()[3] & 0x08, "python gzip wrote an FNAME header")
    check(run("decode", {"id": "gzip"}, "int32", stream, len(raw)) == raw, "multi-member python gzip (known size)")
    check(run("decode", {"id": "gzip"}, "int32", stream) == raw, "multi-member python gzip (unknown size)")
    ours = run("encode", {"id": "gzip", "level": 6}, "int32", raw)
    check(gzip.decompress(ours) == raw, "python gzip decodes our gzip")
    ours = run("encode", {"id": "zlib", "level": 6}, "int32", raw)
    check(zlib.decompress(ours) == raw, "python zlib decodes our zlib")

    # zstd frames without a content size and concatenated frames (python-zstandard)
    try:
        import zstandard
        f1 = zstandard.ZstdCompressor(write_content_size=False).compress(raw[:6000])
        f2 = zstandard.ZstdCompressor(level=5).compress(raw[6000:])
        check(run("decode", {"id": "zstd"}, "int32", f1 + f2, len(raw)) == raw, "zstd unsized+sized frames (known)")
        check(run("decode", {"id": "zstd"}, "int32", f1 + f2) == raw, "zstd unsized+sized frames (unknown)")
        ours = run("encode", {"id": "zstd", "level": 3, "checksum": True}, "int32", raw)
        params = zstandard.get_frame_parameters(ours)
        check(params.content_size == len(raw) and params.has_checksum, "our zstd frame has size and checksum")
        check(zstandard.ZstdDecompressor().decompress(ours) == raw, "python-zstandard decodes our zstd")
    except ImportError:
        print("note: python3-zstandard missing, zstd frame checks skipped")

    # CRC-32C (numcodecs 0.11 has none): compare with a bitwise Python implementation
    def crc32c_py(b):
        c = 0xFFFFFFFF
        for x in b:
            c ^= x
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        return c ^ 0xFFFFFFFF
    check(crc32c_py(b"123456789") == 0xE3069283, "python crc32c reference")
    for n in (0, 1, 3, 8, 1001, 4099):
        b = bytes(rng.integers(0, 256, size=n, dtype=np.uint8))
        ours = run("encode", {"name": "crc32c"}, "none", b)
        check(ours == b + struct.pack("<I", crc32c_py(b)), "crc32c of %d bytes appended little-endian" % n)
        check(run("decode", {"name": "crc32c"}, "none", b + struct.pack("<I", crc32c_py(b)), n) == b,
              "crc32c decode of %d bytes" % n)

    # HDF5 filters via h5py: fletcher32, shuffle and deflate chunks are our fletcher32/shuffle/zlib bytes
    try:
        import h5py
    except ImportError:
        h5py = None
        print("note: h5py missing, HDF5 filter checks skipped")
    if h5py is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "f.h5")
            for dtype in ("uint8", "int16", "float32", "float64"):
                for n in (1, 5, 1001):
                    a = make_array(dtype, n, rng)
                    with h5py.File(path, "w") as f:
                        f.create_dataset("c", data=a, chunks=(n,), fletcher32=True)
                        f.create_dataset("s", data=a, chunks=(n,), shuffle=True)
                        f.create_dataset("z", data=a, chunks=(n,), compression="gzip", compression_opts=6)
                    with h5py.File(path, "r") as f:
                        _, c = f["c"].id.read_direct_chunk((0,))
                        _, s = f["s"].id.read_direct_chunk((0,))
                        _, z = f["z"].id.read_direct_chunk((0,))
                    raw = a.tobytes()
                    tag = "%s[%d]" % (dtype, n)
                    check(run("encode", {"id": "fletcher32"}, dtype, raw) == bytes(c),
                          "%s: our fletcher32 equals HDF5's chunk" % tag)
                    check(run("decode", {"id": "fletcher32"}, dtype, bytes(c), len(raw)) == raw,
                          "%s: HDF5 fletcher32 chunk verifies" % tag)
                    check(run("encode", {"id": "shuffle", "elementsize": a.itemsize}, dtype, raw) == bytes(s),
                          "%s: our shuffle equals HDF5's chunk" % tag)
                    check(run("decode", {"id": "shuffle", "elementsize": a.itemsize}, dtype, bytes(s), len(raw)) == raw,
                          "%s: HDF5 shuffle chunk unshuffles" % tag)
                    check(run("decode", {"id": "zlib"}, dtype, bytes(z), len(raw)) == raw,
                          "%s: HDF5 deflate chunk decodes as zlib" % tag)

    print("checked %d properties, %d failures" % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    with np.errstate(over="ignore", invalid="ignore"):  # wrap-around and inf deltas are tested on purpose
        sys.exit(main())
