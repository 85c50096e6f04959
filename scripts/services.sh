#!/usr/bin/env bash
# Starts and stops a throw-away mosquitto broker and PostgreSQL server on loopback, on free
# ports, with all their files under one directory. Used by the test, smoke, demo and bench
# scripts; nothing here touches the machine's own services.
#
#   scripts/services.sh start DIR     start both; writes DIR/env (source it)
#   scripts/services.sh stop DIR      stop both (by PID)
#   scripts/services.sh stop-mqtt DIR | start-mqtt DIR     (same port, same persistence)
#   scripts/services.sh stop-pg DIR   | start-pg DIR
#   scripts/services.sh freeze-pg DIR | thaw-pg DIR    (SIGSTOP/SIGCONT every server process:
#                                                      a black-holed database that answers nothing)
#
# PostgreSQL runs with the TimescaleDB extension preloaded when it is installed
# (scripts/timescaledb.sh installs it), unless INGEST_TEST_TIMESCALEDB=off: that runs plain
# PostgreSQL, the other path the daemon supports. DIR/env says which (INGEST_TEST_TIMESCALEDB=1|0).
set -euo pipefail

cmd=${1:?usage: services.sh start|stop|start-mqtt|stop-mqtt|start-pg|stop-pg|freeze-pg|thaw-pg DIR}
dir=${2:?directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  dirname "$(command -v pg_ctl)"
}

# PostgreSQL refuses to run as root: run its tools as the postgres user then.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

# Runs a command with every file descriptor above 2 closed: a long-lived server must not
# keep a caller's pipes (or Foundation's process-monitoring descriptors) open.
without_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
  done
  exec "$@"
}

wait_for() {  # wait_for SECONDS COMMAND...: bounded wait for a command to succeed
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}

start_mqtt() {
  # shellcheck disable=SC1091
  source "$dir/env"
  mkdir -p "$dir/mosquitto"
  if [ "$(id -u)" -eq 0 ]; then chown -R mosquitto "$dir/mosquitto"; fi
  cat > "$dir/mosquitto.conf" <<CONF
listener $INGEST_TEST_MQTT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $dir/mosquitto/
max_queued_messages 0
max_inflight_messages 100
log_dest file $dir/mosquitto/mosquitto.log
CONF
  # Own session, no inherited stdio: a caller that waits for our output (or for pipes we
  # hold) must not wait for the broker too.
  (without_fds setsid mosquitto -c "$dir/mosquitto.conf" </dev/null >>"$dir/mosquitto/stdout.log" 2>&1) &
  echo $! > "$dir/mosquitto.pid"
  wait_for 10 mosquitto_pub -h 127.0.0.1 -p "$INGEST_TEST_MQTT_PORT" -t probe/x -m x \
    || { echo "mosquitto did not start" >&2; cat "$dir/mosquitto/mosquitto.log" >&2; return 1; }
}

# True while the process exists and is not a zombie (kill -0 succeeds on zombies, which
# is what an orphan becomes where PID 1 does not reap).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# The network-fault tests' iptables rules (Tests/TestSupport/NetworkFault.swift), should a
# killed test have left any: removed by their comment, nothing else touched.
remove_netfault_rules() {
  command -v iptables >/dev/null 2>&1 || return 0
  iptables -S INPUT 2>/dev/null | grep -- '--comment "\?iot-ingest-netfault' | sed 's/^-A //; s/"//g' |
    while read -r rule; do
      # shellcheck disable=SC2086 # the rule's words, as iptables printed them
      iptables -D $rule || true
    done
}

stop_mqtt() {
  [ -f "$dir/mosquitto.pid" ] || return 0
  local pid
  pid=$(cat "$dir/mosquitto.pid")
  kill "$pid" 2>/dev/null || true
  local end=$((SECONDS + 10))
  while alive "$pid" && [ $SECONDS -lt $end ]; do sleep 0.1; done
  if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$dir/mosquitto.pid"
}

