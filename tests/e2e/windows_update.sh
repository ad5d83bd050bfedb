#!/usr/bin/env bash
# The Windows update path end to end, under wine: the Linux dev build's rollout-server and
# rolloutctl on 127.0.0.1 over TLS, and the mingw-built rollout-agent.exe under wine, which
# supervises rollout-demo-agent.exe variants in a job object. Releases are signed for
# windows/x86_64; a linux/x86_64 release published beside them must be ignored.
#   1.0.0 installed (pointer file current -> versions/1.0.0), stable
#   1.1.0 (beta) upgrade: probation passes, `success` counted by the server
#   a restart: the same identity (its owner-only file trusted again), no second enrollment
#   rollback of 1.1.0: the server directs a downgrade to the stable 1.0.0, counted as success
#   1.2.0 dies of an access violation at start: reverted to 1.0.0 by the agent, `crash` counted,
#         the report names "exception 0xC0000005 (access violation)" and carries the exit code
#         as Windows shows it (-1073741819) and the managed agent's last stderr line
#   the service path: registered with wine's service manager (sc create), started, RUNNING once
#         up, asked to stop, STOPPED within its grace time with exit code 0, its log in the
#         rotating file <state_dir>/logs/rollout-agent.log (the SCM keeps no stderr)
# Asserts the server's counts (rolloutctl status --json), the report, the pointer file and the
# journal. Every process it starts is stopped on exit. Expects WINEPREFIX to be a booted prefix.
# usage: windows_update.sh HOST_BIN_DIR WINDOWS_BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HOST_BIN_DIR WINDOWS_BIN_DIR WORK_DIR" >&2; exit 2; }
# Absolute: the Windows programs see these paths on wine's Z: drive.
host=$1 win=$(realpath -m "$2") work=$(realpath -m "$3")
source "$(dirname "$0")/../../scripts/lib/common.sh"
source "$ROOT/scripts/lib/windows.sh"  # wpath
source "$(dirname "$0")/lib/server.sh"
agent="$win/agent/rollout-agent.exe"
demo="$win/agent/rollout-demo-agent.exe"
for b in "$agent" "$demo"; do [ -f "$b" ] || fail "$b not built (the windows preset)"; done
command -v wine >/dev/null || fail "wine missing (Debian package wine64)"

rm -rf "$work"
mkdir -p "$work/root/versions/1.0.0"
start_server

release() { # VERSION BEHAVIOUR OS
  local a="$work/artifacts/demo-$1-$3"
  if [ "$3" = windows ]; then
    wine "$demo" --make-variant "$(wpath "$a")" --behaviour "$2" --version "$1" >/dev/null ||
      fail "make-variant $1 under wine"
  else
    "$host/agent/rollout-demo-agent" --make-variant "$a" --behaviour "$2" --version "$1" >/dev/null
  fi
  "$ctl" sign-release --key "$work/keys/release.key" --artifact "$a" --version "$1" --os "$3" \
    --arch x86_64 --security-version 1 --out "$a.manifest" >/dev/null
  api publish --manifest "$a.manifest" --artifact "$a" >/dev/null || fail "publish $1 $3"
}
release 1.0.0 healthy windows
api promote 1.0.0 --os windows --arch x86_64 --force --reason "e2e: first stable" >/dev/null
cp "$work/artifacts/demo-1.0.0-windows" "$work/root/versions/1.0.0/demo-agent.exe"
printf 'versions/1.0.0\n' > "$work/root/current"  # the Windows pointer file
release 1.1.0 healthy windows
release 1.5.0 healthy linux  # another OS's newer release: never for this agent

w=$(wpath "$work")
# Probation: long enough for 1.2.0 to start and crash twice under wine on a loaded machine.
cat > "$work/agent.yaml" <<YAML
server_url: $url
ca_file: $w/tls.pem
enrollment_key: $enroll
state_dir: $w/state
install_root: $w/root
executable: demo-agent.exe
release_keys: [$w/keys/release.pub]
directive_keys: [$w/keys/directive.pub]
channel_hint: beta
machine_id: e2e-windows
poll_interval: 1s
probation: 15s
max_backoff: 2s
log_level: debug
YAML
start_agent() {
  ROLLOUT_DEMO_HEARTBEAT_MS=60000 wine "$agent" --config "$w/agent.yaml" \
    > /dev/null 2>> "$work/agent.log" &
  agent_pid=$!
  pids+=($agent_pid)
}
start_agent

current() { tr -d '\r\n' < "$work/root/current"; }
state() { jq -r .state "$work/state/journal.json" 2>/dev/null; }

wait_for 240 "1.1.0 reported success" count_is 1.1.0 windows x86_64 success 1
[ -f "$work/root/current" ] && [ ! -L "$work/root/current" ] || fail "current is not a pointer file"
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the upgrade"
[ "$(state)" = committed ] || fail "journal state $(state) after the upgrade"
[ "$(tr -d '\r\n' < "$work/root/previous")" = versions/1.0.0 ] || fail "previous is not 1.0.0"
echo "upgrade 1.0.0 -> 1.1.0 on windows: success counted, current -> versions/1.1.0" >&2

