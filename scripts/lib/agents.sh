# One real rollout-agent's sandbox for the scripts' fleets (scripts/demo-fleet, tests/e2e/
# two_servers.sh), sourced after `set -euo pipefail`:
#   agent_sandbox DIR ARTIFACT EXE [windows]
#                  DIR/root/versions/1.0.0/EXE copied from ARTIFACT and `current` pointing at it
#                  (a symlink; on Windows a pointer file, which is what the agent reads there)
#   agent_yaml DIR SERVER_URL CA_FILE ENROLLMENT_KEY KEYS_DIR EXE HOSTNAME CHANNEL [PATH_FN]
#                  prints the agent.yaml lines every such agent has (its state and install root
#                  in DIR, KEYS_DIR/release.pub and directive.pub trusted); PATH_FN turns a path
#                  into the agent's view of it (wpath for an agent under wine). The caller adds
#                  its machine_id, labels and timings.
# Nothing is started here: the caller runs the agent with DIR/agent.yaml and owns the process.
# shellcheck shell=bash

agent_sandbox() {
  local d=$1 artifact=$2 exe=$3 os=${4:-linux}
  mkdir -p "$d/root/versions/1.0.0"
  cp "$artifact" "$d/root/versions/1.0.0/$exe"
  if [ "$os" = windows ]; then
    printf 'versions/1.0.0\n' >"$d/root/current"
  else
    ln -s versions/1.0.0 "$d/root/current"
  fi
}

_agent_same_path() { echo "$1"; }

agent_yaml() {
  local d=$1 url=$2 ca=$3 enroll=$4 keys=$5 exe=$6 name=$7 channel=$8 p=${9:-_agent_same_path}
  cat <<YAML
server_url: $url
ca_file: $($p "$ca")
enrollment_key: $enroll
state_dir: $($p "$d/state")
install_root: $($p "$d/root")
executable: $exe
release_keys: [$($p "$keys/release.pub")]
directive_keys: [$($p "$keys/directive.pub")]
channel_hint: $channel
hostname: $name
YAML
}
