#!/usr/bin/env bash
# Benchmark: how long a rollback takes to reach every agent, with long-poll check-ins and with
# plain polling, one fleet after the other in the same run. For each mode: a rollout-server (TLS
# on loopback, its SQLite database), AGENTS simulated agents (rollout-fleetsim, default 10 000)
# on 1.1.0, 1.1.0 rolled back once every agent is enrolled and has checked in (long-poll: and
# the server holds them all); the mark file holds the rollback's time and fleetsim reports when
# the first / 50 % / 95 % / last agent had its downgrade directive. Long-poll: every check-in
# after the first asks to be held LONG_POLL seconds (a connection per agent, as a real fleet);
# polling: every poll_interval (INTERVAL, default 60s) on CONNS shared connections, the baseline.
# Prints per mode that line, fleetsim's summary, and the server's and the simulator's CPU and
# peak RSS (long-poll: also the server's RSS with every check-in held, per held check-in).
# Not a test: numbers depend on the machine; write them down with the command.
# usage: bench/propagation.sh [BIN_DIR (default build/release)]
#   env: AGENTS (10000), MODES ("long-poll poll"), LONG_POLL (55), INTERVAL (60s),
#        CONNS (polling fleetsim's --connections, 256), THREADS (1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bin=${1:-$ROOT/build/release}
agents=${AGENTS:-10000}
interval=${INTERVAL:-60s}
conns=${CONNS:-256}
threads=${THREADS:-1}
modes=${MODES:-long-poll poll}
long_poll=${LONG_POLL:-55}
ctl="$bin/tools/rolloutctl"
server="$bin/server-plugin/rollout-server"
sim="$bin/tools/rollout-fleetsim"
for b in "$ctl" "$server" "$sim"; do [ -x "$b" ] || { echo "$b not built" >&2; exit 2; }; done
command -v jq >/dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 2; }
secs=$(python3 -c "import sys; t=sys.argv[1]; print(float(t[:-2])/1000 if t.endswith('ms') else
  float(t[:-1])*60 if t.endswith('m') else float(t.rstrip('s')))" "$interval")
work="" spid="" simpid=""
cleanup() {
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  wait 2>/dev/null
  [ -n "$work" ] && rm -rf "$work"
  work="" spid="" simpid=""
}
trap cleanup EXIT