# A restart keeps the identity (its owner-only file is trusted again) and resumes on 1.1.0.
id=$(jq -r .agent_id "$work/state/identity.json")
kill -TERM "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
start_agent
restarted() { grep -q "started version=1.1.0 state=committed agent_id=$id" "$work/agent.log"; }
wait_for 60 "the restarted agent resumed as $id on 1.1.0" restarted
[ "$(grep -c "controller: enrolled" "$work/agent.log")" = 1 ] || fail "the agent enrolled again"
echo "restart: the same identity, no second enrollment, 1.1.0 still current" >&2

rb=$(api rollback 1.1.0 --os windows --arch x86_64 --reason "e2e: bad build") ||
  fail "rollback 1.1.0"
grep -q "1 agent downgraded" <<<"$rb" || fail "rollback of 1.1.0 did not downgrade the agent: $rb"
wait_for 240 "the downgrade to 1.0.0 reported" count_is 1.0.0 windows x86_64 success 1
[ "$(current)" = versions/1.0.0 ] || fail "current is $(current) after the rollback"
[ "$(state)" = committed ] || fail "journal state $(state) after the rollback"
[ "$(jq -r .target_version "$work/state/journal.json")" = 1.0.0 ] || fail "journal target"
echo "rollback of 1.1.0: the windows agent downgraded to 1.0.0, success counted" >&2

release 1.2.0 access-violation windows
wait_for 240 "1.2.0 reported crash" count_is 1.2.0 windows x86_64 crash 1
[ "$(current)" = versions/1.0.0 ] || fail "current is $(current) after the crash"
[ "$(state)" = reverted ] || fail "journal state $(state) after the crash"
report=$(get "/api/agents/$id" | jq -c '[.history[] | select(.version == "1.2.0")] | first')
echo "crash report: $report" >&2
jq -e '.outcome == "crash" and .error_code == "crash_limit" and .exit_code == -1073741819' \
  <<<"$report" >/dev/null || fail "the crash report lacks its evidence: $report"
jq -e '.message | contains("exception 0xC0000005 (access violation)")' <<<"$report" >/dev/null ||
  fail "the crash report does not name the exception: $report"
jq -e '.stderr_tail | contains("panic: simulated access violation")' <<<"$report" >/dev/null ||
  fail "the crash report lacks the managed agent's stderr: $report"
grep -q "1\.5\.0" "$work/agent.log" && fail "the windows agent saw the linux release"
[ "$(count 1.5.0 linux x86_64 total)" = 0 ] || fail "a linux release was counted"
echo "1.2.0 crashed on windows (0xC0000005): reverted to 1.0.0, crash counted with evidence" >&2

# The service path: the same binary registered with wine's service manager, started (RUNNING only
# once it is up: it starts the managed agent again), asked to stop, STOPPED within its grace time
# with exit code 0.
kill -TERM "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
svc=rollout-agent-e2e-$$
sc_state() { wine sc query "$svc" 2>/dev/null | sed -n 's/^ *STATE *: *[0-9]* *\([A-Z_]*\).*/\1/p'; }
state_is() { [ "$(sc_state)" = "$1" ]; }
managed_pid() { jq -r .pid "$work/state/running.json" 2>/dev/null; }
before=$(managed_pid)
wine sc create "$svc" binpath= "$(wpath "$agent") --config $w/agent.yaml" >/dev/null ||
  fail "sc create"
# Under set -e a failing command ends a trap too: a service that never started must not keep
# stop_all from stopping the server.
remove_service() {
  wine sc stop "$svc" >/dev/null 2>&1 || true
  wine sc delete "$svc" >/dev/null 2>&1 || true
  stop_all
}
trap remove_service EXIT
wine sc start "$svc" >/dev/null || fail "sc start"
wait_for 60 "the service RUNNING" state_is RUNNING
started() { [ "$(managed_pid)" != "$before" ]; }
wait_for 60 "the service's agent starting the managed agent" started
asked=$SECONDS
wine sc stop "$svc" >/dev/null || fail "sc stop"
wait_for 30 "the service STOPPED" state_is STOPPED
took=$((SECONDS - asked))
wine sc query "$svc" | grep -q "SERVICE_EXIT_CODE *: *0 " || fail "the service stopped with an error"
# The SCM keeps no stderr: the service logged to its rotating file in the state directory.
svc_log="$work/state/logs/rollout-agent.log"
[ -f "$svc_log" ] || fail "the service wrote no $svc_log"
grep -qE '^[0-9-]+T[0-9:.]+Z info controller: started version=1[.]0[.]0 ' "$svc_log" ||
  fail "the service log lacks its start line: $(head -5 "$svc_log")"
grep -q ' info controller: stopping' "$svc_log" || fail "the service log lacks its stop line"
wine sc delete "$svc" >/dev/null || fail "sc delete"
trap stop_all EXIT
echo "service: RUNNING after start-up, STOPPED ${took}s after the stop request, exit code 0" >&2

stop_all
grep -q "panic\|Unhandled exception" "$work/agent.log" && fail "the agent itself crashed"
echo "windows update cycle under wine: ok" >&2
