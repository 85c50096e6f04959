#!/bin/sh
# Entrypoint of the offline TimescaleDB stand-in (timescaledb.Dockerfile): a small subset of the
# official postgres image's docker-entrypoint.sh. Runs as root only to fix ownership, then
# re-executes itself as postgres; postgres ends up PID 1 (exec), so it gets the stop signal.
set -eu

if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image.
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
    ${POSTGRES_INITDB_ARGS:-} >/dev/null
  rm -f "$pwfile"
  echo "host all all all $auth" >> "$PGDATA/pg_hba.conf"
  cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
CONF
  # A temporary server on the socket only, for the set-up statements.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql="psql -v ON_ERROR_STOP=1 -q -X --username=$user --no-password"
  if [ "$db" != postgres ]; then
    $psql --dbname=postgres --set db="$db" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  # As the official timescaledb image: the extension in postgres, template1 and POSTGRES_DB.
  for d in postgres template1 "$db"; do
    $psql --dbname="$d" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb' >/dev/null
  done
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        echo "running $f"
        # shellcheck disable=SC1090 # the image user's own init scripts
        . "$f" ;;
      *.sql) echo "running $f"; $psql --dbname="$db" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
