#!/usr/bin/env bash
# The aarch64 update path end to end: the host's (x86_64) rollout-server and rolloutctl, and the
# cross-built rollout-agent run under qemu-aarch64, which runs its managed agent (the cross-built
# rollout-demo-agent) through the same emulator via the agent's `launcher` key. Releases are
# signed for linux/aarch64; an x86_64 release published beside them must be ignored.
#   1.0.0 installed -> 1.1.0 (beta) upgrade: probation passes, `success` counted by the server
#   1.2.0 crashes 1 s after start: reverted to 1.1.0 by the agent, `crash` counted with evidence
# Asserts the server's counts (rolloutctl status --json) and the agent's current pointer and
# journal. Every process it starts is stopped on exit.
# usage: aarch64_update.sh HOST_BIN_DIR CROSS_BIN_DIR WORK_DIR
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 HOST_BIN_DIR CROSS_BIN_DIR WORK_DIR" >&2; exit 2; }
host=$1 cross=$2 work=$3
source "$(dirname "$0")/lib/server.sh"
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
agent="$cross/agent/rollout-agent"
demo="$cross/agent/rollout-demo-agent"
for b in "$agent" "$demo"; do [ -x "$b" ] || fail "$b not built"; done
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 missing (Debian package qemu-user)"

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
launcher: [qemu-aarch64, -L, /usr/aarch64-linux-gnu]
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
state() { jq -r .state "$work/state/journal.json" 2>/dev/null; }

wait_for 240 "1.1.0 reported success" count_is 1.1.0 linux aarch64 success 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the upgrade"
[ "$(state)" = committed ] || fail "journal state $(state) after the upgrade"
echo "upgrade 1.0.0 -> 1.1.0 on aarch64: success counted, current -> versions/1.1.0" >&2

release 1.2.0 crash-after:1 aarch64
wait_for 240 "1.2.0 reported crash" count_is 1.2.0 linux aarch64 crash 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the crash"
[ "$(state)" = reverted ] || fail "journal state $(state) after the crash"
grep -q "1.5.0" "$work/agent.log" && fail "the aarch64 agent saw the x86_64 release"
[ "$(count 1.5.0 linux x86_64 total)" = 0 ] || fail "an x86_64 release was counted"
[ "$(count 1.1.0 linux aarch64 success)" = 1 ] || fail "1.1.0 success count changed"
echo "1.2.0 crashed on aarch64: reverted to 1.1.0, crash counted; x86_64 1.5.0 untouched" >&2
