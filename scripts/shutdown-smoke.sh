#!/usr/bin/env bash
# The compose shutdown check, without Docker: broker and database on loopback, the daemon
# under a QoS 1 flood, SIGTERM mid-flood, the shutdown log lines, a restart with the same
# client id (the broker kept our session), then published vs stored readings.
# Exits non-zero if the sequence is out of order, anything is lost, or the stop took > 10 s.
#
#   scripts/shutdown-smoke.sh [--messages N]     (default 150000)
set -euo pipefail
cd "$(dirname "$0")/.."

messages=150000
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
work=$(mktemp -d /tmp/iot-ingest-smoke.XXXXXX)
daemon_pid=""
loadgen_pid=""
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -9 "$daemon_pid" 2>/dev/null || true; fi
  if [ -n "$loadgen_pid" ]; then kill -9 "$loadgen_pid" 2>/dev/null || true; fi
  scripts/services.sh stop "$work/services" || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
scripts/services.sh start "$work/services"
# shellcheck disable=SC1091
source "$work/services/env"

swift build -c release --product iot-ingest >/dev/null
swift build -c release --product iot-loadgen >/dev/null
bin=$(swift build -c release --show-bin-path)
db="$INGEST_TEST_DATABASE_URL"
count() { psql "$db" -qAtc "SELECT count(DISTINCT (device_id, metric, time)) FROM readings" 2>/dev/null || echo 0; }

start_daemon() {  # start_daemon LOGFILE
  "$bin/iot-ingest" run --mqtt-host 127.0.0.1 --mqtt-port "$INGEST_TEST_MQTT_PORT" --database-url "$db" \
    --http-port 0 --set spool.dir="$work/spool" --set mqtt.client_id=smoke-ingest >"$1" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 300); do grep -q '"event":"subscribed"' "$1" && return 0; sleep 0.1; done
  echo "daemon did not start:" >&2; cat "$1" >&2; return 1
}

start_daemon "$work/first.log"
"$bin/iot-loadgen" --host 127.0.0.1 --port "$INGEST_TEST_MQTT_PORT" --messages "$messages" \
  --client-id smoke-loadgen --quiet >"$work/loadgen.json" 2>"$work/loadgen.err" &
loadgen_pid=$!
for _ in $(seq 1 300); do [ "$(count)" -gt 1000 ] && break; sleep 0.05; done

start_ns=$(date +%s%N)
kill -TERM "$daemon_pid"
set +e; wait "$daemon_pid"; code=$?; set -e
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
daemon_pid=""

echo "== shutdown sequence (first daemon, exit code $code, signal-to-exit ${stop_ms} ms)"
python3 - "$work/first.log" <<'PY'
import json, sys
wanted = ["signal_received", "shutdown_initiated", "mqtt_disconnected", "queue_drained", "queue_drain_timeout",
          "workers_stopped", "batch_writer_flushed", "db_pool_closed", "shutdown_forced", "shutdown_complete"]
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("event") in wanted:
        print(line.rstrip())
PY
order_ok=$(python3 - "$work/first.log" <<'PY'
import json, sys
spec = ["signal_received", "shutdown_initiated", "mqtt_disconnected", "queue_drained", "workers_stopped",
        "batch_writer_flushed", "db_pool_closed", "shutdown_complete"]
events = []
for line in open(sys.argv[1]):
    try:
        events.append(json.loads(line).get("event"))
    except ValueError:
        pass
print("yes" if [e for e in events if e in spec] == spec and events[-1] == "shutdown_complete" else "no")
PY
)

start_daemon "$work/second.log"
set +e; wait "$loadgen_pid"; lg=$?; set -e
loadgen_pid=""
[ "$lg" -eq 0 ] || { echo "loadgen failed:" >&2; cat "$work/loadgen.err" >&2; exit 1; }
published=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["published"])' "$work/loadgen.json")
expected=$((published * 2))
for _ in $(seq 1 1200); do [ "$(count)" -ge "$expected" ] && break; sleep 0.1; done
kill -TERM "$daemon_pid"; wait "$daemon_pid" || true; daemon_pid=""
stored=$(count)
lost=$((expected - stored))

echo "== published $published messages ($expected readings), stored $stored distinct readings"
echo "LOST $lost"
echo "signal-to-exit ${stop_ms} ms, exit code $code, sequence in order: $order_ok"
fail=0
[ "$order_ok" = yes ] || { echo "FAIL: shutdown sequence out of order" >&2; fail=1; }
[ "$lost" -eq 0 ] || { echo "FAIL: readings lost" >&2; fail=1; }
[ "$code" -eq 0 ] || { echo "FAIL: exit code $code" >&2; fail=1; }
[ "$stop_ms" -le 10000 ] || { echo "FAIL: shutdown took longer than 10 s" >&2; fail=1; }
exit $fail