one_run() { # MODE: long-poll | poll
local mode=$1
work=$(mktemp -d)

"$ctl" keygen --role release --out "$work" >/dev/null
"$ctl" keygen --role directive --out "$work" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
openssl rand -base64 18 >"$work/admin-password"
openssl rand -hex 16 >"$work/enroll-key"
chmod 600 "$work/admin-password" "$work/enroll-key"
cat >"$work/server.yaml" <<YAML
listen: {address: 127.0.0.1, port: 0, tls_cert_file: $work/tls.pem, tls_key_file: $work/tls.key}
database_url: sqlite:$work/rollout.db
data_dir: $work
directive_key: $work/directive.key
release_keys: [$work/release.pub]
enrollment_keys: [$(cat "$work/enroll-key")]
admin_password_file: $work/admin-password
poll_interval: $interval
log_level: error
YAML
"$server" --config "$work/server.yaml" >"$work/server.out" 2>"$work/server.err" &
spid=$!
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/server.out")
[ -n "$url" ] || { echo "rollout-server did not start: $(cat "$work/server.err")" >&2; exit 1; }
token=$("$ctl" token create --name bench --server "$url" --ca-file "$work/tls.pem" --user admin \
  --password-file "$work/admin-password")
api() { "$ctl" "$@" --server "$url" --ca-file "$work/tls.pem" --token "$token"; }
for v in 1.0.0 1.1.0; do
  head -c 4096 /dev/urandom >"$work/a-$v"
  "$ctl" sign-release --key "$work/release.key" --artifact "$work/a-$v" --version "$v" --os linux \
    --arch x86_64 --security-version 1 --out "$work/a-$v.manifest" >/dev/null
  api publish --manifest "$work/a-$v.manifest" --artifact "$work/a-$v" >/dev/null
  api promote "$v" --os linux --arch x86_64 --force --reason "bench" >/dev/null
done
# 1.1.0's promotion started a rollout in waves: the fleet enrolls on 1.1.0 with every wave open.
api rollout all 1.1.0 --os linux --arch x86_64 --reason "bench: all at once" >/dev/null

# Long enough for enrollment, the rollback and 1.2 intervals after it; ended early below.
duration=$(python3 -c "print(int(600 + 3 * $secs))")s
start=$(date +%s.%N)
local idle_rss
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
local how=(--connections "$conns")
[ "$mode" = long-poll ] && how=(--connections per-agent --long-poll "$long_poll")
"$sim" --server "$url" --ca-file "$work/tls.pem" --enrollment-key-file "$work/enroll-key" \
  --directive-keys "$work/directive.pub" --release-keys "$work/release.pub" \
  --agents "$agents" --max-agents "$agents" "${how[@]}" --threads "$threads" \
  --version 1.1.0 --duration "$duration" --ready-file "$work/ready" --mark-file "$work/mark" \
  >"$work/sim.json" 2>"$work/sim.err" &
simpid=$!
for _ in $(seq 6000); do [ -f "$work/ready" ] && break; sleep 0.1; done
[ -f "$work/ready" ] || { echo "the fleet was not ready within 600 s" >&2; exit 1; }
ready=$(date +%s.%N)
local held_rss=""
if [ "$mode" = long-poll ]; then
  # Every agent's check-in held (each agent's second check-in is the first held one).
  held() { curl -fsS --cacert "$work/tls.pem" -H "Authorization: Bearer $token" "$url/metrics" |
    sed -n 's/^rollout_checkins_held //p'; }
  for _ in $(seq 600); do [ "$(held)" = "$agents" ] && break; sleep 0.1; done
  [ "$(held)" = "$agents" ] || { echo "only $(held) of $agents check-ins held" >&2; exit 1; }
  held_rss=$(awk '/VmRSS/ {print $2}' "/proc/$spid/status")
fi
date +%s.%N >"$work/mark"
api rollback 1.1.0 --os linux --arch x86_64 --reason "bench: propagation" >/dev/null
if [ "$mode" = long-poll ]; then
  sleep 20  # the goal is 10 s; an agent that has nothing by then shows as a short count
else
  # Every agent polls again within 1.2 intervals (±20 % jitter): wait that, plus a margin.
  sleep "$(python3 -c "print(1.2 * $secs + 3)")"
fi
server_cpu=$(awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$spid/stat")
server_rss=$(awk '/VmHWM/ {print $2}' "/proc/$spid/status")
kill -TERM "$simpid"
wait "$simpid" || true
simpid=
s=$(cat "$work/sim.json")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== $mode: agents: $agents, poll_interval: $interval, fleetsim: ${how[*]}, threads: $threads"
echo "enrolled and checked in once after $(python3 -c "print(round($ready - $start, 1))") s"
jq -r '.received[] | select(.action == "downgrade") |
  "rollback -> downgrade directive: \(.agents) agents, first \(.first_ms) ms, 50 % \(.p50_ms) ms," +
  " 95 % \(.p95_ms) ms, last \(.last_ms) ms (from the \(.from))"' <<<"$s"
jq -r '"check-ins: \(.checkins.answered) answered, \(.checkins.failed) failed \(.checkins.failures)"' \
  <<<"$s"
jq -r '.checkins.latency_ms as $a | .checkins.latency_ms_after_ready as $r |
  "latency (all): p50 \($a.p50) ms, p99 \($a.p99) ms, max \($a.max) ms; after ready (\($r.count)" +
  " check-ins): p50 \($r.p50) ms, p99 \($r.p99) ms, max \($r.max) ms"' <<<"$s"
jq -r '"fleetsim: \(.self.cpu_s) s CPU, peak RSS \(.self.max_rss_kib / 1024 | floor) MiB"' <<<"$s"
echo "rollout-server: $server_cpu s CPU, peak RSS $((server_rss / 1024)) MiB"
if [ -n "$held_rss" ]; then
  echo "rollout-server with all $agents check-ins held: RSS $((held_rss / 1024)) MiB, before the" \
    "fleet $((idle_rss / 1024)) MiB: $(python3 -c "print(round(($held_rss - $idle_rss) / $agents, 1))")" \
    "KiB per held check-in (connection, TLS, coroutine, hold; and the agent's share of caches)"
fi
echo "summary: $s"
cleanup
}

for m in $modes; do
  case $m in long-poll | poll) one_run "$m" ;; *) echo "MODES: unknown mode $m" >&2; exit 2 ;; esac
done
