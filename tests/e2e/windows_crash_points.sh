#!/usr/bin/env bash
# kill -9 on Windows: rollout-agent.exe (the windows preset, built with fault injection) under wine
# against the Linux dev build's rollout-server, one agent per named crash point of an upgrade and
# of a revert, all at once. Each agent ends itself at its point as TerminateProcess would
# (ROLLOUT_CRASH_AT; exit code 0xC000013A, which wine's process shows as 58, its low byte), is
# checked — the pointer file names a version whose executable is there (old or new, never
# neither), the journal parses, the managed agent it supervised went with it (the job object) —
# and is started again without the point. Then every agent must end where the flow leads
# (committed on the new version, or reverted to the old one) with exactly one report of its
# attempt at the server, and the server's count must be the number of agents.
# The journal-write points are covered one by one by the crash-point unit test under wine
# (tests/agent/crash_point_test.cpp, pointer files); here the step and report points.
# Expects WINEPREFIX to be a booted prefix.
# usage: windows_crash_points.sh HOST_BIN_DIR WINDOWS_BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HOST_BIN_DIR WINDOWS_BIN_DIR WORK_DIR" >&2; exit 2; }
host=$1 win=$2 work=$3
source "$(dirname "$0")/lib/server.sh"
agent="$win/agent/rollout-agent.exe"
demo="$win/agent/rollout-demo-agent.exe"
for b in "$agent" "$demo"; do [ -f "$b" ] || fail "$b not built (the windows preset)"; done
wpath() { echo "Z:$1"; }
killed_exit=58  # 0xC000013A & 0xff

rm -rf "$work"
mkdir -p "$work"
start_server

release() { # VERSION BEHAVIOUR
  local a="$work/artifacts/demo-$1"
  wine "$demo" --make-variant "$(wpath "$a")" --behaviour "$2" --version "$1" >/dev/null ||
    fail "make-variant $1 under wine"
  "$ctl" sign-release --key "$work/keys/release.key" --artifact "$a" --version "$1" --os windows \
    --arch x86_64 --security-version 1 --out "$a.manifest" >/dev/null
  api publish --manifest "$a.manifest" --artifact "$a" >/dev/null || fail "publish $1"
}

