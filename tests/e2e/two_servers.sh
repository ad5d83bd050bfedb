#!/usr/bin/env bash
# Two rollout-server instances, A and B, on one PostgreSQL (scripts/lib/postgres.sh) behind
# haproxy (scripts/lib/haproxy.sh, TCP mode, TLS passed through), with real rollout-agent
# processes whose server_url is haproxy's (issue #14, "Several instances"):
#   a) 1.0.0 and 1.1.0 published through A's own address; AGENTS agents (default 50) enroll
#      through the load balancer on 1.0.0;
#   b) 1.1.0 promoted through A (waves all at once): B hands out install directives for it, and
#      both instances served check-ins (their /metrics);
#   c) A killed with SIGKILL while the agents install and report: every agent reaches 1.1.0
#      through B, and B counts exactly AGENTS successes and AGENTS attempts for 1.1.0 (no
#      acknowledged report lost, none counted twice);
#   d) A restarted on its port; 1.1.0 rolled back through B while A serves check-ins (A hands
#      out downgrade directives): every agent is back on 1.0.0, and the audit trail read through
#      A has the promotion and the rollback of 1.1.0 once each.
# Each check-in is its own connection (the servers close a connection idle for 1 s, the agents
# poll every 2 s), so haproxy's round robin spreads them over both instances.
# Bounded: every wait has a limit and a message; ctest's TIMEOUT bounds the whole. On failure:
# the tails of both servers' logs, haproxy's, the first agents' logs. Stops all it started and
# removes the PostgreSQL directory.
# usage: two_servers.sh BIN_DIR WORK_DIR [AGENTS]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 BIN_DIR WORK_DIR [AGENTS]" >&2; exit 2; }
host=$1 work=$2 agents=${3:-50}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/server.sh"
source "$here/../../scripts/lib/postgres.sh"
source "$here/../../scripts/lib/haproxy.sh"
source "$here/../../scripts/lib/agents.sh"
agent_bin="$host/agent/rollout-agent"
demo_bin="$host/agent/rollout-demo-agent"
for b in "$agent_bin" "$demo_bin"; do [ -x "$b" ] || fail "$b not built (the dev preset)"; done
command -v jq >/dev/null || fail "jq missing"

fail_details() {
  local f
  for f in "$work/A.log" "$work/B.log" "$lb_dir/haproxy.log"; do
    [ -f "$f" ] && { echo "--- tail of $f"; tail -20 "$f"; }
  done
  for f in "$work"/fleet/agent-00{1,2}/agent.log; do
    [ -f "$f" ] && { echo "--- tail of $f"; tail -15 "$f"; }
  done
  echo "--- haproxy: A $(lb_state A 2>/dev/null), B $(lb_state B 2>/dev/null)"
}

rm -rf "$work"
mkdir -p "$work/fleet"
# PostgreSQL's files belong to its own user, who cannot enter $work (mode 700): a directory of
# its own, short enough for the unix socket's path.
pgdir=$(mktemp -d /tmp/rollout-2s-XXXXXX)
cleanup() {
  stop_all
  lb_stop
  pg_stop
  rm -rf "$pgdir"
}
trap cleanup EXIT
pg_start "$pgdir"

make_keys
# No shared filesystem: a data_dir each, and the artifacts in the database (artifact_store: auto
# is database on PostgreSQL), so B serves what was published through A.
data_a="$work/data-a" data_b="$work/data-b"
mkdir -p "$data_a" "$data_b"
write_server_config "$work/server.yaml" "$pg_url" "$data_a"
settings=(--set poll_interval=2s --set http.read_timeout=1s --set waves.all_at_once=true)
port_a=$(free_port)
port_b=$(free_port)
launch_server A "$work/server.yaml" --set "listen.port=$port_a" --set "data_dir=$data_a" "${settings[@]}"
launch_server B "$work/server.yaml" --set "listen.port=$port_b" --set "data_dir=$data_b" "${settings[@]}"
lb_start "$work/lb" "$work/tls.pem" 0 "A=127.0.0.1:$port_a" "B=127.0.0.1:$port_b"
create_token "${srv_url[A]}"
url=${srv_url[A]} # api and get (tests/e2e/lib/server.sh) talk to A until it is killed
lb_up() { [ "$(lb_state "$1")" = UP ]; }
wait_for 10 "haproxy seeing A up" lb_up A
wait_for 10 "haproxy seeing B up" lb_up B

# ---- a) releases through A; the agents enroll through the load balancer ----
release() { # VERSION
  local a="$work/releases/rollout-demo-agent-$1"
  mkdir -p "$work/releases"
  "$demo_bin" --make-variant "$a" --behaviour healthy --version "$1" >/dev/null
  "$ctl" sign-release --key "$work/keys/release.key" --artifact "$a" --version "$1" --os linux \
    --arch x86_64 --security-version 1 --out "$a.manifest" >/dev/null
  api publish --manifest "$a.manifest" --artifact "$a" >/dev/null || fail "publish $1 through A"
}
release 1.0.0
api promote 1.0.0 --os linux --arch x86_64 --force --reason "two servers: first stable" \
  >/dev/null || fail "promote 1.0.0"
release 1.1.0

