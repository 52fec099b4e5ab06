#!/usr/bin/env bash
# Starts a PostgreSQL server for the tests on 127.0.0.1:55432 (idempotent: initialises the cluster
# once, starts it if it is not running) and prints the variable the tests read:
#   KESTREL_TEST_POSTGRES_URL=postgres://kestrel@127.0.0.1:55432/kestrel
# The role may create databases: each test makes its own. Needs Debian's postgresql package.
# Logs go to standard error; standard output carries only the variable.
set -euo pipefail
PORT="${KESTREL_PG_PORT:-55432}"
DATA="${KESTREL_PG_DATA:-/var/tmp/kestrel-postgres}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
# PostgreSQL refuses to run as root: run it as the postgres user the Debian package creates.
as_pg() { runuser -u postgres -- "$@"; }
if [ "$(id -u)" != 0 ]; then as_pg() { "$@"; }; fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 >&2
fi
if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 -l "$DATA/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c max_connections=200 -c fsync=off" start >&2
fi
psql_admin() { as_pg psql -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'kestrel'")" != 1 ]; then
  psql_admin "CREATE ROLE kestrel LOGIN CREATEDB" >&2
fi
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'kestrel'")" != 1 ]; then
  psql_admin "CREATE DATABASE kestrel OWNER kestrel" >&2
fi
echo "KESTREL_TEST_POSTGRES_URL=postgres://kestrel@127.0.0.1:$PORT/kestrel"
