#!/usr/bin/env bash
# JavaScript peers (zarrita) for the interop tests, pinned by tests/interop/js/package-lock.json.
# Idempotent: does nothing when they are installed.
set -euo pipefail
JS_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/js"
if [ -f "$JS_DIR/package-lock.json" ] && [ ! -d "$JS_DIR/node_modules/zarrita" ]; then
  (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
