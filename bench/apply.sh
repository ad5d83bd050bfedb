#!/usr/bin/env bash
# Benchmark: the agent's update apply path (bench/apply_bench: begin, download with libcurl while
# hashing, SHA-256 check, begin_verifying, stage, switch, commit — journal fsyncs included) against
# the durable shell equivalent `curl -o part URL && sha256sum part && cp part dest/exe &&
# sync -f dest/exe`, both fetching the same random N MiB file from one nginx on 127.0.0.1, REPS
# times each, interleaved, after one untimed warm-up of each. Every timed run starts after an
# untimed `sync`. Ours is timed inside the program (no process start-up, no install-root set-up);
# the baseline is timed around its four commands. Prints the medians and the ratio ours/baseline.
# Not a test: numbers depend on the machine; write them down with the command.
# usage: bench/apply.sh [BUILD_DIR (default build/release)] [MIB (default 64)] [REPS (default 5)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/lib/nginx.sh"
build=${1:-$ROOT/build/release}
mib=${2:-64}
reps=${3:-5}
prog=$build/bench/apply_bench
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 2; }
for tool in curl sha256sum python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 2; }
done
[ -x "$prog" ] || {
  echo "$prog is missing: cmake --preset release && cmake --build --preset release --target apply_bench" >&2
  exit 2
}
# Loopback only: no proxy may sit between the client and nginx (libcurl and curl read these).
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

work=$(mktemp -d)
cleanup() { [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# nginx's workers drop to an unprivileged user when started as root: they must be able to read.
chmod 0755 "$work"

head -c "$((mib * 1024 * 1024))" /dev/urandom > "$work/artifact.bin"
chmod 0644 "$work/artifact.bin"
size=$(stat -c %s "$work/artifact.bin")
sha=$(sha256sum "$work/artifact.bin" | cut -d' ' -f1)

mkdir -p "$work/runs"
start_nginx "$work" 1 artifact.bin
url="http://127.0.0.1:$nport/artifact.bin"

# One run of ours; prints its time in ms (the program's own per-phase line goes to stderr).
ours_once() {
  local out
  out=$("$prog" "$url" "$sha" "$size" "$work/runs" 1) || { echo "apply_bench failed" >&2; exit 1; }
  sed -n 's/^rep 1: /  ours:     /p' <<<"$out" >&2
  sed -n 's/^median_ms //p' <<<"$out"
}

# One run of the baseline in a fresh directory; prints its time in ms.
baseline_once() {
  local d t0 t1
  d=$(mktemp -d "$work/runs/base.XXXXXX")
  mkdir "$d/dest"
  sync
  t0=$(date +%s%N)
  curl -sS -o "$d/part" "$url" && sha256sum "$d/part" >"$d/sum" && cp "$d/part" "$d/dest/exe" &&
    sync -f "$d/dest/exe"
  t1=$(date +%s%N)
  [ "$(cut -d' ' -f1 "$d/sum")" = "$sha" ] || { echo "baseline: hash mismatch" >&2; exit 1; }
  rm -rf "$d"
  local ms
  ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')
  echo "  baseline: $ms ms" >&2
  echo "$ms"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "work dir: $work ($(df --output=fstype "$work" | tail -1) file system); artifact: $mib MiB, sha256 $sha"
echo "server: nginx $(nginx -v 2>&1 | sed 's|.*/||') on $url"
echo "== warm-up (untimed)"
ours_once >/dev/null
baseline_once >/dev/null
: >"$work/ours.txt"
: >"$work/base.txt"
for i in $(seq "$reps"); do
  echo "== repetition $i of $reps"
  ours_once >>"$work/ours.txt"
  baseline_once >>"$work/base.txt"
done
ours=$(median <"$work/ours.txt")
base=$(median <"$work/base.txt")
echo "median: ours $ours ms; baseline $base ms; ratio ours/baseline $(awk -v a="$ours" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
