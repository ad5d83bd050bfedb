#!/usr/bin/env bash
# The aarch64 update path end to end: the host's (x86_64) rollout-server and rolloutctl, and the
# cross-built rollout-agent run under qemu-aarch64, which runs its managed agent (the cross-built
# rollout-demo-agent) through the same emulator via the agent's `launcher` key. Releases are
# signed for linux/aarch64; an x86_64 release published beside them must be ignored.
#   1.0.0 installed -> 1.1.0 (beta) upgrade: probation passes, `success` counted by the server
#   1.2.0 crashes 1 s after start: reverted to 1.1.0 by the agent, `crash` counted with evidence
#     (SIGABRT and the panic line in the agent's history on the server)
#   an x86_64 1.5.0 published beside them: never offered, never counted
#   1.2.0 then 1.1.0 rolled back: the server directs a downgrade to the stable 1.0.0, `success`
#     counted
# Asserts the server's counts (rolloutctl status --json), its record of the agent, and the
# agent's current pointer and journal. Every process it starts is stopped on exit.
# qemu runs with -L / (the multiarch arm64 runtime): see cmake/toolchains/aarch64-linux-gnu.cmake
# for why -L /usr/aarch64-linux-gnu hangs every fork and thread.
# usage: aarch64_update.sh HOST_BIN_DIR CROSS_BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HOST_BIN_DIR CROSS_BIN_DIR WORK_DIR" >&2; exit 2; }
host=$1 cross=$2 work=$3
source "$(dirname "$0")/lib/server.sh"
qemu=(qemu-aarch64 -L /)
agent="$cross/agent/rollout-agent"
demo="$cross/agent/rollout-demo-agent"
for b in "$agent" "$demo"; do [ -x "$b" ] || fail "$b not built"; done
qemu_path=$(command -v qemu-aarch64) || fail "qemu-aarch64 missing (Debian package qemu-user)"

rm -rf "$work"
mkdir -p "$work/root/versions/1.0.0"
start_server

release() { # VERSION BEHAVIOUR ARCH
  local a="$work/artifacts/demo-$1-$3"
  if [ "$3" = aarch64 ]; then
    "${qemu[@]}" "$demo" --make-variant "$a" --behaviour "$2" --version "$1" >/dev/null
  else
    "$host/agent/rollout-demo-agent" --make-variant "$a" --behaviour "$2" --version "$1" >/dev/null
  fi
  "$ctl" sign-release --key "$work/keys/release.key" --artifact "$a" --version "$1" --os linux \
    --arch "$3" --security-version 1 --out "$a.manifest" >/dev/null
  api publish --manifest "$a.manifest" --artifact "$a" >/dev/null || fail "publish $1 $3"
}
release 1.0.0 healthy aarch64
api promote 1.0.0 --os linux --arch aarch64 --force --reason "e2e: first stable" >/dev/null
cp "$work/artifacts/demo-1.0.0-aarch64" "$work/root/versions/1.0.0/demo-agent"
ln -s versions/1.0.0 "$work/root/current"
release 1.1.0 healthy aarch64
release 1.5.0 healthy x86_64   # another architecture's newer release: never for this agent

cat > "$work/agent.yaml" <<YAML
server_url: $url
ca_file: $work/tls.pem
enrollment_key: $enroll
state_dir: $work/state
install_root: $work/root
executable: demo-agent
launcher: [$qemu_path, -L, /]  # the agent execs it: an absolute path
release_keys: [$work/keys/release.pub]
directive_keys: [$work/keys/directive.pub]
channel_hint: beta
machine_id: e2e-aarch64
poll_interval: 1s
probation: 4s
max_backoff: 2s
log_level: debug
YAML
ROLLOUT_DEMO_HEARTBEAT_MS=60000 "${qemu[@]}" "$agent" --config "$work/agent.yaml" \
  > /dev/null 2> "$work/agent.log" &
pids+=($!)

current() { readlink "$work/root/current"; }
journal() { jq -r "$1" "$work/state/journal.json" 2>/dev/null; }
agent_id() { jq -r .agent_id "$work/state/identity.json" 2>/dev/null; }
agent_record() { get "/api/agents/$(agent_id)"; } # the server's view of this agent
server_sees() { [ "$(agent_record | jq -r .current_version)" = "$1" ]; }

