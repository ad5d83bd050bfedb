#!/usr/bin/env bash
# The main job's fleet with Windows agents (./scripts/run --windows-agents N): scripts/demo-fleet
# --agents 2 --windows-agents 2 --once with the Linux dev build's server, rolloutctl and agents
# and the windows preset's rollout-agent.exe under wine, in the wine prefix demo-fleet keeps in
# its state directory. Asserts, from the Updates API as the fleet left it (STATE/updates.json,
# STATE/agents.json): windows/x86_64 rows beside the linux/x86_64 ones, 1.0.0 stable and 1.1.0
# beta with the Windows beta agent's success counted, the Windows beta agent running 1.1.0 and the
# stable one 1.0.0; and that no wine process of that prefix is left once demo-fleet has ended.
# Then --agents 1 --windows-agents 1 --scenario crash in the same state directory, ended like a
# terminal's Ctrl-C: the prefix is reused without a second boot, the Windows beta crashes too
# (counted in /api/updates/rollouts, reverted to 1.0.0), and again no wine process is left.
# Before those: a bad --windows-agents is refused naming the option, before anything starts, and
# without it the fleet is Linux only and says in one line how to add Windows agents.
# usage: windows_fleet.sh HOST_BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 HOST_BIN_DIR WORK_DIR" >&2; exit 2; }
host=$1 work=$2
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/windows.sh"
fleet="$ROOT/scripts/demo-fleet"
state="$work/state"

fail() {
  echo "FAIL: $*" >&2
  for log in "$state"/fleet/win-endpoint-*/agent.log; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -20 "$log" >&2; }
  done
  exit 1
}

