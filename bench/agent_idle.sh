#!/usr/bin/env bash
# rollout-agent's idle footprint: memory (RSS, PSS, USS = private pages) and CPU per check-in of
# one agent that has finished its update and only checks in while supervising the demo agent.
# Uses the main job's fleet script on loopback; with long-poll (the agent's default) each
# check-in is held by the server up to 55 s, so a window sees few of them: they are counted from
# the server's rollout_checkins_total, not assumed. CPU is read from /proc (utime + stime of the
# controller alone, not its managed agent) over the window; the per-check-in figure includes the
# supervision loop's idle wake-ups, so it is an upper bound.
# usage: bench/agent_idle.sh [BUILD_DIR] [SECONDS (default 180)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bin=${1:-$ROOT/build/release}
window=${2:-180}
state=$(mktemp -d /tmp/rollout-idle-XXXXXX)
ROLLOUT_PORT=0 "$ROOT/scripts/demo-fleet" "$bin" "$state" --agents 1 > "$state/fleet.out" 2>&1 &
fleet=$!
trap 'kill -TERM $fleet 2>/dev/null; wait $fleet 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 1 600); do
  grep -q "beta agents reported success" "$state/fleet.out" 2>/dev/null &&
    grep -q "1/1 beta agents reported success" "$state/fleet.out" && break
  sleep 0.2
done
grep -q "1/1 beta agents reported success" "$state/fleet.out" || { cat "$state/fleet.out"; exit 1; }
pid=$(pgrep -f "rollout-agent --config $state" | head -1)
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
url=$(sed -n 's/.*rollout-server is running at //p' "$state/fleet.out" | head -1)
tok=$("$bin/tools/rolloutctl" token create --name idle --server "$url" \
  --ca-file "$state/tls/cert.pem" --user admin --password-file "$state/admin-password")
checkins() {
  curl -fsS --cacert "$state/tls/cert.pem" -H "Authorization: Bearer $tok" "$url/metrics" |
    sed -n 's/^rollout_checkins_total //p'
}
sleep 5  # let the post-update check-ins settle
c0=$(cpu) n0=$(checkins)
sleep "$window"
c1=$(cpu) n1=$(checkins)
rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
anon_kib=$(awk '/^Pss_Anon/ {print $2}' "/proc/$pid/smaps_rollup")
pss_kib=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")
uss_kib=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$pid/smaps_rollup")
checkins=$((n1 - n0))
[ "$checkins" -gt 0 ] || { echo "no check-in in the $window s window" >&2; exit 1; }
awk -v c0="$c0" -v c1="$c1" -v t="$ticks" -v n="$checkins" -v w="$window" -v rss="$rss_kib" -v hwm="$hwm_kib" -v anon="$anon_kib" -v pss="$pss_kib" -v uss="$uss_kib" 'BEGIN {
  cpu_ms = (c1 - c0) * 1000 / t
  printf "rollout-agent idle: RSS %.1f MiB (peak %.1f MiB), PSS %.1f MiB, USS (private) %.1f MiB, of which anonymous (heap, stacks) %.1f MiB;\n", rss / 1024, hwm / 1024, pss / 1024, uss / 1024, anon / 1024
  printf "  the rest of RSS is shared library pages (libcrypto, libstdc++, libc, libcurl)\n"
  printf "CPU over %d s: %.0f ms (%.2f%% of one core), %d check-ins (the server'"'"'s count): %.2f ms CPU per check-in (upper bound)\n",
    w, cpu_ms, cpu_ms / (w * 10), n, cpu_ms / n
}'
