#!/usr/bin/env bash
# `cmake --install` puts the HDF5 filter plugins (and only them) into <prefix>/<libdir>/lstar/hdf5-plugins,
# exporting nothing but the two H5PL entry points, and HDF5 loads them from there: h5dump prints the
# values of a dataset written through zstd (32015) and delta (56855) with HDF5_PLUGIN_PATH set to the
# installed directory alone.
# Environment: LSTAR_BUILD, LSTAR_PYTHON.
set -euo pipefail
: "${LSTAR_BUILD:?LSTAR_BUILD is not set}"
PY="${LSTAR_PYTHON:-/usr/bin/python3}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/lstar_filters_install.XXXXXX")"
fail=0
check() { # check <description> <command...>
    local what="$1"; shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}

cmake --install "$LSTAR_BUILD" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || {
    echo "FAIL: cmake --install failed:"; tail -20 "$tmp/install.log"; exit 1; }
plugdir="$(find "$tmp/prefix" -type d -path '*/lstar/hdf5-plugins' | head -1)"
check "plugin directory <prefix>/<libdir>/lstar/hdf5-plugins exists ($plugdir)" test -n "$plugdir"
[ -n "$plugdir" ] || { rm -rf "$tmp"; exit 1; }
listing="$(cd "$plugdir" && ls | sort | tr '\n' ' ')"
check "it holds exactly the two plugins (got: $listing)" \
    test "$listing" = "liblstar_h5z_delta.so liblstar_h5z_zstd.so "
for lib in liblstar_h5z_delta.so liblstar_h5z_zstd.so; do
    syms="$(nm -D --defined-only "$plugdir/$lib" | awk '{print $3}' | sort | tr '\n' ' ')"
    check "$lib exports only the H5PL entry points (got: $syms)" \
        test "$syms" = "H5PLget_plugin_info H5PLget_plugin_type "
done
check "headers installed" test -f "$tmp/prefix/include/lstar/filters/lstar_h5z_zstd.h" -a \
    -f "$tmp/prefix/include/lstar/filters/lstar_h5z_delta.h"
check "no test-only plugin installed" test -z "$(find "$tmp/prefix" -name '*reference*')"

# Write through the installed plugins, read back with h5dump through them only.
HDF5_PLUGIN_PATH="$plugdir" "$PY" - "$tmp/f.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((4,))
    for fid, cd in ((56855, ()), (2, ()), (32015, (3,))):
        dcpl.set_filter(fid, h5py.h5z.FLAG_MANDATORY, cd)
    ds = h5py.Dataset(h5py.h5d.create(f.id, b"x", h5py.h5t.STD_I64LE, h5py.h5s.create_simple((10,)), dcpl=dcpl))
    ds[:] = np.array([3, 5, 8, 13, 21, 34, 55, 89, 144, 233], dtype="<i8")
EOF
out="$(HDF5_PLUGIN_PATH="$plugdir" h5dump -w 0 -d /x "$tmp/f.h5" 2>&1 || true)"
check "h5dump through the installed plugins prints the values" \
    grep -q '(0): 3, 5, 8, 13, 21, 34, 55, 89, 144, 233' <<<"$out"
out="$(HDF5_PLUGIN_PATH="$tmp/empty" h5dump -w 0 -d /x "$tmp/f.h5" 2>&1 || true)"
check "and without them it does not" bash -c '! grep -q "(0): 3, 5" <<<"$0"' "$out"

if [ "$fail" = 0 ]; then rm -rf "$tmp"; else echo "files kept in $tmp"; fi
exit "$fail"
