# Shell helpers for the cross-platform update e2e scripts (aarch64_update.sh, windows_update.sh),
# sourced after `set -euo pipefail` with $work (a fresh work directory) and $host (the Linux build
# holding rollout-server and rolloutctl) set:
#   start_server        keys, a TLS certificate for 127.0.0.1, rollout-server on a free port;
#                       sets $url, $token, $enroll; the fleet's processes go into $pids
#   make_keys           only the keys, certificate, admin password and $enroll of start_server
#   write_server_config FILE DATABASE_URL DATA_DIR   the server.yaml start_server uses
#   launch_server NAME CONFIG [--set K=V...]   one rollout-server, its stdout and stderr in
#                       $work/NAME.out and NAME.log; sets srv_url[NAME] and srv_pid[NAME] (several
#                       instances on one config differ by --set listen.port=...)
#   create_token URL    an admin API token through URL (sets $token)
#   api ARGS...         rolloutctl against it with the admin token
#   get PATH            a GET of the HTTP API with the admin token (curl)
#   count V OS ARCH F   the server's health count F (success, crash, total...) for a release
#   count_is V OS ARCH F N, wait_for SECONDS WHAT COMMAND...   wait for a count (or anything)
#   stop_all            stops what was started (also on exit)
#   fail MESSAGE        says why, with the tail of $work/agent.log, what the script's own
#                       fail_details function prints (when it defines one) and the server's rollouts
# shellcheck source=scripts/lib/instances.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/instances.sh"
ctl="$host/tools/rolloutctl"
server="$host/server-plugin/rollout-server"
pids=()
token=

fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/agent.log" ] && tail -40 "$work/agent.log" >&2
  [ -f "$work/state/journal.json" ] && cat "$work/state/journal.json" >&2
  declare -F fail_details >/dev/null && { fail_details >&2 || true; }
  [ -n "$token" ] && { echo "the server's rollouts:" >&2; api status --json >&2 || true; }
  exit 1
}

stop_all() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

make_keys() {
  for b in "$ctl" "$server"; do [ -x "$b" ] || fail "$b not built (the dev preset)"; done
  mkdir -p "$work/keys"
  chmod 700 "$work"
  "$ctl" keygen --role release --out "$work/keys" >/dev/null
  "$ctl" keygen --role directive --out "$work/keys" >/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" \
    -out "$work/tls.pem" 2>/dev/null
  openssl rand -base64 18 >"$work/admin-password"
  chmod 600 "$work/admin-password"
  enroll=$(openssl rand -hex 16)
}

write_server_config() { # FILE DATABASE_URL DATA_DIR
  mkdir -p "$3"
  cat >"$1" <<YAML
listen: {address: 127.0.0.1, port: 0, tls_cert_file: $work/tls.pem, tls_key_file: $work/tls.key}
database_url: $2
data_dir: $3
directive_key: $work/keys/directive.key
release_keys: [$work/keys/release.pub]
enrollment_keys: [$enroll]
admin_password_file: $work/admin-password
poll_interval: 1s
log_level: warn
YAML
}

launch_server() { # NAME CONFIG [--set K=V...]
  local name=$1
  server_launch "$server" "$name" "$2" "$work" "${@:3}" 2>"$work/$name.err" ||
    fail "rollout-server $name did not start: $(cat "$work/$name.err")"
  pids+=("${srv_pid[$name]}")
}

create_token() { # URL
  token=$("$ctl" token create --name e2e --server "$1" --ca-file "$work/tls.pem" --user admin \
    --password-file "$work/admin-password") || fail "token create"
}

start_server() {
  make_keys
  mkdir -p "$work/artifacts"
  write_server_config "$work/server.yaml" "sqlite:$work/data/rollout.db" "$work/data"
  launch_server server "$work/server.yaml"
  url=${srv_url[server]}
  create_token "$url"
}

api() { "$ctl" "$@" --server "$url" --ca-file "$work/tls.pem" --token "$token"; }
get() { curl -fsS --cacert "$work/tls.pem" -H "Authorization: Bearer $token" "$url$1"; }

count() {
  api status --json 2>/dev/null | jq -r --arg v "$1" --arg o "$2" --arg a "$3" --arg f "$4" \
    '[.rollouts[] | select(.version == $v and .os == $o and .arch == $a) | .health[$f]]
     | first // 0'
}
# Evaluated afresh at every try of wait_for (a `test "$(count ...)"` argument would be evaluated
# once, before the first try).
count_is() { [ "$(count "$1" "$2" "$3" "$4")" = "$5" ]; }

wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for i in $(seq 1 $((limit * 2))); do
    "$@" && return 0
    sleep 0.5
  done
  fail "$what within ${limit}s"
}
