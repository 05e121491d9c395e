#!/usr/bin/python3
"""Write the seed inputs of tests/fuzz/corpus/<target>/ (docs/internals/fuzzing.md).

Run from anywhere with Debian's python3 (numcodecs 0.11, numpy):
    /usr/bin/python3 tests/fuzz/gen_corpus.py [--shared ../shared/data]
Seeds are named seed-*; inputs found by fuzzing (crash-*, regress-*) are added by
hand and never rewritten here.  Every seed is small (well below 64 KiB).
"""
import argparse
import gzip
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import numcodecs

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def records(objs):
    """The record stream of fuzz_common.h: [u8 klen][key][u32 len][value]..."""
    out = bytearray()
    for k, v in objs:
        kb = k.encode()
        out += bytes([len(kb)]) + kb + struct.pack("<I", len(v)) + v
    return bytes(out)


def read_tree(root):
    objs = []
    for dp, dn, fn in os.walk(root):
        dn.sort()
        for f in sorted(fn):
            p = os.path.join(dp, f)
            objs.append((os.path.relpath(p, root).replace(os.sep, "/"), open(p, "rb").read()))
    return objs


# ---- checksums we compute ourselves (numcodecs 0.11 has neither) ----------------------------

def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def fletcher32(data):
    s1 = s2 = 0
    n = len(data)
    words = [(data[i] << 8) | data[i + 1] for i in range(0, n - n % 2, 2)]
    if n % 2:
        words.append(data[-1] << 8)
    for w in words:  # folding every 360 words gives the same final value modulo 65535
        s1 = (s1 + w) % 65535
        s2 = (s2 + s1) % 65535
    return (s2 << 16) | s1


def vlen_utf8(items):
    out = struct.pack("<I", len(items))
    for s in items:
        b = s.encode()
        out += struct.pack("<I", len(b)) + b
    return out


# ---- codecs ---------------------------------------------------------------------------------

def codec_input(mode, sel, expected, payload):
    return bytes([(sel << 2) | mode]) + struct.pack("<I", expected)[:3] + payload