start_pg() {
  # shellcheck disable=SC1091
  source "$dir/env"
  local extra=""
  if [ "$INGEST_TEST_TIMESCALEDB" = 1 ]; then
    # No network here: telemetry off. Background workers for the policies' job scheduler.
    extra="-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off -c max_worker_processes=16"
  fi
  (without_fds "${as_pg[@]}" "$INGEST_TEST_PG_BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 30 \
    -o "-p $INGEST_TEST_PG_PORT -k $dir/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off \
        -c ssl=on -c ssl_cert_file=$dir/pgtls/server.crt -c ssl_key_file=$dir/pgtls/server.key $extra" \
    start </dev/null >>"$dir/pg_ctl.log" 2>&1)
}

stop_pg() {
  # shellcheck disable=SC1091
  source "$dir/env"
  [ -f "$dir/pgdata/postmaster.pid" ] || return 0
  "${as_pg[@]}" "$INGEST_TEST_PG_BIN/pg_ctl" -D "$dir/pgdata" -m fast -w -t 30 stop </dev/null >>"$dir/pg_ctl.log" 2>&1 || true
}

signal_pg() {  # signal_pg SIG: the postmaster and all its children
  local pid
  pid=$(head -1 "$dir/pgdata/postmaster.pid" 2>/dev/null) || return 0
  kill "-$1" "$pid" $(pgrep -P "$pid") 2>/dev/null || true
}

case "$cmd" in
  start)
    mqtt_port=$(free_port)
    pg_port=$(free_port)
    bin=$(pg_bin)
    timescale=0
    if [ "${INGEST_TEST_TIMESCALEDB:-on}" != off ] && [ -f "/usr/share/postgresql/$(basename "$(dirname "$bin")")/extension/timescaledb.control" ]; then
      timescale=1
    fi
    cat > "$dir/env" <<ENV
export INGEST_TEST_SERVICES_DIR=$dir
export INGEST_TEST_MQTT_PORT=$mqtt_port
export INGEST_TEST_PG_PORT=$pg_port
export INGEST_TEST_PG_BIN=$bin
export INGEST_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$pg_port/iot_test
export INGEST_TEST_ADMIN_URL=postgresql://postgres@127.0.0.1:$pg_port/postgres
export INGEST_TEST_PG_CA=$dir/pgtls/ca.crt
# 1 when the server preloads TimescaleDB: tests then expect hypertables.
export INGEST_TEST_TIMESCALEDB=$timescale
# Role ingest_pw logs in with this password only (SCRAM); a throwaway value per start.
export INGEST_TEST_PG_PASSWORD=pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
# The server takes TLS (PostgresTLSTests ask for verify-full in their URL); everything else
# connects in plain text, as before.
export PGSSLMODE=disable
ENV
    # A CA and a server certificate for 127.0.0.1/localhost, for the TLS tests.
    mkdir -p "$dir/pgtls"
    (cd "$dir/pgtls" &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=iot-ingest-test-ca -keyout ca.key -out ca.crt &&
      openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext &&
      openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt
    ) >"$dir/pgtls.log" 2>&1 || { cat "$dir/pgtls.log" >&2; exit 1; }
    chmod 600 "$dir/pgtls/server.key"
    chmod 644 "$dir/pgtls/ca.crt"
    mkdir -p "$dir/pgdata" "$dir/pgsock"
    if [ "$(id -u)" -eq 0 ]; then
      chown postgres "$dir" "$dir/pgdata" "$dir/pgsock" "$dir/pgtls" "$dir/pgtls/server.key" "$dir/pgtls/server.crt"
      # The postgres user must be able to reach $dir (mktemp makes its parents 0700).
      chmod o+x "$(dirname "$dir")"
    fi
    "${as_pg[@]}" "$bin/initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # One role that must give its password (SCRAM), for the wrong-password test; every other
    # role is trusted on loopback. pg_hba.conf takes the first matching line.
    hba="$dir/pgdata/pg_hba.conf"
    { printf 'host all ingest_pw 127.0.0.1/32 scram-sha-256\nhost all ingest_pw ::1/128 scram-sha-256\n'; cat "$hba"; } >"$hba.new"
    mv "$hba.new" "$hba"
    [ "$(id -u)" -ne 0 ] || chown postgres "$hba"
    start_pg
    psql "postgresql://postgres@127.0.0.1:$pg_port/postgres" -qAtc "CREATE DATABASE iot_test" >/dev/null
    # shellcheck disable=SC1091
    source "$dir/env"
    psql "postgresql://postgres@127.0.0.1:$pg_port/postgres" -qAtc \
      "CREATE ROLE ingest_pw LOGIN SUPERUSER PASSWORD '$INGEST_TEST_PG_PASSWORD'" >/dev/null
    start_mqtt
    echo "services up in $dir (mqtt :$mqtt_port, postgres :$pg_port, timescaledb: $timescale)" >&2
    ;;
  stop) stop_mqtt; stop_pg; remove_netfault_rules ;;
  start-mqtt) start_mqtt ;;
  stop-mqtt) stop_mqtt ;;
  start-pg) start_pg ;;
  stop-pg) stop_pg ;;
  freeze-pg) signal_pg STOP ;;
  thaw-pg) signal_pg CONT ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