rm -rf "$work"
mkdir -p "$work"
rc=0
err=$("$fleet" "$host" "$state" --windows-agents 51 --once 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "^error: --windows-agents must be a number from 0 to 50, not '51'" <<<"$err" ||
  fail "--windows-agents 51: exit $rc, $err"
[ ! -e "$state" ] || fail "a refused --windows-agents still made $state"

# Without --windows-agents: Linux only, and one line saying how to add Windows agents.
ROLLOUT_PORT=0 timeout --kill-after=10 120 "$fleet" "$host" "$work/linux-only" --agents 1 --once \
  2> "$work/linux-only.log" || { tail -30 "$work/linux-only.log" >&2; fail "demo-fleet --agents 1"; }
[ "$(grep -c -- "--windows-agents N" "$work/linux-only.log")" = 1 ] ||
  fail "no single line saying how to add Windows agents: $(cat "$work/linux-only.log")"
[ ! -e "$work/linux-only/wine" ] || fail "a fleet without Windows agents made a wine prefix"
[ "$(jq '[.rollouts[] | select(.os == "windows")] | length' "$work/linux-only/updates.json")" = 0 ] ||
  fail "windows rows without Windows agents"

ROLLOUT_PORT=0 timeout --kill-after=10 420 "$fleet" "$host" "$state" --agents 2 \
  --windows-agents 2 --once 2> "$work/fleet.log" || { tail -30 "$work/fleet.log" >&2; fail "demo-fleet"; }

left=$(wine_leftovers "$state/wine")
[ -z "$left" ] ||
  fail "wine left in $state/wine after demo-fleet ended: $(ps -o pid,args -p "$(tr '\n' , <<<"$left")")"
grep -q "stopped wine in " "$work/fleet.log" || fail "demo-fleet did not say it stopped wine"

rows="$state/updates.json"
row() { # version os: the row's channel and the health count $3
  jq -r --arg v "$1" --arg o "$2" --arg f "$3" \
    '.rollouts[] | select(.version == $v and .os == $o and .arch == "x86_64")
     | "\(.channel) \(.health[$f])"' "$rows"
}
[ "$(row 1.0.0 windows success)" = "stable 0" ] || fail "windows 1.0.0 row: $(row 1.0.0 windows success)"
[ "$(row 1.1.0 windows success)" = "beta 1" ] || fail "windows 1.1.0 row: $(row 1.1.0 windows success)"
[ "$(row 1.1.0 linux success)" = "beta 1" ] || fail "linux 1.1.0 row: $(row 1.1.0 linux success)"
[ "$(row 1.1.0 windows total)" = "beta 1" ] || fail "windows 1.1.0 counts another report"

agent() { # hostname: its os, channel and version as the server has them
  jq -r --arg h "$1" '.agents[] | select(.hostname == $h) | "\(.os) \(.channel) \(.current_version)"' \
    "$state/agents.json"
}
[ "$(agent win-endpoint-001)" = "windows beta 1.1.0" ] || fail "win-endpoint-001: $(agent win-endpoint-001)"
[ "$(agent win-endpoint-002)" = "windows stable 1.0.0" ] || fail "win-endpoint-002: $(agent win-endpoint-002)"
[ "$(agent endpoint-001)" = "linux beta 1.1.0" ] || fail "endpoint-001: $(agent endpoint-001)"
[ "$(jq '.agents | length' "$state/agents.json")" = 4 ] || fail "not 4 agents enrolled"
echo "demo fleet with 2 Windows agents: windows/x86_64 rows, the beta one on 1.1.0, no wine left" >&2

# Again in the same state directory, the crash scenario, without --once and ended the way a
# terminal's Ctrl-C ends it (SIGINT to its whole process group: the script, the agents, wine):
# the prefix is reused (no second boot), the Windows beta build crashes like the Linux one and
# the agent reverts to 1.0.0 by itself, the crash is counted; nothing of wine is left.
ROLLOUT_PORT=0 setsid timeout --kill-after=10 300 "$fleet" "$host" "$state" --agents 1 \
  --windows-agents 1 --scenario crash 2> "$work/fleet.log" &
fleet_pid=$!
trap 'kill -INT -- -$fleet_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  grep -q "Ctrl-C stops" "$work/fleet.log" && break
  kill -0 "$fleet_pid" 2>/dev/null || break
  sleep 1
done
grep -q "Ctrl-C stops" "$work/fleet.log" ||
  { tail -30 "$work/fleet.log" >&2; fail "demo-fleet --scenario crash"; }
grep -q "first boot" "$work/fleet.log" && fail "the second run booted its wine prefix again"
url=$(sed -n 's|.*Updates page: \(https://[^ ]*\)/updates.*|\1|p' "$work/fleet.log")
token=$("$host/tools/rolloutctl" token create --name e2e --server "$url" \
  --ca-file "$state/tls/cert.pem" --user admin --password-file "$state/admin-password") ||
  fail "token create"
curl -fsS --cacert "$state/tls/cert.pem" -H "Authorization: Bearer $token" \
  "$url/api/updates/rollouts" > "$rows" || fail "GET /api/updates/rollouts"
[ "$(row 1.1.0 windows crash)" = "beta 1" ] || fail "windows 1.1.0 crash: $(row 1.1.0 windows crash)"
[ "$(row 1.1.0 linux crash)" = "beta 1" ] || fail "linux 1.1.0 crash: $(row 1.1.0 linux crash)"
# The agent's own pointer file and journal say it reverted (the server learns the running version
# at its next check-in).
d="$state/fleet/win-endpoint-001"
[ "$(tr -d '\r\n' < "$d/root/current")" = versions/1.0.0 ] ||
  fail "win-endpoint-001's current after the crash: $(cat "$d/root/current")"
[ "$(jq -r .state "$d/state/journal.json")" = reverted ] ||
  fail "win-endpoint-001's journal after the crash: $(cat "$d/state/journal.json")"
[ -n "$(wine_leftovers "$state/wine")" ] || fail "no wine process running in $state/wine"

kill -INT -- "-$fleet_pid"
wait "$fleet_pid" 2>/dev/null || true
trap - EXIT
left=$(wine_leftovers "$state/wine")
[ -z "$left" ] || fail "wine processes of $state/wine left after Ctrl-C: $left"
grep -q "stopped wine in " "$work/fleet.log" || fail "demo-fleet did not say it stopped wine on Ctrl-C"
echo "crash scenario with a Windows agent: the prefix reused, the crash counted, reverted to" \
  "1.0.0; Ctrl-C left no wine process" >&2
