#!/usr/bin/env bash
# Benchmark: rollout-server's check-in endpoint against nginx serving a static file of the same
# size, both plain HTTP on loopback, driven by wrk from this machine. Prints requests/s for each
# and the ratio. Not a test: numbers depend on the machine; write them down with the command.
# usage: bench/checkin.sh [BIN_DIR (default build/release)] [SECONDS (default 10)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
bin=${1:-$ROOT/build/release}
secs=${2:-10}
conns=${CONNS:-16}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 2; }
work=$(mktemp -d)
cleanup() { [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null; [ -n "${npid:-}" ] && kill "$npid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin/tools/rolloutctl" keygen --role release --out "$work" >/dev/null
"$bin/tools/rolloutctl" keygen --role directive --out "$work" >/dev/null
cat > "$work/server.yaml" <<YAML
listen: {address: 127.0.0.1, port: 0}
database_url: sqlite:$work/rollout.db
data_dir: $work
directive_key: $work/directive.key
release_keys: [$work/release.pub]
enrollment_keys: [bench]
log_level: error
YAML
"$bin/server-plugin/rollout-server" --config "$work/server.yaml" > "$work/out" 2>"$work/err" &
spid=$!
for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/out")
enroll=$(curl -s -d '{"enrollment_key":"bench","hostname":"b","machine_id":"b","os":"linux","arch":"x86_64","current_version":"1.0.0"}' "$url/api/agent/v1/enroll")
id=$(printf '%s' "$enroll" | sed -n 's/.*"agent_id":"\([^"]*\)".*/\1/p')
export ROLLOUT_TOKEN=$(printf '%s' "$enroll" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
export ROLLOUT_BODY="{\"agent_id\":\"$id\",\"current_version\":\"1.0.0\",\"os\":\"linux\",\"arch\":\"x86_64\",\"state\":\"idle\",\"last_sequence\":0,\"security_floor\":0}"
answer=$(curl -s -H "Authorization: Bearer $ROLLOUT_TOKEN" -d "$ROLLOUT_BODY" "$url/api/agent/v1/checkin")
printf '%s' "$answer" > "$work/static.json"

mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<NGINX
worker_processes 2;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:0; location / { root $work; } }
}
NGINX
# nginx cannot bind port 0 usefully; pick a free port through the kernel first.
nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18099)
sed -i "s/127.0.0.1:0/127.0.0.1:$nport/" "$work/nginx.conf"
nginx -c "$work/nginx.conf" -g 'daemon off;' &
npid=$!
sleep 0.5

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "answer body: $answer"
echo "== rollout-server POST /api/agent/v1/checkin ($conns connections, ${secs}s)"
wrk -t2 -c"$conns" -d"${secs}s" -s "$ROOT/bench/checkin.lua" "$url/api/agent/v1/checkin" | tee "$work/ours"
echo "== nginx GET static file of the same size"
wrk -t2 -c"$conns" -d"${secs}s" "http://127.0.0.1:$nport/static.json" | tee "$work/nginx.txt"
ours=$(awk '/Requests\/sec/ {print $2}' "$work/ours")
theirs=$(awk '/Requests\/sec/ {print $2}' "$work/nginx.txt")
echo "check-in: $ours req/s; nginx static: $theirs req/s; ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.3f", a/b}')"
