#!/usr/bin/env bash
# Interop: `lstar mount` (FUSE) serves a Zarr store as MOUNTPOINT/<name>.h5ad to unmodified HDF5 tools.
#
# Stores: a synthetic L★ store (csr X, zstd), the same data as an anndata-zarr v3 sharded store, and
# scanpy's v3 sharded zip (../shared/data, when present).  For each: `lstar convert STORE ref.h5ad`
# is the reference; through the mount
#   - h5dump -d /X/data prints the values of ref's /X/data (parsed and compared, not the exit code);
#   - h5ls -r lists the same objects (names and kinds) as on ref;
#   - h5repack copies it into a valid h5ad that anndata 0.8 opens, equal to ref;
#   - anndata.read_h5ad on the mounted file equals ref.
# Then: `lstar umount` unmounts and the server exits; a second mount exits on SIGTERM and unmounts.
# Skips (77) when /dev/fuse or fusermount3 is missing.
set -u
LSTAR=${LSTAR_BIN:?LSTAR_BIN not set}
BUILD=${LSTAR_BUILD:?LSTAR_BUILD not set}
PY=${LSTAR_PYTHON:-/usr/bin/python3}
DATA=${LSTAR_SHARED_DATA:-}
export HDF5_PLUGIN_PATH="$BUILD/filters/plugins:/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"

if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: no /dev/fuse or fusermount3"
  exit 77
fi

TMP=$(mktemp -d /tmp/lstar_vfd_mount.XXXXXX)
MNT="$TMP/mnt"
mkdir -p "$MNT"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
  if mountpoint -q "$MNT"; then fusermount3 -u "$MNT" 2>/dev/null; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

server_pid() { pgrep -f "lstar mount .* $MNT( |\$)" | head -1; }

