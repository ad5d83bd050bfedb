# Starting rollout-server instances from the scripts (scripts/demo-fleet, tests/e2e/lib/server.sh),
# sourced after `set -euo pipefail`. One config may serve several instances on one database,
# each with its own --set listen.port=... (and data_dir).
#   server_launch BINARY NAME CONFIG DIR [--set K=V...]
#                  starts BINARY --config CONFIG in the background, its stdout and stderr in
#                  DIR/NAME.out and DIR/NAME.log, and waits (10 s at most) for "listening on";
#                  sets srv_url[NAME] and srv_pid[NAME]. Returns 1 (the log on stderr, the process
#                  stopped) when it exits or does not report its address; the caller says so.
# The caller stops the instances (kill -TERM "${srv_pid[@]}", then wait).
# shellcheck shell=bash

declare -A srv_url=() srv_pid=()

server_launch() {
  local bin=$1 name=$2 config=$3 dir=$4
  shift 4
  "$bin" --config "$config" "$@" >"$dir/$name.out" 2>"$dir/$name.log" &
  srv_pid[$name]=$!
  srv_url[$name]=
  for _ in $(seq 1 100); do
    grep -q "listening on" "$dir/$name.out" 2>/dev/null && break
    kill -0 "${srv_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  srv_url[$name]=$(sed -n 's/^listening on //p' "$dir/$name.out")
  [ -n "${srv_url[$name]}" ] && return 0
  kill -TERM "${srv_pid[$name]}" 2>/dev/null || true
  wait "${srv_pid[$name]}" 2>/dev/null || true
  cat "$dir/$name.log" >&2
  return 1
}
