#!/usr/bin/env bash
# Benchmark: the Updates page in Chromium with 10 000 agents and 50 releases (see
# bench/updates_page.mjs). Not a test. usage: bench/updates_page.sh [BUILD_DIR (default build/dev)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
build=$(cd "${1:-$ROOT/build/dev}" && pwd)
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] ||
  (cd "$ROOT/tests/browser" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)
ROLLOUT_BUILD_DIR=$build exec timeout 3600 node "$ROOT/bench/updates_page.mjs"
