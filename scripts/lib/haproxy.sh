# A local load balancer in front of several rollout-server instances (scripts/demo-fleet
# --postgres, tests/e2e/two_servers.sh), sourced after `set -euo pipefail`. Debian's haproxy in
# TCP mode: TLS passes through to rollout-server untouched (agents verify the server's own
# certificate), connections go round-robin, and an instance is taken out within about a second
# of failing its health check (GET /healthz over TLS every 300 ms, down after 2 misses). A
# connection refused by a dead instance before its check notices is retried on another
# (redispatch), and connections still open to an instance marked down are cut, so agents
# reconnect to a live one.
#   lb_start DIR CA_FILE PORT NAME=127.0.0.1:PORT...
#                  writes DIR/haproxy.cfg, starts haproxy in the foreground of a background job
#                  (its log, one line per connection naming the instance, in DIR/haproxy.log)
#                  on loopback port PORT (0: a free one) and waits until it accepts
#                  connections; CA_FILE verifies the instances' certificates. Sets lb_url
#                  (https://127.0.0.1:PORT), lb_port and lb_pid. Fails (exit non-zero) when
#                  haproxy is missing (naming the package) or does not start.
#   lb_state NAME  prints UP, DOWN, ... for one instance, from haproxy's stats socket
#   lb_stop        stops it (TERM, then KILL after 5 s); a no-op when nothing was started. When
#                  the calling shell dies without it (SIGKILL), a watchdog (scripts/lib/
#                  watchdog.sh) stops haproxy within seconds.
# Only the haproxy started here is touched: the system's haproxy service (which Debian's package
# may start on install) has its own config and ports and does not matter.
# shellcheck shell=bash
# shellcheck source=scripts/lib/ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
# shellcheck source=scripts/lib/watchdog.sh
source "$(dirname "${BASH_SOURCE[0]}")/watchdog.sh"

lb_dir='' lb_url='' lb_port='' lb_pid=''

lb_start() {
  local dir=$1 ca=$2 want=$3 port entry servers=''
  shift 3
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || {
    printf 'error: haproxy not found: install the Debian package haproxy (./scripts/run and ./scripts/test install it)\n' >&2
    exit 1
  }
  mkdir -p "$dir"
  lb_dir=$(cd "$dir" && pwd)
  for entry in "$@"; do
    servers+="  server ${entry%%=*} ${entry#*=} check check-ssl verify required ca-file $ca"
    servers+=" inter 300ms fastinter 200ms downinter 300ms fall 2 rise 1"
    servers+=" on-marked-down shutdown-sessions"$'\n'
  done
  for _ in 1 2 3 4 5; do
    port=$want
    [ "$port" != 0 ] || port=$(free_port)
    cat >"$lb_dir/haproxy.cfg" <<CFG
global
  log stdout format raw local0 info
  stats socket $lb_dir/haproxy.sock mode 600 level admin
  maxconn 4000

defaults
  mode tcp
  log global
  option tcplog
  option redispatch
  retries 3
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  timeout check 1s

frontend rollout
  bind 127.0.0.1:$port
  default_backend servers

backend servers
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
$servers
CFG
    "$(command -v haproxy || echo /usr/sbin/haproxy)" -db -f "$lb_dir/haproxy.cfg" \
      >>"$lb_dir/haproxy.log" 2>&1 &
    lb_pid=$!
    for _ in $(seq 1 50); do
      kill -0 "$lb_pid" 2>/dev/null || break
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        lb_port=$port
        lb_url="https://127.0.0.1:$port"
        rm -f "$lb_dir/stopped"
        watchdog "$$" "$lb_dir/stopped" bash -c \
          "[ \"\$(cat /proc/$lb_pid/comm 2>/dev/null)\" = haproxy ] && kill -KILL $lb_pid"
        return 0
      fi
      sleep 0.1
    done
    kill -KILL "$lb_pid" 2>/dev/null || true
    wait "$lb_pid" 2>/dev/null || true
    lb_pid=''
    { [ "$want" = 0 ] && grep -q "cannot bind\|Address already in use" "$lb_dir/haproxy.log"; } || break
  done
  tail -20 "$lb_dir/haproxy.log" >&2
  printf 'error: haproxy did not start (config %s, log %s)\n' "$lb_dir/haproxy.cfg" \
    "$lb_dir/haproxy.log" >&2
  exit 1
}

lb_state() {
  [ -n "$lb_dir" ] || return 1
  python3 - "$lb_dir/haproxy.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
for line in out.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and f[0] == "servers" and f[1] == sys.argv[2]:
        print(f[17].split(" ")[0])
PY
}

lb_stop() {
  [ -n "$lb_pid" ] || return 0
  kill -TERM "$lb_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$lb_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$lb_pid" 2>/dev/null || true
  wait "$lb_pid" 2>/dev/null || true
  # shellcheck disable=SC2034 # lb_port and lb_url are for the callers
  lb_pid='' lb_port='' lb_url=''
  if [ -d "$lb_dir" ]; then : >"$lb_dir/stopped"; fi # the watchdog's cue: nothing left to do
}
