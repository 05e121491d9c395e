#!/usr/bin/env bash
# Interop: zarrita (JavaScript) reads the Zarr v2 and v3 arrays lstar writes.
#
# lstar_test_zarr writes two hierarchies (v2: every dtype x codec chain incl.
# blosc/lz4/zstd/zlib/gzip/shuffle/delta, vlen strings, |S, fill values with
# missing chunks; v3: the same plus sharding_indexed with zstd/gzip/crc32c inner
# chains, crc32c, vlen-utf8 in shards).  tests/interop/js/read.mjs (zarrita)
# reads every array; its values must equal the helper's own dump and the
# generating formulas.  Complex arrays are skipped: zarrita has no complex
# data types.  Runs `npm ci` first if node_modules is missing.
set -euo pipefail

: "${LSTAR_HELPERS:?}" "${LSTAR_SOURCE:?}"
PY=${LSTAR_PYTHON:-/usr/bin/python3}
JS="$LSTAR_SOURCE/tests/interop/js"
NM=${LSTAR_NODE_MODULES:-$JS/node_modules}
TOOL="$LSTAR_HELPERS/lstar_test_zarr"

command -v node >/dev/null || { echo "FAIL: node is not installed"; exit 1; }
if [ ! -d "$NM/zarrita" ]; then
    echo "+ npm ci --no-audit --no-fund (in $JS)"
    (cd "$JS" && npm ci --no-audit --no-fund >/dev/null) || { echo "FAIL: npm ci failed"; exit 1; }
fi
export LSTAR_NODE_MODULES="$NM"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for fmt in 2 3; do
    store="$tmp/v$fmt.zarr"
    "$TOOL" write "$store" "$fmt" all
    "$TOOL" list "$store" | grep -v '^complex' >"$tmp/paths$fmt"
    : >"$tmp/ours$fmt.jsonl"
    while read -r p; do "$TOOL" dump "$store" "$p" >>"$tmp/ours$fmt.jsonl"; done <"$tmp/paths$fmt"
    # shellcheck disable=SC2046
    node "$JS/read.mjs" "$store" $(cat "$tmp/paths$fmt") >"$tmp/zarrita$fmt.jsonl"
done

"$PY" - "$tmp" <<'EOF'
import json, math, sys
tmp = sys.argv[1]

def num(v):
    if isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    if isinstance(v, str) and v.lstrip("-").isdigit():
        return int(v)
    return v

def eq(a, b):
    a, b = num(a), num(b)
    if isinstance(a, float) or isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b

def expected(path, dtype, i):
    name = path.split("/")[-1]
    if name.startswith("fill_"):
        if 4 <= i < 8:
            return i * 0.5 - 20.25 if name.startswith("fill_f") else (i * 7 + 3) % 100 - 50
        return {"fill_f64": float("nan"), "fill_f32": 2.5, "fill_i32": -9}[name]
    if "str" in name or name == "fixed_bytes":
        return "s%d%s" % (i, "é" * (i % 3))
    if dtype == "bool":
        return i % 3 == 0
    if dtype.startswith("int"):
        return (i * 7 + 3) % 100 - 50
    if dtype.startswith("uint"):
        return (i * 7 + 3) % 200
    return i * 0.5 - 20.25

total = 0
kinds = set()
for fmt in (2, 3):
    paths = open("%s/paths%d" % (tmp, fmt)).read().split()
    ours = [json.loads(l) for l in open("%s/ours%d.jsonl" % (tmp, fmt))]
    theirs = [json.loads(l) for l in open("%s/zarrita%d.jsonl" % (tmp, fmt))]
    if not (len(paths) == len(ours) == len(theirs)) or len(paths) < 60:
        sys.exit("FAIL: v%d: %d paths, %d dumps, %d zarrita outputs" % (fmt, len(paths), len(ours), len(theirs)))
    meta_dir = "%s/v%d.zarr" % (tmp, fmt)
    for p, o, t in zip(paths, ours, theirs):
        if o["shape"] != t["shape"]:
            sys.exit("FAIL: v%d %s: shape %r vs zarrita %r" % (fmt, p, o["shape"], t["shape"]))
        if len(o["data"]) != len(t["data"]):
            sys.exit("FAIL: v%d %s: %d vs %d values" % (fmt, p, len(o["data"]), len(t["data"])))
        for i, (x, y) in enumerate(zip(o["data"], t["data"])):
            e = expected(p, o["dtype"], i)
            if not eq(x, y) or not eq(x, e):
                sys.exit("FAIL: v%d %s[%d]: lstar %r, zarrita %r, expected %r" % (fmt, p, i, x, y, e))
        total += 1
        if fmt == 3:
            meta = json.load(open("%s/%s/zarr.json" % (meta_dir, p)))
            names = json.dumps(meta["codecs"])
            for k in ("sharding_indexed", "crc32c", "zstd", "gzip", "vlen-utf8", "blosc"):
                if '"%s"' % k in names:
                    kinds.add(k)
        print("checked: zarrita reads lstar v%d %s (%s, %s)" % (fmt, p, t["dtype"], o["shape"]))
need = {"sharding_indexed", "crc32c", "zstd", "gzip", "vlen-utf8", "blosc"}
if not need <= kinds:
    sys.exit("FAIL: v3 codecs exercised %r, missing %r" % (sorted(kinds), sorted(need - kinds)))
print("PASS: zarrita read %d lstar arrays identically (v3 codecs: %s)" % (total, ", ".join(sorted(kinds))))
EOF
