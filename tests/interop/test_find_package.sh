#!/usr/bin/env bash
# Install lstar into a temporary prefix, then build examples/ against the installed tree with
# find_package(lstar) (shared and static) and with pkg-config, and run them on the golden store.
set -euo pipefail
: "${LSTAR_BUILD:?}" "${LSTAR_SOURCE:?}" "${LSTAR_SHARED_DATA:?}"
GOLDEN="$LSTAR_SHARED_DATA/kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr"
if [ ! -d "$GOLDEN" ]; then echo "SKIP-FAIL: golden store absent at $GOLDEN"; exit 1; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$LSTAR_BUILD" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/lstar/lstar.h"
test -f "$tmp/prefix/lib/pkgconfig/lstar.pc" || test -f "$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig/lstar.pc"
cmake -S "$LSTAR_SOURCE/examples" -B "$tmp/ex" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/ex" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'liblstar.so' | head -1)")
expect_out() {
  local out="$1"
  grep -qx "axis cells: 12 labels" <<<"$out" || { echo "FAIL: missing 'axis cells: 12 labels' in: $out"; exit 1; }
  grep -qx "field counts: measure, csc" <<<"$out" || { echo "FAIL: missing counts line in: $out"; exit 1; }
  grep -qx "field knn: graph, csr" <<<"$out" || { echo "FAIL: missing knn line in: $out"; exit 1; }
}
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/ex/inspect_store" "$GOLDEN"); expect_out "$out"
echo "ok: find_package(lstar) shared example"
out=$("$tmp/ex/inspect_store_static" "$GOLDEN"); expect_out "$out"
echo "ok: find_package(lstar) static example"
pcdir=$(dirname "$(find "$tmp/prefix" -name lstar.pc | head -1)")
# shellcheck disable=SC2046
cc -std=c11 -o "$tmp/pc_example" "$LSTAR_SOURCE/examples/inspect_store.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs lstar)
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/pc_example" "$GOLDEN"); expect_out "$out"
echo "ok: pkg-config lstar example"
echo "1 passed, 0 failed"
