#!/usr/bin/env bash
# Build lstar twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer) and run the tests:
# every test in the normal build, the unit/malformed tests in the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
JOBS=${JOBS:-$(nproc)}

bash scripts/install-js-deps.sh
echo "== normal build ($BUILD)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$JOBS"
echo "== tests (normal build)"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" --timeout 600

echo "== sanitizer build ($ASAN_BUILD)"
cmake -S . -B "$ASAN_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLSTAR_SANITIZE=ON >/dev/null
cmake --build "$ASAN_BUILD" -j "$JOBS"
echo "== tests (ASan+UBSan build: unit and malformed-input tests)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$ASAN_BUILD" --output-on-failure -j "$JOBS" -L unit --timeout 600