wait_for 180 "1.1.0 reported success" count_is 1.1.0 linux aarch64 success 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the upgrade"
[ "$(journal .state)" = committed ] || fail "journal state $(journal .state) after the upgrade"
[ "$(journal .target_version)" = 1.1.0 ] || fail "journal target $(journal .target_version)"
[ "$(journal .from_version)" = 1.0.0 ] || fail "journal from $(journal .from_version)"
rec=$(agent_record) || fail "GET /api/agents/$(agent_id)"
[ "$(jq -r '.os + "/" + .arch' <<<"$rec")" = linux/aarch64 ] || fail "agent recorded as $rec"
wait_for 30 "the server to see 1.1.0 running" server_sees 1.1.0
echo "${SECONDS}s: upgrade 1.0.0 -> 1.1.0 on aarch64: success counted, current -> versions/1.1.0" >&2

release 1.2.0 crash-after:1 aarch64
wait_for 180 "1.2.0 reported crash" count_is 1.2.0 linux aarch64 crash 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the crash"
[ "$(journal .state)" = reverted ] || fail "journal state $(journal .state) after the crash"
[ "$(journal .target_version)" = 1.2.0 ] || fail "journal target $(journal .target_version)"
journal '.bad_versions[]' | grep -qx 1.2.0 || fail "1.2.0 not marked bad in the journal"
crash=$(agent_record | jq -c '[.history[] | select(.version == "1.2.0")]') ||
  fail "GET /api/agents/$(agent_id)"
[ "$(jq length <<<"$crash")" = 1 ] || fail "1.2.0 history: $crash"
[ "$(jq -r '.[0].outcome' <<<"$crash")" = crash ] || fail "1.2.0 outcome: $crash"
[ "$(jq -r '.[0].error_code' <<<"$crash")" = crash_limit ] || fail "1.2.0 error code: $crash"
[ "$(jq -r '.[0].signal' <<<"$crash")" = 6 ] || fail "1.2.0 signal (SIGABRT expected): $crash"
jq -r '.[0].stderr_tail' <<<"$crash" | grep -q "panic: simulated crash" ||
  fail "1.2.0 stderr evidence: $crash"
grep -q "1.5.0" "$work/agent.log" && fail "the aarch64 agent saw the x86_64 release"
[ "$(count 1.5.0 linux x86_64 total)" = 0 ] || fail "an x86_64 release was counted"
[ "$(count 1.1.0 linux aarch64 success)" = 1 ] || fail "1.1.0 success count changed"
echo "${SECONDS}s: 1.2.0 crashed on aarch64: reverted to 1.1.0, crash counted with SIGABRT and its stderr;" \
  "x86_64 1.5.0 untouched" >&2

# The server counts an agent on a release by its last check-in: wait until it has seen the revert,
# or the rollback of 1.2.0 below would (rightly) count this agent as still on it.
wait_for 30 "the server to see 1.1.0 running again" server_sees 1.1.0
# The crashed release first (nobody is left on it: the agent reverted by itself), then 1.1.0:
# the beta channel falls back to the stable 1.0.0 and the agent on 1.1.0 is told to downgrade.
out=$(api rollback 1.2.0 --os linux --arch aarch64 --reason "e2e: crashes") ||
  fail "rollback 1.2.0: $out"
grep -q "0 agents downgraded" <<<"$out" || fail "rollback of 1.2.0: $out"
out=$(api rollback 1.1.0 --os linux --arch aarch64 --reason "e2e: bad build") ||
  fail "rollback 1.1.0: $out"
grep -q "1 agent downgraded (to 1.0.0)" <<<"$out" || fail "rollback of 1.1.0: $out"
wait_for 180 "the downgrade to 1.0.0 reported success" count_is 1.0.0 linux aarch64 success 1
[ "$(current)" = versions/1.0.0 ] || fail "current is $(current) after the rollback"
[ "$(journal .state)" = committed ] || fail "journal state $(journal .state) after the rollback"
[ "$(journal .target_version)" = 1.0.0 ] || fail "journal target $(journal .target_version)"
[ "$(count 1.2.0 linux aarch64 crash)" = 1 ] || fail "1.2.0 crash count changed"
[ "$(count 1.1.0 linux aarch64 success)" = 1 ] || fail "1.1.0 lost its success on rollback"
echo "${SECONDS}s: 1.1.0 rolled back: the agent downgraded to 1.0.0 on the server's directive" >&2
