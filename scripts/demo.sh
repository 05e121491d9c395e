#!/usr/bin/env bash
# The main job on a built-in example: write a synthetic single-cell dataset as an L★ store
# (Zarr v2 and v3), inspect and validate it, and read upstream's golden store.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
LSTAR="$BUILD/tools/lstar"
OUT=demo-out
mkdir -p "$OUT"

echo "\$ lstar synth $OUT/synth.lstar.zarr --cells 2000 --genes 3000 --compression zstd:3 --overwrite"
"$LSTAR" synth "$OUT/synth.lstar.zarr" --cells 2000 --genes 3000 --compression zstd:3 --overwrite
echo
echo "\$ lstar inspect $OUT/synth.lstar.zarr"
"$LSTAR" inspect "$OUT/synth.lstar.zarr"
echo
echo "\$ lstar validate $OUT/synth.lstar.zarr"
"$LSTAR" validate "$OUT/synth.lstar.zarr"
echo
echo "\$ lstar synth $OUT/synth-v3.lstar.zarr --zarr-format 3 --chunk-elems 20000 --shard-elems 200000 --overwrite"
"$LSTAR" synth "$OUT/synth-v3.lstar.zarr" --cells 2000 --genes 3000 --zarr-format 3 --chunk-elems 20000 \
  --shard-elems 200000 --compression zstd:3 --overwrite
"$LSTAR" validate "$OUT/synth-v3.lstar.zarr"
GOLDEN=../shared/data/kharchenkolab_lstar/conformance/fixtures/golden_v3.lstar.zarr
if [ -d "$GOLDEN" ]; then
  echo
  echo "\$ lstar inspect $GOLDEN   (upstream's golden store)"
  "$LSTAR" inspect "$GOLDEN"
fi
