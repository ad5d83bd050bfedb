# A throwaway local PostgreSQL for the scripts (scripts/demo-fleet --postgres, tests/e2e/
# two_servers.sh), sourced after `set -euo pipefail`. The shell twin of the C++ test cluster
# (tests/testing/postgres/pg_cluster.cpp):
#   pg_start DIR   initdb into DIR/data (DIR is created, or must be empty), then starts it
#                  listening only on 127.0.0.1 on a free port plus a unix socket in DIR/sock;
#                  creates the database `rollout` owned by the password user `rollout`.
#                  Sets pg_url (postgresql://rollout:PW@127.0.0.1:PORT/rollout), pg_port,
#                  pg_pid (the postmaster) and pg_dir. Fails (exit non-zero, the log's tail on
#                  stderr) when PostgreSQL 15 is missing or does not start: never a skip.
#   pg_stop        pg_ctl stop -m fast (then immediate, then SIGKILL), each bounded; a no-op when
#                  nothing was started. Callers put it in their EXIT trap. DIR is left in place
#                  (its owner decides: a temp dir is removed with the rest of it).
#   pg_psql ARGS   psql as the superuser over the unix socket, on the `rollout` database
#                  (PGDATABASE=postgres pg_psql ... for another).
# As root (initdb and postgres refuse root), DIR belongs to the user `postgres` (or `nobody`) and
# the PostgreSQL programs run as it through setpriv; every directory above DIR must be
# searchable by that user. The unix socket path must stay under 107 bytes: keep DIR short.
# Not durable (fsync off): a demo and test cluster only.
# shellcheck shell=bash

pg_dir='' pg_url='' pg_port='' pg_pid='' pg_bin='' pg_as=()

_pg_fail() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# The directory holding initdb, pg_ctl and psql of PostgreSQL 15 or later: PATH first, then
# Debian's postgresql-15 (which does not put them on PATH).
_pg_find() {
  local d v major
  for d in $(printf '%s' "${PATH:-}" | tr ':' ' ') /usr/lib/postgresql/15/bin; do
    { [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; } || continue
    v=$("$d/initdb" --version 2>/dev/null) || continue # "initdb (PostgreSQL) 15.5 (...)"
    major=$(printf '%s' "$v" | sed -n 's/^[^)]*) \([0-9]*\).*/\1/p')
    [ "${major:-0}" -ge 15 ] ||
      _pg_fail "PostgreSQL at $d is '$v'; PostgreSQL 15 is needed: apt-get install postgresql-15"
    pg_bin=$d
    return 0
  done
  _pg_fail "initdb, pg_ctl and psql not found on PATH nor in /usr/lib/postgresql/15/bin:" \
    "install the Debian package postgresql-15 (./scripts/run and ./scripts/test install it)"
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs a PostgreSQL program as the cluster's user, in DIR (the user may not be able to enter the
# caller's working directory).
_pg_run() { "${pg_as[@]}" /usr/bin/env -C "$pg_dir" "$@"; }

pg_start() {
  local dir=$1 user=rollout db=rollout pw port log
  _pg_find
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || _pg_fail "pg_start: $dir is not empty"
  pg_dir=$(cd "$dir" && pwd)
  [ ${#pg_dir} -le 80 ] || _pg_fail "pg_start: $pg_dir is too long for a unix socket path"
  mkdir -p "$pg_dir/sock"
  pw=$(openssl rand -hex 16)
  printf '%s\n' "$pw" >"$pg_dir/pw"
  chmod 600 "$pg_dir/pw"
  pg_as=()
  if [ "$(id -u)" -eq 0 ]; then
    local as=postgres
    id -u "$as" >/dev/null 2>&1 || as=nobody
    id -u "$as" >/dev/null 2>&1 || _pg_fail "running as root and no 'postgres' or 'nobody' user"
    chown -R "$as:$(id -gn "$as")" "$pg_dir"
    pg_as=(/usr/bin/setpriv --reuid "$(id -u "$as")" --regid "$(id -g "$as")" --clear-groups --)
  fi
  if ! _pg_run "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync --no-instructions \
    >"$pg_dir/initdb.log" 2>&1; then
    tail -20 "$pg_dir/initdb.log" >&2
    _pg_fail "initdb into $pg_dir/data failed${pg_as:+ (as a non-root user: every directory above $pg_dir must be searchable by it)}"
  fi
  cat >>"$pg_dir/data/postgresql.conf" <<CONF

listen_addresses = '127.0.0.1'
unix_socket_directories = '$pg_dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
CONF
  printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$pg_dir/data/pg_hba.conf"
  # Another process may take the port between choosing it and the bind: try a few.
  for _ in 1 2 3 4 5; do
    port=$(_pg_free_port)
    if _pg_run timeout 40 "$pg_bin/pg_ctl" start -D "$pg_dir/data" -l "$pg_dir/server.log" \
      -w -t 30 -o "-p $port" >/dev/null 2>&1; then
      pg_port=$port
      break
    fi
    log=$(tail -20 "$pg_dir/server.log" 2>/dev/null || true)
    case $log in *"could not bind"* | *"already in use"*) continue ;; esac
    break
  done
  if [ -z "$pg_port" ]; then
    printf '%s\n' "${log:-}" >&2
    _pg_fail "pg_ctl start of $pg_dir/data failed (the log above, $pg_dir/server.log)"
  fi
  pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")
  PGDATABASE=postgres pg_psql -c "CREATE ROLE $user LOGIN PASSWORD '$pw'" \
    -c "CREATE DATABASE $db OWNER $user" >/dev/null ||
    _pg_fail "creating the database $db and the user $user failed"
  pg_url="postgresql://$user:$pw@127.0.0.1:$pg_port/$db"
}

pg_psql() {
  _pg_run "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_dir/sock" -p "$pg_port" -U postgres \
    -d "${PGDATABASE:-rollout}" "$@"
}

pg_stop() {
  [ -n "$pg_port" ] || return 0
  _pg_run timeout 40 "$pg_bin/pg_ctl" stop -D "$pg_dir/data" -m fast -w -t 30 >/dev/null 2>&1 ||
    _pg_run timeout 40 "$pg_bin/pg_ctl" stop -D "$pg_dir/data" -m immediate -w -t 30 \
      >/dev/null 2>&1 || kill -KILL "$pg_pid" 2>/dev/null || true
  # shellcheck disable=SC2034 # pg_url is for the callers
  pg_port='' pg_url='' pg_pid=''
}