def gen_codecs():
    raw = np.arange(300, dtype="<i4").tobytes()
    text = b"lstar " * 50
    empty = b""
    enc = {
        "zlib": lambda b: zlib.compress(b, 1),
        "gzip": lambda b: gzip.compress(b, 1, mtime=0),
        "zstd": lambda b: numcodecs.Zstd(3).encode(b),
        "blosc": lambda b: numcodecs.Blosc("lz4", 5, 1, 0).encode(np.frombuffer(b, "u1")),
        "lz4": lambda b: numcodecs.LZ4().encode(b),
        "crc32c": lambda b: b + struct.pack("<I", crc32c(b)),
        "fletcher32": lambda b: b + struct.pack("<I", fletcher32(b)),
    }
    for name, f in enc.items():
        t = "codec_" + name
        for label, payload in (("ints", raw), ("text", text), ("empty", empty)):
            e = bytes(f(payload))
            put(t, f"{label}-exact", codec_input(0, 0, len(payload), e))
            put(t, f"{label}-unknown", codec_input(1, 0, 0, e))
            put(t, f"{label}-into", codec_input(2, 0, len(payload), e))
            put(t, f"{label}-wrongsize", codec_input(0, 0, len(payload) + 1, e))
            if len(e) > 8:
                put(t, f"{label}-truncated", codec_input(1, 0, 0, e[: len(e) // 2]))
                flipped = bytearray(e)
                flipped[len(e) // 2] ^= 0x40
                put(t, f"{label}-flipped", codec_input(1, 0, 0, bytes(flipped)))
        put(t, "roundtrip", codec_input(3, 0, 0, text))
        put(t, "garbage", codec_input(1, 0, 0, bytes(range(256))))
    # framing variants the decoders accept
    put("codec_gzip", "two-members", codec_input(1, 0, 0, gzip.compress(b"ab", mtime=0) + gzip.compress(b"cd", mtime=0)))
    put("codec_gzip", "zero-padding", codec_input(1, 0, 0, gzip.compress(b"ab", mtime=0) + b"\0\0\0"))
    put("codec_zlib", "trailing", codec_input(1, 0, 0, zlib.compress(b"abc") + b"junk"))
    z = numcodecs.Zstd(1).encode(text)
    put("codec_zstd", "two-frames", codec_input(1, 0, 0, bytes(z) + bytes(z)))
    put("codec_zstd", "skippable", codec_input(1, 0, 0, b"\x50\x2a\x4d\x18\x04\x00\x00\x00abcd" + bytes(z)))
    # lying sizes
    lz = bytearray(numcodecs.LZ4().encode(text))
    lz[0:4] = struct.pack("<I", 0x7FFFFFFF)
    put("codec_lz4", "lying-prefix", codec_input(1, 0, 0, bytes(lz)))
    bl = bytearray(numcodecs.Blosc("zstd", 5, 2, 0).encode(np.frombuffer(raw, "u1")))
    bl[4:8] = struct.pack("<I", 0x7FFFFFF0)
    put("codec_blosc", "lying-nbytes", codec_input(1, 0, 0, bytes(bl)))
    put("codec_blosc", "memcpyed", codec_input(0, 0, len(text), bytes(numcodecs.Blosc("lz4", 0, 0).encode(np.frombuffer(text, "u1")))))
    for cname in ("zlib", "zstd", "blosclz", "lz4hc"):
        put("codec_blosc", "inner-" + cname,
            codec_input(1, 0, 0, bytes(numcodecs.Blosc(cname, 5, 1).encode(np.frombuffer(raw, "u1")))))
    # shuffle: selector = element size - 1
    for es in (1, 2, 4, 8, 16, 3):
        sh = bytes(numcodecs.Shuffle(es).encode(np.frombuffer(raw, "u1")))
        put("codec_shuffle", f"es{es}", codec_input(1, es - 1, 0, sh))
        put("codec_shuffle", f"es{es}-exact", codec_input(0, es - 1, len(raw), sh))
        put("codec_shuffle", f"es{es}-odd", codec_input(3, es - 1, 0, raw[:-1]))
    # delta: selector = dtype index (+ 11 * k for astype variants)
    types = ["<i1", "<i2", "<i4", "<i8", "<u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8"]
    for i, t in enumerate(types):
        arr = (np.arange(64) * 3).astype(t)
        d = bytes(numcodecs.Delta(t).encode(arr))
        put("codec_delta", f"{t[1:]}", codec_input(1, i, 0, d))
        put("codec_delta", f"{t[1:]}-exact", codec_input(0, i, len(d), d))
        put("codec_delta", f"{t[1:]}-roundtrip", codec_input(3, i, 0, arr.tobytes()))
    d = bytes(numcodecs.Delta("<i4", astype="<i2").encode(np.arange(64, dtype="<i4")))
    put("codec_delta", "i4-as-i2", codec_input(1, 2 + 11 * 1 + 11 * 0, 0, d))
    put("codec_delta", "partial-element", codec_input(1, 3, 0, b"\x01\x02\x03"))
    put("codec_crc32c", "bad-checksum", codec_input(1, 0, 0, b"abcd\0\0\0\0"))
    put("codec_crc32c", "short", codec_input(1, 0, 0, b"ab"))
    put("codec_fletcher32", "odd-length", codec_input(1, 0, 0, b"abc" + struct.pack("<I", fletcher32(b"abc"))))


# ---- zarr -----------------------------------------------------------------------------------

def zarr_input(meta, chunk):
    if not isinstance(meta, str):
        meta = json.dumps(meta)
    return meta.encode() + b"\0" + chunk


def gen_zarr(shared):
    golden = os.path.join(shared, "kharchenkolab_lstar/conformance/fixtures")
    # real metadata + chunk from the golden stores
    for fmt, root, mkey in ((2, "golden_v2.lstar.zarr", ".zarray"), (3, "golden_v3.lstar.zarr", "zarr.json")):
        base = os.path.join(golden, root)
        n = 0
        for dp, dn, fn in sorted(os.walk(base)):
            if mkey not in fn:
                continue
            meta = open(os.path.join(dp, mkey), "rb").read()
            if fmt == 3 and b'"array"' not in meta:
                continue
            chunks = sorted(f for f in fn if f not in (mkey, ".zattrs"))
            cdir = os.path.join(dp, "c")
            if fmt == 3 and os.path.isdir(cdir):
                for cdp, _, cfn in os.walk(cdir):
                    chunks += [os.path.relpath(os.path.join(cdp, f), dp) for f in cfn]
            chunk = b""
            for c in sorted(chunks):
                if all(ch.isdigit() or ch in "./c" for ch in c):
                    chunk = open(os.path.join(dp, c), "rb").read()
                    break
            if len(chunk) > 32768:
                continue
            name = os.path.relpath(dp, base).replace("/", "_")
            put(f"zarr_v{fmt}", "golden-" + name, meta + b"\0" + chunk)
            n += 1
    f8 = np.arange(12, dtype="<f8")
    put("zarr_v2", "zlib-2d", zarr_input({"zarr_format": 2, "shape": [3, 4], "chunks": [3, 4], "dtype": "<f8",
                                          "compressor": {"id": "zlib", "level": 1}, "fill_value": 0, "filters": None,
                                          "order": "C"}, zlib.compress(f8.tobytes())))
    put("zarr_v2", "F-order-be", zarr_input({"zarr_format": 2, "shape": [3, 4], "chunks": [2, 3], "dtype": ">i2",
                                             "compressor": None, "fill_value": 7, "filters": None, "order": "F"},
                                            np.arange(6, dtype=">i2").tobytes()))
    put("zarr_v2", "blosc-shuffle-slash", zarr_input(
        {"zarr_format": 2, "shape": [10], "chunks": [10], "dtype": "<u4", "dimension_separator": "/",
         "compressor": {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 1, "blocksize": 0},
         "fill_value": None, "filters": [{"id": "delta", "dtype": "<u4"}], "order": "C"},
        bytes(numcodecs.Blosc("zstd", 3, 1).encode(np.arange(10, dtype="<u4")))))
    put("zarr_v2", "vlen-strings", zarr_input({"zarr_format": 2, "shape": [3], "chunks": [3], "dtype": "|O",
                                               "compressor": None, "fill_value": None,
                                               "filters": [{"id": "vlen-utf8"}], "order": "C"},
                                              vlen_utf8(["a", "bc", "\u00e9"])))
    put("zarr_v2", "fixed-bytes", zarr_input({"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "|S3",
                                              "compressor": None, "fill_value": "", "filters": None, "order": "C"},
                                             b"ab\0xyz"))
    put("zarr_v2", "utf32", zarr_input({"zarr_format": 2, "shape": [2], "chunks": [2], "dtype": "<U2",
                                        "compressor": None, "fill_value": "", "filters": None, "order": "C"},
                                       "abc\0".encode("utf-32-le")))
    put("zarr_v2", "structured", zarr_input({"zarr_format": 2, "shape": [2], "chunks": [2],
                                             "dtype": [["a", "<i4"], ["b", "<f8"]], "compressor": None,
                                             "fill_value": None, "filters": None, "order": "C"}, bytes(24)))
    put("zarr_v2", "rank0", zarr_input({"zarr_format": 2, "shape": [], "chunks": [], "dtype": "<f4",
                                        "compressor": None, "fill_value": "NaN", "filters": None, "order": "C"},
                                       b"\0\0\x80\x3f"))
    put("zarr_v2", "bad-negative-shape", zarr_input({"zarr_format": 2, "shape": [-1], "chunks": [1], "dtype": "<f8",
                                                     "compressor": None, "fill_value": 0, "filters": None,
                                                     "order": "C"}, b""))
    put("zarr_v2", "bad-huge-chunk", zarr_input({"zarr_format": 2, "shape": [1 << 40], "chunks": [1 << 40],
                                                 "dtype": "<f8", "compressor": None, "fill_value": 0,
                                                 "filters": None, "order": "C"}, b""))
    put("zarr_v2", "bad-codec", zarr_input({"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<f8",
                                            "compressor": {"id": "bz2"}, "fill_value": 0, "filters": None,
                                            "order": "C"}, b""))
    put("zarr_v2", "bad-truncated-chunk", zarr_input({"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<f8",
                                                      "compressor": None, "fill_value": 0, "filters": None,
                                                      "order": "C"}, b"\1\2\3"))
    put("zarr_v2", "bad-json", b'{"zarr_format": 2, "shape": [4\0')
    v3 = {"zarr_format": 3, "node_type": "array", "shape": [6, 4], "data_type": "float32",
          "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
          "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}}, "fill_value": 0,
          "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                     {"name": "zstd", "configuration": {"level": 1, "checksum": False}}]}
    put("zarr_v3", "zstd", zarr_input(v3, bytes(numcodecs.Zstd(1).encode(np.arange(16, dtype="<f4").tobytes()))))
    t = dict(v3, codecs=[{"name": "transpose", "configuration": {"order": [1, 0]}},
                         {"name": "bytes", "configuration": {"endian": "big"}}, {"name": "crc32c"}])
    body = np.arange(16, dtype=">f4").tobytes()
    put("zarr_v3", "transpose-be-crc", zarr_input(t, body + struct.pack("<I", crc32c(body))))
    # one shard of 2x2 inner chunks of 2x2, index at the end (offset, nbytes) per chunk + crc32c
    inner = [np.full(4, i, dtype="<f4").tobytes() for i in range(4)]
    data = b"".join(inner)
    index = b"".join(struct.pack("<QQ", 16 * i, 16) for i in range(4))
    sh = dict(v3, shape=[4, 4], codecs=[{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
        "index_location": "end"}}])
    put("zarr_v3", "sharded", zarr_input(sh, data + index + struct.pack("<I", crc32c(index))))
    bad_index = b"".join(struct.pack("<QQ", 1 << 60, 1 << 40) for i in range(4))
    put("zarr_v3", "sharded-bad-index", zarr_input(sh, data + bad_index + struct.pack("<I", crc32c(bad_index))))
    put("zarr_v3", "string", zarr_input(dict(v3, shape=[3], data_type="string", fill_value="",
                                             chunk_grid={"name": "regular", "configuration": {"chunk_shape": [3]}},
                                             codecs=[{"name": "vlen-utf8"}]), vlen_utf8(["x", "", "yz"])))
    put("zarr_v3", "v2-key-encoding", zarr_input(dict(v3, chunk_key_encoding={"name": "v2", "configuration": {
        "separator": "."}}, codecs=[{"name": "bytes", "configuration": {"endian": "little"}}]), bytes(64)))
    put("zarr_v3", "bad-dtype", zarr_input(dict(v3, data_type="float128"), b""))
    put("zarr_v3", "bad-unknown-codec", zarr_input(dict(v3, codecs=[{"name": "bytes"}, {"name": "lzma"}]), b""))
    put("zarr_v3", "bad-node-type", zarr_input({"zarr_format": 3, "node_type": "group"}, b""))


def gen_vlen():
    for v3 in (0, 1):
        items = ["", "a", "hello", "\u00e9t\u00e9", "x" * 40]
        put("vlen_utf8", f"valid-v{2 + v3}", bytes([(v3 << 7) | len(items)]) + vlen_utf8(items))
        put("vlen_utf8", f"empty-v{2 + v3}", bytes([(v3 << 7) | 0]) + vlen_utf8([]))
        put("vlen_utf8", f"short-count-v{2 + v3}", bytes([(v3 << 7) | 5]) + vlen_utf8(items[:2]))
        put("vlen_utf8", f"lying-length-v{2 + v3}", bytes([(v3 << 7) | 2]) + struct.pack("<II", 2, 0xFFFFFFF0) + b"ab")
        put("vlen_utf8", f"huge-count-v{2 + v3}", bytes([(v3 << 7) | 3]) + struct.pack("<I", 0xFFFFFFFF))
        put("vlen_utf8", f"bad-utf8-v{2 + v3}", bytes([(v3 << 7) | 1]) + struct.pack("<II", 1, 2) + b"\xc3\x28")
        put("vlen_utf8", f"trailing-v{2 + v3}", bytes([(v3 << 7) | 1]) + vlen_utf8(["a"]) + b"junk")
        put("vlen_utf8", f"full-v{2 + v3}", bytes([(v3 << 7) | 127]) + vlen_utf8([str(i) for i in range(128)]))


def gen_zip(shared):
    def info(name, compression):
        zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed time: reproducible seeds
        zi.compress_type = compression
        return zi

    def mk(entries, compression):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", compression) as z:
            for k, v in entries:
                z.writestr(info(k, compression), v)
        return b.getvalue()
    store = [(".zgroup", b'{"zarr_format":2}'), ("a/.zarray", b'{"zarr_format":2}'), ("a/0", bytes(range(64)) * 4)]
    stored = mk(store, zipfile.ZIP_STORED)
    deflated = mk(store, zipfile.ZIP_DEFLATED)
    put("zip", "stored", stored)
    put("zip", "deflated", deflated)
    put("zip", "empty", mk([], zipfile.ZIP_STORED))
    put("zip", "truncated", deflated[: len(deflated) - 30])
    put("zip", "no-eocd", deflated[:-22])
    lying = bytearray(stored)
    eocd = lying.rfind(b"PK\x05\x06")
    lying[eocd + 16:eocd + 20] = struct.pack("<I", 0xFFFFFF00)  # central directory offset
    put("zip", "lying-cdir-offset", bytes(lying))
    lying = bytearray(stored)
    cd = lying.find(b"PK\x01\x02")
    lying[cd + 20:cd + 24] = struct.pack("<I", 0xFFFFFFF0)  # compressed size of the first entry
    put("zip", "lying-entry-size", bytes(lying))
    lying = bytearray(deflated)
    cd = lying.find(b"PK\x01\x02")
    lying[cd + 24:cd + 28] = struct.pack("<I", 0x7FFFFFFF)  # uncompressed size
    put("zip", "lying-uncompressed-size", bytes(lying))
    put("zip", "dotdot-name", mk([("../evil", b"x"), ("a//b", b"y"), ("/abs", b"z")], zipfile.ZIP_STORED))
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        with z.open(info("big", zipfile.ZIP_DEFLATED), "w", force_zip64=True) as f:
            f.write(b"0123456789" * 100)
    put("zip", "zip64", b.getvalue())


def gen_lstar_store(shared):
    golden = os.path.join(shared, "kharchenkolab_lstar/conformance/fixtures")
    for v in (2, 3):
        objs = read_tree(os.path.join(golden, f"golden_v{v}.lstar.zarr"))
        put("lstar_store", f"golden-v{v}", records(objs))
        meta_only = [(k, d) for k, d in objs if k.rsplit("/", 1)[-1] in (".zgroup", ".zattrs", ".zarray", "zarr.json")]
        put("lstar_store", f"golden-v{v}-metadata-only", records(meta_only))
        # no consolidated metadata, root attribute variants
        rootkey = ".zattrs" if v == 2 else "zarr.json"
        root = dict(objs)[rootkey]
        doc = json.loads(root)
        l = doc["lstar"] if v == 2 else doc["attributes"]["lstar"]
        for label, edit in (("no-fields", lambda x: x.update(fields=[])),
                            ("unknown-field", lambda x: x["fields"].append("nope")),
                            ("bad-spec-version", lambda x: x.update(spec_version="9.9")),
                            ("axes-not-list", lambda x: x.update(axes={"a": 1}))):
            c = json.loads(json.dumps(doc))
            edit(c["lstar"] if v == 2 else c["attributes"]["lstar"])
            objs2 = [(k, json.dumps(c).encode() if k == rootkey else d) for k, d in meta_only]
            put("lstar_store", f"golden-v{v}-{label}", records(objs2))
    put("lstar_store", "empty", b"")
    put("lstar_store", "root-only", records([(".zgroup", b'{"zarr_format":2}'),
                                            (".zattrs", b'{"lstar":{"spec_version":"0.1","axes":[],"fields":[]}}')]))


def gen_json():
    tree = {"$obj": {"params": {"$obj": {"n_pca": 3, "method": "leiden"}}, "scores": {"$array": "a0"},
                     "names": {"$list": ["a", "b", "c"]}}}
    put("json_tree", "passthrough", json.dumps(tree))
    put("json_tree", "scalars", '[1, -0, 1.5e300, -9223372036854775808, 9223372036854775807, true, false, null, ""]')
    put("json_tree", "unicode", '{"\\u00e9\\ud83d\\ude00": "\u00e9\U0001F600", "esc": "\\n\\t\\"\\\\\\/"}')
    put("json_tree", "int-overflow", "9223372036854775808")
    put("json_tree", "lone-surrogate", '"\\ud800"')
    put("json_tree", "nul-escape", '"a\\u0000b"')
    put("json_tree", "deep-512", "[" * 512 + "]" * 512)
    put("json_tree", "deep-513", "[" * 513 + "]" * 513)
    put("json_tree", "deep-3000", "[" * 3000 + "]" * 3000)
    put("json_tree", "duplicate-keys", '{"a": 1, "a": 2}')
    put("json_tree", "bad-trailing-comma", "[1, 2,]")
    put("json_tree", "bad-utf8", b'"\xc3\x28"')
    put("json_tree", "bad-truncated", '{"a": [1, 2')
    put("json_tree", "whitespace", " \t\n {} \r\n")
    put("json_tree", "nan", "NaN")
    put("json_tree", "big-exponent", "1e400")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(HERE, "../../../shared/data"))
    a = ap.parse_args()
    gen_codecs()
    gen_zarr(a.shared)
    gen_vlen()
    gen_zip(a.shared)
    gen_lstar_store(a.shared)
    gen_json()


if __name__ == "__main__":
    main()