# One sandbox per point: 1.0.0 installed behind a pointer file, on beta. Probation is long enough
# for 1.1.0 to start and crash twice under wine on a loaded machine (17 agents start at once):
# a crash that lands after it would be committed, and the test would judge the machine's speed.
sandbox() { # NAME
  local d="$work/agents/$1" w
  w=$(wpath "$d")
  mkdir -p "$d/root/versions/1.0.0"
  cp "$work/artifacts/demo-1.0.0" "$d/root/versions/1.0.0/demo-agent.exe"
  printf 'versions/1.0.0\n' >"$d/root/current"
  cat >"$d/agent.yaml" <<YAML
server_url: $url
ca_file: $(wpath "$work")/tls.pem
enrollment_key: $enroll
state_dir: $w/state
install_root: $w/root
executable: demo-agent.exe
release_keys: [$(wpath "$work")/keys/release.pub]
directive_keys: [$(wpath "$work")/keys/directive.pub]
channel_hint: beta
machine_id: crash-$1
hostname: crash-$1
poll_interval: 1s
probation: 15s
max_backoff: 2s
log_level: debug
YAML
}
declare -A agent_pid
start_agent() { # NAME [CRASH_POINT]
  local d="$work/agents/$1"
  ROLLOUT_CRASH_AT=${2:-} ROLLOUT_DEMO_HEARTBEAT_MS=60000 \
    wine "$agent" --config "$(wpath "$d")/agent.yaml" >/dev/null 2>>"$d/agent.log" &
  agent_pid[$1]=$!
  pids+=($!)
}
current() { tr -d '\r\n' <"$work/agents/$1/root/current"; }
# No process runs from the agent's install root (its managed agent, which wine shows as
# Z:\...\root\versions\V\demo-agent.exe).
none_in_root() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    { tr '\0\\' ' /' <"$f"; } 2>/dev/null | grep -qF "/agents/$1/root/" && return 1
  done
  return 0
}
journal() { cat "$work/agents/$1/state/journal.json" 2>/dev/null; }
# On a failure: every agent's pointer, journal, queued reports, whether it runs, and its log's tail.
fail_details() {
  local d n
  for d in "$work"/agents/*/; do
    n=$(basename "$d")
    echo "--- $n: current=$(current "$n" 2>/dev/null) pid=${agent_pid[$n]:-} $(
      kill -0 "${agent_pid[$n]:-0}" 2>/dev/null && echo running || echo 'not running')"
    journal "$n" | jq -c '{state, target_version, outcome_reported}' 2>/dev/null
    ls "$d/state/reports" 2>/dev/null
    tail -15 "$d/agent.log" 2>/dev/null
  done
  echo "--- the server's log (tail)"
  tail -30 "$work/server.log" 2>/dev/null
}

# Starts one agent per point, waits for each to die there, checks what it left, restarts it.
crash_each() { # PREFIX POINT...
  local prefix=$1 p n rc cur
  shift
  for p in "$@"; do
    n="$prefix-${p//#/-}"
    sandbox "$n"
    start_agent "$n" "$p"
  done
  for p in "$@"; do
    n="$prefix-${p//#/-}"
    rc=0
    timeout 120 tail --pid="${agent_pid[$n]}" -f /dev/null || fail "$n did not end within 120 s"
    wait "${agent_pid[$n]}" || rc=$?
    [ "$rc" = "$killed_exit" ] ||
      fail "$n: exit $rc, not $killed_exit: it did not die at $p ($(tail -3 "$work/agents/$n/agent.log"))"
    wait_for 30 "$n's managed agent gone with it (the job object)" none_in_root "$n"
    cur=$(current "$n")
    case $cur in versions/1.0.0 | versions/1.1.0 | versions/1.2.0) ;;
      *) fail "$n: current names '$cur' after a crash at $p" ;; esac
    [ -f "$work/agents/$n/root/$cur/demo-agent.exe" ] || fail "$n: $cur has no executable"
    if [ -f "$work/agents/$n/state/journal.json" ]; then
      journal "$n" | jq -e .state >/dev/null || fail "$n: the journal does not parse after $p"
    fi
    start_agent "$n"
  done
}

# What the server holds of the agent's attempts at VERSION, and its outcomes.
attempts() { # NAME VERSION
  local id
  id=$(jq -r .agent_id "$work/agents/$1/state/identity.json" 2>/dev/null) || return 0
  get "/api/agents/$id" | jq -r --arg v "$2" '.history[] | select(.version == $v) | .outcome'
}
settled() { # NAME STATE VERSION CURRENT
  local j
  j=$(journal "$1") || return 1
  jq -e --arg s "$2" --arg v "$3" '.state == $s and .target_version == $v and .outcome_reported' \
    <<<"$j" >/dev/null && [ "$(current "$1")" = "$4" ] &&
    ! compgen -G "$work/agents/$1/state/reports/*.json" >/dev/null
}

release 1.0.0 healthy
api promote 1.0.0 --os windows --arch x86_64 --force --reason "e2e: first stable" >/dev/null

# A revert: 1.1.0 dies of an access violation at start.
release 1.1.0 access-violation
revert_points=(before_revert after_revert after_report_queued before_report_send after_report_send)
crash_each rv "${revert_points[@]}"
for p in "${revert_points[@]}"; do
  n="rv-${p//#/-}"
  wait_for 240 "$n reverted with its report sent" settled "$n" reverted 1.1.0 versions/1.0.0
  [ "$(attempts "$n" 1.1.0)" = crash ] || fail "$n: the server holds '$(attempts "$n" 1.1.0)'"
done
[ "$(count 1.1.0 windows x86_64 crash)" = ${#revert_points[@]} ] ||
  fail "crash count $(count 1.1.0 windows x86_64 crash), not ${#revert_points[@]}"
echo "revert: ${#revert_points[@]} crash points, each reverted to 1.0.0 with one crash report" >&2

# An upgrade to the healthy 1.2.0 (the revert agents take it too, without crash points).
release 1.2.0 healthy
upgrade_points=(mid_download after_download after_verify mid_stage after_stage before_switch
  after_switch before_commit after_commit after_report_queued before_report_send after_report_send)
crash_each up "${upgrade_points[@]}"
for p in "${upgrade_points[@]}"; do
  n="up-${p//#/-}"
  wait_for 240 "$n committed on 1.2.0 with its report sent" settled "$n" committed 1.2.0 \
    versions/1.2.0
  [ "$(attempts "$n" 1.2.0)" = success ] || fail "$n: the server holds '$(attempts "$n" 1.2.0)'"
  none_in_root "$n" && fail "$n: its managed agent is not seen running (none_in_root is blind)"
done
total=$((${#upgrade_points[@]} + ${#revert_points[@]}))
wait_for 240 "1.2.0 counted once for each of the $total agents" \
  count_is 1.2.0 windows x86_64 success "$total"
echo "upgrade: ${#upgrade_points[@]} crash points, each committed on 1.2.0 with one report" >&2
# No agent ended on its own on the way (a stop it was not asked for, a crash, a hang's kill).
for n in "${!agent_pid[@]}"; do
  kill -0 "${agent_pid[$n]}" 2>/dev/null || fail "$n is not running any more"
done

stop_all
grep -l "Unhandled exception\|panic" "$work"/agents/*/agent.log && fail "an agent itself crashed"
echo "windows crash points under wine: ok ($total agents)" >&2
