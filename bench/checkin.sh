#!/usr/bin/env bash
# Benchmark: rollout-server's check-in endpoint against nginx serving a static file of the same
# size, both plain HTTP on loopback, driven by wrk from this machine. Prints requests/s for each
# and the ratio. Not a test: numbers depend on the machine; write them down with the command.
# The check-ins cycle through AGENTS enrolled agents (default 10 000), as a fleet's do; the server
# runs twice, with the default checkin_record_interval and with 0s (every check-in written), on
# each backend: SQLite, then PostgreSQL (a throwaway local cluster, scripts/lib/postgres.sh, one
# database per server; BACKENDS=sqlite leaves it out).
# usage: bench/checkin.sh [BIN_DIR (default build/release)] [SECONDS (default 10)]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/lib/nginx.sh"
source "$ROOT/scripts/lib/postgres.sh"
bin=${1:-$ROOT/build/release}
secs=${2:-10}
conns=${CONNS:-16}
agents=${AGENTS:-10000}  # distinct agents the check-ins cycle through
backends=${BACKENDS:-sqlite postgres}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 2; }
work=$(mktemp -d)
spids=()
cleanup() {
  for p in "${spids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${npid:-}" ] && { kill "$npid" 2>/dev/null || true; }
  pg_stop
  rm -rf "$work"
}
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
# launch NAME DATABASE_URL [--set ...]: a rollout-server on that database; sets url_NAME.
launch() {
  local name=$1 db=$2; shift 2
  "$bin/server-plugin/rollout-server" --config "$work/server.yaml" \
    --set "database_url=$db" "$@" > "$work/$name.out" 2>"$work/$name.err" &
  spids+=($!)
  printf -v "pid_$name" '%s' "$!"
  for _ in $(seq 100); do grep -q listening "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  local url
  url=$(sed -n 's/^listening on //p' "$work/$name.out")
  [ -n "$url" ] || { echo "rollout-server $name did not start: $(cat "$work/$name.err")" >&2; exit 1; }
  printf -v "url_$name" '%s' "$url"
}
# The fleet is enrolled once, through a server on a seed database, over 8 keep-alive
# connections (one "token<TAB>check-in body" line per agent); every measured server starts on a
# copy of it (SQLite: a backup of the file; PostgreSQL: `rollout-server migrate`), so they all
# know the same agents and tokens, and 100 000 agents take one enrollment, not four.
launch seed "sqlite:$work/seed.db"
python3 - "$url_seed" "$agents" > "$work/agents" <<'PY'
import http.client, json, sys, threading, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
n, threads, lines = int(sys.argv[2]), 8, []
def enroll(part):
    c = http.client.HTTPConnection(u.hostname, u.port)
    for i in range(part, n, threads):
        body = json.dumps({"enrollment_key": "bench", "hostname": f"b{i}", "machine_id": f"m{i}",
                           "os": "linux", "arch": "x86_64", "current_version": "1.0.0"})
        c.request("POST", "/api/agent/v1/enroll", body, {"Content-Type": "application/json"})
        r = json.loads(c.getresponse().read())
        checkin = json.dumps({"agent_id": r["agent_id"], "current_version": "1.0.0", "os": "linux",
                              "arch": "x86_64", "state": "idle", "last_sequence": 0,
                              "security_floor": 0}, separators=(",", ":"))
        lines.append(f"{r['token']}\t{checkin}")
ts = [threading.Thread(target=enroll, args=(k,)) for k in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
assert len(lines) == n, f"enrolled {len(lines)} of {n}"
print("\n".join(lines))
PY
kill -TERM "$pid_seed"
wait "$pid_seed" 2>/dev/null || true
copy_sqlite() { # DEST: a consistent copy of the seed database
  python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
    "$work/seed.db" "$1"
}
# "steady": the shipped default (an unchanged agent's time written every 5 min);
# "every": every check-in written durably, as before checkin_record_interval existed.
# On PostgreSQL: one cluster, a database for each server.
chmod 711 "$work"  # the cluster's user (postgres) must reach $work/pg
names=()
for backend in $backends; do
  case $backend in
    sqlite)
      copy_sqlite "$work/steady.db"
      copy_sqlite "$work/every.db"
      launch steady "sqlite:$work/steady.db"
      launch every "sqlite:$work/every.db" --set checkin_record_interval=0s
      names+=(steady every) ;;
    postgres)
      pg_start "$work/pg"
      PGDATABASE=postgres pg_psql -c "CREATE DATABASE rollout_every OWNER rollout" >/dev/null
      for db in "$pg_url" "${pg_url%/rollout}/rollout_every"; do
        "$bin/server-plugin/rollout-server" migrate --from "sqlite:$work/seed.db" --to "$db" \
          --artifacts local > /dev/null
      done
      launch steady_pg "$pg_url"
      launch every_pg "${pg_url%/rollout}/rollout_every" --set checkin_record_interval=0s
      names+=(steady_pg every_pg) ;;
    *) echo "unknown backend '$backend' in BACKENDS (sqlite, postgres)" >&2; exit 2 ;;
  esac
done
IFS=$'\t' read -r token body < "$work/agents"
first_url=url_${names[0]}
answer=$(curl -s -H "Authorization: Bearer $token" -d "$body" "${!first_url}/api/agent/v1/checkin")
printf '%s' "$answer" > "$work/static.json"
# nginx's workers drop to an unprivileged user when started as root: let them read the file.
chmod 755 "$work"
chmod 644 "$work/static.json"

start_nginx "$work" 2 static.json

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "answer body: $answer"
for name in "${names[@]}"; do
  url_var=url_$name
  echo "== rollout-server ($name) POST /api/agent/v1/checkin, $agents agents ($conns connections, ${secs}s)"
  # Unmeasured warm-up: every agent's first check-in is a write whatever the interval.
  ROLLOUT_AGENTS="$work/agents" wrk -t2 -c"$conns" -d3s -s "$ROOT/bench/checkin.lua" \
    "${!url_var}/api/agent/v1/checkin" > /dev/null
  ROLLOUT_AGENTS="$work/agents" wrk -t2 -c"$conns" -d"${secs}s" \
    -s "$ROOT/bench/checkin.lua" "${!url_var}/api/agent/v1/checkin" | tee "$work/$name.txt"
done
echo "== nginx GET static file of the same size"
wrk -t2 -c"$conns" -d"${secs}s" "http://127.0.0.1:$nport/static.json" | tee "$work/nginx.txt"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
theirs=$(awk '/Requests\/sec/ {print $2}' "$work/nginx.txt")
echo "nginx static: $theirs req/s"
for backend in $backends; do
  suffix=''
  [ "$backend" = postgres ] && suffix=_pg
  steady=$(awk '/Requests\/sec/ {print $2}' "$work/steady$suffix.txt")
  every=$(awk '/Requests\/sec/ {print $2}' "$work/every$suffix.txt")
  echo "$backend: check-in (default): $steady req/s; check-in (every one written): $every req/s;" \
    "ratio default/nginx $(ratio "$steady" "$theirs"); every-write/nginx $(ratio "$every" "$theirs");" \
    "default/every-write $(ratio "$steady" "$every")"
done
