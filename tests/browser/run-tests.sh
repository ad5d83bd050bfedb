#!/usr/bin/env bash
# Runs the browser tests: installs the locked playwright-core once (npm ci) if node_modules is
# missing, then `node --test`. Each test file starts and stops its own rollout-server.
# usage: run-tests.sh BUILD_DIR   (artifacts: BUILD_DIR/browser-artifacts)
# Missing node or chromium is a failure, never a skip: the pages are part of the product.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
command -v node >/dev/null || { echo "browser tests: node is not installed (Debian package nodejs)" >&2; exit 1; }
command -v npm >/dev/null || { echo "browser tests: npm is not installed (Debian package npm)" >&2; exit 1; }
[ -x "$chromium" ] || { echo "browser tests: chromium not found at $chromium (Debian package chromium)" >&2; exit 1; }
[ -x "$build/server-plugin/rollout-server" ] || { echo "browser tests: no rollout-server in $build" >&2; exit 1; }
cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  # Only the locked package, from the npm registry; the lock pins its integrity hash.
  timeout 300 npm ci --no-audit --no-fund --loglevel=error
fi
export ROLLOUT_BUILD_DIR=$build CHROMIUM=$chromium
export ROLLOUT_BROWSER_ARTIFACTS=${ROLLOUT_BROWSER_ARTIFACTS:-$build/browser-artifacts}
exec timeout 600 node --test --test-concurrency=1 --test-timeout=120000 tests/