start_agent() { # INDEX
  local name d
  name=$(printf 'agent-%03d' "$1")
  d="$work/fleet/$name"
  agent_sandbox "$d" "$work/releases/rollout-demo-agent-1.0.0" rollout-demo-agent
  {
    agent_yaml "$d" "$lb_url" "$work/tls.pem" "$enroll" "$work/keys" rollout-demo-agent "$name" \
      stable
    printf '%s\n' "machine_id: two-servers-$name" "poll_interval: 2s" "probation: 4s" \
      "max_backoff: 3s"
  } >"$d/agent.yaml"
  ROLLOUT_DEMO_HEARTBEAT_MS=60000 "$agent_bin" --config "$d/agent.yaml" >/dev/null \
    2>"$d/agent.log" &
  pids+=($!)
}
for i in $(seq 1 "$agents"); do start_agent "$i"; done
listed() { [ "$(get /api/agents | jq '.agents | length')" = "$agents" ]; }
wait_for 60 "the servers listing $agents agents" listed
on() { # VERSION: every agent on it, as the server (through $url) sees them
  [ "$(get /api/agents | jq --arg v "$1" '[.agents[] | select(.current_version == $v)] | length')" \
    = "$agents" ]
}
wait_for 30 "all $agents agents on 1.0.0" on 1.0.0

# ---- b) promoted through A, handed out by B too ----
metric() { # INSTANCE NAME (a Prometheus sample line's name with labels)
  curl -fsS --cacert "$work/tls.pem" -H "Authorization: Bearer $token" "${srv_url[$1]}/metrics" |
    awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}
api promote 1.1.0 --os linux --arch x86_64 --force --reason "two servers: install" >/dev/null ||
  fail "promote 1.1.0 through A"
b_installs() { [ "$(metric B 'rollout_directives_total{action="install"}')" -gt 0 ]; }
wait_for 20 "B handing out an install directive for 1.1.0 promoted on A" b_installs

# ---- c) A killed with SIGKILL while the agents install and report ----
# As soon as the first reports are counted (the rest are on their way, through both).
before=0
for _ in $(seq 1 300); do
  before=$(count 1.1.0 linux x86_64 success)
  [ "$before" -gt 0 ] && break
  sleep 0.1
done
[ "$before" -gt 0 ] || fail "no success report of 1.1.0 within 30s"
checkins_a=$(metric A rollout_checkins_total) checkins_b=$(metric B rollout_checkins_total)
[ "$checkins_a" -gt 0 ] && [ "$checkins_b" -gt 0 ] ||
  fail "both instances should have served check-ins: A $checkins_a, B $checkins_b"
kill -KILL "${srv_pid[A]}"
wait "${srv_pid[A]}" 2>/dev/null || true
echo "killed A (SIGKILL) with $before of $agents successes counted; check-ins so far: A" \
  "$checkins_a, B $checkins_b"
[ "$before" -lt "$agents" ] || echo "note: every report was counted before the kill"
url=${srv_url[B]}
wait_for 60 "every agent on 1.1.0 through B" on 1.1.0
# The agents that downloaded after the kill got 1.1.0 from B, which was never sent it and holds
# no artifact file: both instances serve artifacts from the database.
for d in "$data_a" "$data_b"; do
  [ -z "$(find "$d" -type f -path '*/artifacts/*' | head -1)" ] ||
    fail "an artifact file in $d: artifacts should be in the database"
done
wait_for 30 "$agents successes of 1.1.0 counted" count_is 1.1.0 linux x86_64 success "$agents"
# Every report acknowledged: no agent holds one queued (nor set aside as refused or unreadable),
# so the counts are final.
queues_empty() { [ -z "$(find "$work"/fleet/*/state/reports -type f 2>/dev/null | head -1)" ]; }
wait_for 30 "every agent's report queue empty (all acknowledged)" queues_empty
for f in success total; do
  n=$(count 1.1.0 linux x86_64 "$f")
  [ "$n" = "$agents" ] || fail "B counts $n $f for 1.1.0, not $agents (lost or counted twice)"
done

# ---- d) A back; rolled back through B while A serves check-ins ----
launch_server A "$work/server.yaml" --set "listen.port=$port_a" --set "data_dir=$data_a" "${settings[@]}"
wait_for 10 "haproxy seeing the restarted A up" lb_up A
a_serves() { [ "$(metric A rollout_checkins_total)" -gt 0 ]; }
wait_for 20 "the restarted A serving check-ins" a_serves
out=$(api rollback 1.1.0 --os linux --arch x86_64 --reason "two servers: bad build") ||
  fail "rollback 1.1.0 through B: $out"
wait_for 60 "every agent back on 1.0.0" on 1.0.0
downgrades_a=$(metric A 'rollout_directives_total{action="downgrade"}')
downgrades_b=$(metric B 'rollout_directives_total{action="downgrade"}')
[ "$downgrades_a" -gt 0 ] ||
  fail "A served check-ins but handed out no downgrade (B handed out $downgrades_b)"
url=${srv_url[A]}
events=$(get '/api/updates/events?limit=200') || fail "GET /api/updates/events through A"
for action in promote rollback; do
  n=$(jq --arg a "$action" '[.events[] | select(.action == $a and .version == "1.1.0")] | length' \
    <<<"$events")
  [ "$n" = 1 ] || fail "the audit trail (through A) has $n $action events of 1.1.0, not 1"
done
echo "PASS: $agents agents through haproxy on two instances; downgrades handed out: A" \
  "$downgrades_a, B $downgrades_b"