check_store() { # label store
  local label=$1 store=$2 name
  "$LSTAR" convert "$store" "$TMP/$label.ref.h5ad" --compression zstd --no-check --overwrite >/dev/null ||
    { fail "$label: convert"; return; }
  "$LSTAR" mount "$store" "$MNT" --name "$label" || { fail "$label: mount failed"; return; }
  local f="$MNT/$label.h5ad"
  [ -f "$f" ] || { fail "$label: $f not listed"; ls -la "$MNT"; "$LSTAR" umount "$MNT"; return; }
  # h5dump values of /X/data (or /X for a dense X)
  local ds=/X/data
  h5ls "$f/X" 2>/dev/null | grep -q '^data ' || ds=/X
  h5dump -d "$ds" -w 0 "$f" >"$TMP/dump.txt" 2>"$TMP/dump.err"
  "$PY" - "$TMP/dump.txt" "$TMP/$label.ref.h5ad" "$ds" <<'EOF' || fail "$label: h5dump -d $ds values"
import re, sys, h5py, numpy as np
text = open(sys.argv[1]).read()
ref = h5py.File(sys.argv[2], "r")[sys.argv[3]][()].ravel()
body = text.split("DATA {", 1)[1].split("}", 1)[0] if "DATA {" in text else ""  # not the attributes
body = re.sub(r"\(\s*\d+(\s*,\s*\d+)*\s*\):", " ", body)  # drop "(i,j):" index prefixes
vals = np.array([float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf)", body)])
ok = vals.size == ref.size and np.allclose(vals, ref.astype(np.float64), rtol=1e-5, atol=1e-6, equal_nan=True)
print("h5dump %s: %d values%s" % (sys.argv[3], vals.size, "" if ok else " MISMATCH (ref %d)" % ref.size))
sys.exit(0 if ok and vals.size > 0 else 1)
EOF
  # h5ls -r: same names and kinds
  diff <(h5ls -r "$f" | awk '{print $1, $2}') <(h5ls -r "$TMP/$label.ref.h5ad" | awk '{print $1, $2}') >/dev/null ||
    fail "$label: h5ls -r trees differ"
  [ "$(h5ls -r "$f" | wc -l)" -gt 5 ] || fail "$label: h5ls -r lists too little"
  # h5repack from the mount, then anndata on the copy and on the mount
  rm -f "$TMP/rp.h5ad"
  h5repack "$f" "$TMP/rp.h5ad" 2>"$TMP/rp.err" || fail "$label: h5repack: $(head -3 "$TMP/rp.err")"
  "$PY" - "$f" "$TMP/rp.h5ad" "$TMP/$label.ref.h5ad" <<'EOF' || fail "$label: anndata through the mount / h5repack copy"
import sys, warnings
warnings.filterwarnings("ignore")
import anndata as ad, numpy as np, scipy.sparse as sp
def dense(m): return m.toarray() if sp.issparse(m) else np.asarray(m)
ref = ad.read_h5ad(sys.argv[3])
for p in sys.argv[1:3]:
    a = ad.read_h5ad(p)
    assert list(a.obs_names) == list(ref.obs_names) and list(a.var_names) == list(ref.var_names), p
    assert np.array_equal(dense(a.X), dense(ref.X), equal_nan=True), p + ": X"
    assert sorted(a.obsm.keys()) == sorted(ref.obsm.keys()), p
    for k in ref.obsm.keys():
        assert np.array_equal(dense(a.obsm[k]), dense(ref.obsm[k]), equal_nan=True), p + ": obsm/" + k
    for k in ref.layers.keys():
        assert np.array_equal(dense(a.layers[k]), dense(ref.layers[k]), equal_nan=True), p + ": layers/" + k
    assert list(a.obs.columns) == list(ref.obs.columns), p
    print("anndata ok:", p.rsplit("/", 1)[-1], a.shape)
EOF
  local pid
  pid=$(server_pid)
  "$LSTAR" umount "$MNT" || fail "$label: lstar umount"
  for _ in $(seq 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then fail "$label: server still running after umount"; fi
  mountpoint -q "$MNT" && fail "$label: still mounted after umount"
  echo "ok  $label"
}

"$LSTAR" synth "$TMP/synth.lstar.zarr" --cells 3000 --genes 400 --compression zstd:3 --chunk-elems 5000 >/dev/null ||
  fail "synth"
check_store synth "$TMP/synth.lstar.zarr"
"$LSTAR" convert "$TMP/synth.lstar.zarr" "$TMP/synth_v3.zarr" --zarr-format 3 --compression zstd:1 \
  --chunk-elems 5000 --shard-elems 20000 --no-check >/dev/null || fail "convert to anndata-zarr v3"
check_store synth_v3 "$TMP/synth_v3.zarr"
if [ -n "$DATA" ] && [ -f "$DATA/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip" ]; then
  check_store pbmc68k "$DATA/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip"
else
  echo "skip: scanpy's 10x_pbmc68k_reduced.zarr.zip is absent"
fi

# a read-only file system: writing fails
"$LSTAR" mount "$TMP/synth.lstar.zarr" "$MNT" --name rw || fail "mount (rw check)"
if (echo x >>"$MNT/rw.h5ad") 2>/dev/null; then fail "write through the mount succeeded"; fi
# SIGTERM: the server unmounts and exits
pid=$(server_pid)
[ -n "$pid" ] || fail "no server process"
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "server did not exit on SIGTERM"
mountpoint -q "$MNT" && fail "still mounted after SIGTERM"

# errors: not a store, mount point missing
"$LSTAR" mount "$TMP/nope.zarr" "$MNT" 2>"$TMP/err.txt" && fail "mount of a missing store succeeded"
grep -q "nope.zarr" "$TMP/err.txt" || fail "error does not name the store: $(cat "$TMP/err.txt")"
"$LSTAR" mount "$TMP/synth.lstar.zarr" "$TMP/no_dir" 2>/dev/null && fail "mount on a missing directory succeeded"

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "all ok"
