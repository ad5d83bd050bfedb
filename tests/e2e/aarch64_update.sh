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
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && tail -30 "$work/agent.log" >&2; exit 1; }
qemu=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
ctl="$host/tools/rolloutctl"
server="$host/server-plugin/rollout-server"
agent="$cross/agent/rollout-agent"
demo="$cross/agent/rollout-demo-agent"
for b in "$ctl" "$server" "$agent" "$demo"; do [ -x "$b" ] || fail "$b not built"; done
command -v qemu-aarch64 >/dev/null || fail "qemu-aarch64 missing (Debian package qemu-user)"

rm -rf "$work"
mkdir -p "$work/keys" "$work/data" "$work/artifacts" "$work/root/versions/1.0.0"
chmod 700 "$work"
pids=()
stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

"$ctl" keygen --role release --out "$work/keys" >/dev/null
"$ctl" keygen --role directive --out "$work/keys" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
openssl rand -base64 18 > "$work/admin-password"
chmod 600 "$work/admin-password"
enroll=$(openssl rand -hex 16)
cat > "$work/server.yaml" <<YAML
listen: {address: 127.0.0.1, port: 0, tls_cert_file: $work/tls.pem, tls_key_file: $work/tls.key}
database_url: sqlite:$work/data/rollout.db
data_dir: $work/data
directive_key: $work/keys/directive.key
release_keys: [$work/keys/release.pub]
enrollment_keys: [$enroll]
admin_password_file: $work/admin-password
poll_interval: 1s
log_level: warn
YAML
"$server" --config "$work/server.yaml" > "$work/server.out" 2> "$work/server.log" &
pids+=($!)
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$url" ] || fail "rollout-server did not start: $(cat "$work/server.log")"
token=$("$ctl" token create --name e2e --server "$url" --ca-file "$work/tls.pem" --user admin \
  --password-file "$work/admin-password") || fail "token create"
api() { "$ctl" "$@" --server "$url" --ca-file "$work/tls.pem" --token "$token"; }

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

count() { # VERSION ARCH FIELD -> the server's count for that release
  api status --json 2>/dev/null | jq -r --arg v "$1" --arg a "$2" --arg f "$3" \
    '[.rollouts[] | select(.version == $v and .os == "linux" and .arch == $a) | .health[$f]]
     | first // 0'
}
wait_for() { # SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 i
  shift 2
  for i in $(seq 1 $((limit * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  fail "$what within ${limit}s"
}
current() { readlink "$work/root/current"; }
state() { jq -r .state "$work/state/journal.json" 2>/dev/null; }

wait_for 240 "1.1.0 reported success" test "$(count 1.1.0 aarch64 success)" = 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the upgrade"
[ "$(state)" = committed ] || fail "journal state $(state) after the upgrade"
echo "upgrade 1.0.0 -> 1.1.0 on aarch64: success counted, current -> versions/1.1.0" >&2

release 1.2.0 crash-after:1 aarch64
wait_for 240 "1.2.0 reported crash" test "$(count 1.2.0 aarch64 crash)" = 1
[ "$(current)" = versions/1.1.0 ] || fail "current is $(current) after the crash"
[ "$(state)" = reverted ] || fail "journal state $(state) after the crash"
grep -q "1.5.0" "$work/agent.log" && fail "the aarch64 agent saw the x86_64 release"
[ "$(count 1.5.0 x86_64 total)" = 0 ] || fail "an x86_64 release was counted"
[ "$(count 1.1.0 aarch64 success)" = 1 ] || fail "1.1.0 success count changed"
echo "1.2.0 crashed on aarch64: reverted to 1.1.0, crash counted; x86_64 1.5.0 untouched" >&2
