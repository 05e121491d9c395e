#!/usr/bin/env bash
# Interop: zarrita (JavaScript, Zarr v2 + v3) reads the L* stores we write.
#
# The upstream golden v2 store is copied by our writer into
#   v2: gzip, multi-chunk            (compared with upstream golden_v2)
#   v3: zstd, multi-chunk, sharded   (compared with upstream golden_v3)
#   v3: uncompressed, single chunk   (compared with upstream golden_v3)
# and tests/interop/js/lstar_compare.mjs (zarrita) checks attributes, dtypes,
# shapes and values against the upstream store plus expected.json.  The v3
# metadata is also checked to really use sharding_indexed and zstd.
set -euo pipefail

: "${LSTAR_HELPERS:?}" "${LSTAR_SHARED_DATA:?}" "${LSTAR_SOURCE:?}"
PY=${LSTAR_PYTHON:-/usr/bin/python3}
JS="$LSTAR_SOURCE/tests/interop/js"
NM=${LSTAR_NODE_MODULES:-$JS/node_modules}
FIX="$LSTAR_SHARED_DATA/kharchenkolab_lstar/conformance/fixtures"
TOOL="$LSTAR_HELPERS/lstar_test_lstarfmt"

command -v node >/dev/null || { echo "FAIL: node is not installed"; exit 1; }
[ -d "$NM/zarrita" ] || { echo "FAIL: zarrita not installed in $NM (npm ci in tests/interop/js)"; exit 1; }
[ -d "$FIX/golden_v2.lstar.zarr" ] || { echo "FAIL: upstream fixtures missing under $FIX"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { echo "+ $*" >&2; "$@"; }

run "$TOOL" copy "$FIX/golden_v2.lstar.zarr" "$tmp/v2.lstar.zarr" --zarr-format 2 --compression gzip:5 --chunk-elems 5
run "$TOOL" copy "$FIX/golden_v2.lstar.zarr" "$tmp/v3s.lstar.zarr" --zarr-format 3 --compression zstd:3 \
    --chunk-elems 4 --shard-elems 20 --threads 2
run "$TOOL" copy "$FIX/golden_v3.lstar.zarr" "$tmp/v3.lstar.zarr" --zarr-format 3

export LSTAR_NODE_MODULES="$NM"
run node "$JS/lstar_compare.mjs" "$tmp/v2.lstar.zarr" "$FIX/golden_v2.lstar.zarr" "$FIX/expected.json" >"$tmp/v2.json"
run node "$JS/lstar_compare.mjs" "$tmp/v3s.lstar.zarr" "$FIX/golden_v3.lstar.zarr" "$FIX/expected.json" >"$tmp/v3s.json"
run node "$JS/lstar_compare.mjs" "$tmp/v3.lstar.zarr" "$FIX/golden_v3.lstar.zarr" "$FIX/expected.json" >"$tmp/v3.json"

# What zarrita saw, and what the metadata says.
"$PY" - "$tmp" <<'EOF'
import json, os, sys
tmp = sys.argv[1]
def load(name):
    with open(os.path.join(tmp, name)) as f:
        return json.load(f)
v2, v3s, v3 = load("v2.json"), load("v3s.json"), load("v3.json")
for name, r in (("v2", v2), ("v3 sharded", v3s), ("v3", v3)):
    assert r["ok"], name
    print(f"zarrita {name}: {r['checks']} checks passed")
# zarrita's view of the chunking
assert v2["arrays"]["fields/counts/data"]["chunks"] == [5], v2["arrays"]["fields/counts/data"]
assert v2["arrays"]["fields/pca/values"]["chunks"] == [1, 3], v2["arrays"]["fields/pca/values"]
assert v3["arrays"]["fields/counts/data"]["chunks"] == [44], v3["arrays"]["fields/counts/data"]
# v2 metadata: gzip
with open(os.path.join(tmp, "v2.lstar.zarr/fields/counts/data/.zarray")) as f:
    za = json.load(f)
assert za["compressor"]["id"] == "gzip" and za["chunks"] == [5] and za["dtype"] == "<f4", za
# v3 metadata: sharding_indexed with 5 inner chunks of 4, zstd inside
with open(os.path.join(tmp, "v3s.lstar.zarr/fields/counts/data/zarr.json")) as f:
    zj = json.load(f)
codecs = zj["codecs"]
assert zj["chunk_grid"]["configuration"]["chunk_shape"] == [20], zj["chunk_grid"]
assert codecs[0]["name"] == "sharding_indexed", codecs
inner = codecs[0]["configuration"]
assert inner["chunk_shape"] == [4], inner
assert any(c["name"] == "zstd" for c in inner["codecs"]), inner["codecs"]
assert os.path.exists(os.path.join(tmp, "v3s.lstar.zarr/fields/counts/data/c/0"))
with open(os.path.join(tmp, "v3s.lstar.zarr/zarr.json")) as f:
    root = json.load(f)
assert root["consolidated_metadata"]["kind"] == "inline"
assert "fields/counts/data" in root["consolidated_metadata"]["metadata"]
print("metadata: v2 gzip chunks [5]; v3 sharding_indexed [20] of [4] with zstd; inline consolidated")
EOF
echo "PASS: zarrita reads our v2 and v3 (sharded, zstd) L* stores"
