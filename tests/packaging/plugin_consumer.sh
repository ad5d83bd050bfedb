#!/usr/bin/env bash
# The installed plugin is usable by an embedding server: the server component is installed into
# a staging root (DESTDIR, prefix /usr, as the packages lay it out), then a C program is built
# against it twice, with find_package(rollout) -> rollout::plugin and with pkg-config
# rollout_plugin, and run.
# usage: plugin_consumer.sh BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BIN_DIR WORK_DIR" >&2; exit 2; }
bin=$1 work=$2
src=$(cd "$(dirname "$0")/consumer" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
stage="$work/root"
DESTDIR="$stage" cmake --install "$bin" --component server --prefix /usr >/dev/null
printf 'release_keys: [x.pub]\n' > "$work/incomplete.yaml"
libdir=$(dirname "$(find "$stage/usr" -name 'librollout_plugin.so' | head -1)")
[ -n "$libdir" ] || fail "librollout_plugin.so not installed"
[ -L "$libdir/librollout_plugin.so" ] || fail "librollout_plugin.so is not the versioned library's link"

cmake -S "$src" -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$stage/usr" >/dev/null ||
  fail "find_package(rollout) did not configure"
cmake --build "$work/cmake-build" >/dev/null || fail "building against rollout::plugin"
out=$(LD_LIBRARY_PATH="$libdir" "$work/cmake-build/consumer" "$work/incomplete.yaml") ||
  fail "the find_package consumer failed"
grep -q "^rollout_plugin " <<<"$out" || fail "unexpected output: $out"

pc=$(dirname "$(find "$stage/usr" -name rollout_plugin.pc | head -1)")
flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs rollout_plugin) || fail "pkg-config rollout_plugin"
cc "$src/main.c" -o "$work/pc-consumer" $flags || fail "building with pkg-config flags: $flags"
LD_LIBRARY_PATH="$libdir" "$work/pc-consumer" "$work/incomplete.yaml" >/dev/null ||
  fail "the pkg-config consumer failed"
echo "$out (find_package and pkg-config)" >&2
