#!/usr/bin/env bash
# Install every Debian package lstar needs to build, test and benchmark.
# Idempotent: packages already present are skipped by apt; the apt index is
# refreshed only when a package is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libhdf5-dev hdf5-tools libzstd-dev zlib1g-dev libdeflate-dev libblosc-dev
  liblz4-dev libjansson-dev libcmocka-dev libfuse3-dev fuse3
  # HDF5 filter plugins Debian ships (lzf for anndata 0.7 files, blosc, lz4/bzip2)
  hdf5-plugin-lzf hdf5-filter-plugin hdf5-filter-plugin-blosc-serial
  # Python peers (use /usr/bin/python3)
  python3 python3-h5py python3-anndata python3-zarr python3-numcodecs
  python3-scipy python3-pandas python3-numpy python3-zstandard python3-blosc
  # JavaScript peers are installed from npm by tests/interop/js (needs node+npm)
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

# node/npm: used only for the zarrita/h5wasm interop tests.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y --no-install-recommends nodejs npm
fi
bash "$(dirname "$0")/install-js-deps.sh"
echo "install-deps: all dependencies present"
