# shellcheck shell=bash disable=SC2034,SC2154  # globals shared with the sourcing script
# Helpers shared by shutdown-smoke.sh, demo.sh and bench.sh (sourced, not run).
# They expect: $work (a scratch directory), and after `lib_services`: $INGEST_TEST_* from
# services.sh, $bin (release binaries), $db (database URL).

daemon_pid=""
loadgen_pid=""

# shellcheck disable=SC2317  # called by the trap
lib_cleanup() {
  if [ -n "$daemon_pid" ]; then kill -9 "$daemon_pid" 2>/dev/null || true; fi
  if [ -n "$loadgen_pid" ]; then kill -9 "$loadgen_pid" 2>/dev/null || true; fi
  scripts/services.sh stop "$work/services" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# Installs what is missing, starts broker + database, builds release binaries.
# gnuplot for the PNG plots of bench.sh and soak.sh.
lib_need_gnuplot() {
  command -v gnuplot >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
}

# valgrind for bench.sh --callgrind.
lib_need_valgrind() {
  command -v valgrind >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends valgrind >/dev/null
}

lib_services() {
  scripts/install-deps.sh
  scripts/services.sh start "$work/services"
  # shellcheck disable=SC1091
  source "$work/services/env"
  echo "building release binaries..." >&2
  if ! { swift build -c release --product iot-ingest && swift build -c release --product iot-loadgen; } \
      >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    return 1
  fi
  bin=$(swift build -c release --show-bin-path)
  db="$INGEST_TEST_DATABASE_URL"
}

lib_count() {
  psql "$db" -qAtc "SELECT count(DISTINCT (device_id, metric, time)) FROM readings" 2>/dev/null || echo 0
}

# lib_start_daemon LOGFILE [extra iot-ingest arguments...]: starts it, waits until subscribed.
lib_start_daemon() {
  local log=$1; shift
  "$bin/iot-ingest" run --mqtt-host 127.0.0.1 --mqtt-port "$INGEST_TEST_MQTT_PORT" --database-url "$db" \
    --set spool.dir="$work/spool" --set mqtt.client_id=local-ingest "$@" >"$log" 2>&1 &
  daemon_pid=$!
  local _
  for _ in $(seq 1 300); do
    grep -qs '"event":"subscribed"' "$log" && return 0
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "daemon did not start:" >&2; cat "$log" >&2; return 1
}

# lib_stop_daemon: SIGTERM, wait; sets stop_ms and stop_code.
lib_stop_daemon() {
  local start_ns
  start_ns=$(date +%s%N)
  kill -TERM "$daemon_pid"
  set +e; wait "$daemon_pid"; stop_code=$?; set -e
  stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  daemon_pid=""
}

# lib_shutdown_lines LOGFILE: the SPEC 7 events of a log, as logged.
lib_shutdown_lines() {
  grep -E '"event":"(signal_received|shutdown_initiated|mqtt_disconnected|queue_drained|queue_drain_timeout|workers_stopped|batch_writer_flushed|db_pool_closed|shutdown_forced|shutdown_complete)"' "$1"
}

# lib_sequence_ok LOGFILE: prints yes if the SPEC 7 events appear in order and last.
lib_sequence_ok() {
  python3 - "$1" <<'PY'
import json, sys
spec = ["signal_received", "shutdown_initiated", "mqtt_disconnected", "queue_drained", "workers_stopped",
        "batch_writer_flushed", "db_pool_closed", "shutdown_complete"]
events = []
for line in open(sys.argv[1]):
    try:
        events.append(json.loads(line).get("event"))
    except ValueError:
        pass
print("yes" if [e for e in events if e in spec] == spec and events and events[-1] == "shutdown_complete" else "no")
PY
}

# lib_json_field FILE FIELD: one field of the loadgen summary.
lib_json_field() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
