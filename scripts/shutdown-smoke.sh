#!/usr/bin/env bash
# The compose shutdown check, without Docker: broker and database on loopback, the daemon
# under a QoS 1 flood, SIGTERM mid-flood, the shutdown log lines, a restart with the same
# client id (the broker kept our session), then kill -9 mid-flood and a restart that replays
# the crash journal, then published vs stored readings (with dedupe, as SPEC 8a asks for
# exactly once across a kill). Exits non-zero if the sequence is out of order, anything is
# lost or doubled, the journal was not replayed, or the stop took > 10 s.
#
#   scripts/shutdown-smoke.sh [--messages N]     (default 150000)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

messages=150000
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/iot-ingest-smoke.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_services

lib_start_daemon "$work/first.log" --http-port 0 --set database.dedupe=true
"$bin/iot-loadgen" --host 127.0.0.1 --port "$INGEST_TEST_MQTT_PORT" --messages "$messages" \
  --client-id smoke-loadgen --quiet >"$work/loadgen.json" 2>"$work/loadgen.err" &
loadgen_pid=$!
for _ in $(seq 1 300); do [ "$(lib_count)" -gt 1000 ] && break; sleep 0.05; done

lib_stop_daemon
first_ms=$stop_ms
first_code=$stop_code
order_ok=$(lib_sequence_ok "$work/first.log")
echo "== shutdown sequence (exit code $first_code, signal-to-exit ${first_ms} ms)"
lib_shutdown_lines "$work/first.log"

lib_start_daemon "$work/second.log" --http-port 0 --set database.dedupe=true
before=$(lib_count)
for _ in $(seq 1 300); do [ "$(lib_count)" -gt $((before + 20000)) ] && break; sleep 0.05; done
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
echo "== kill -9 mid-flood; restart"
lib_start_daemon "$work/third.log" --http-port 0 --set database.dedupe=true
replayed=$(grep '"event":"journal_replayed"' "$work/third.log" || true)
echo "${replayed:-no journal_replayed line}"
set +e; wait "$loadgen_pid"; lg=$?; set -e
loadgen_pid=""
[ "$lg" -eq 0 ] || { echo "loadgen failed:" >&2; cat "$work/loadgen.err" >&2; exit 1; }
published=$(lib_json_field "$work/loadgen.json" published)
expected=$((published * 2))
for _ in $(seq 1 1200); do [ "$(lib_count)" -ge "$expected" ] && break; sleep 0.1; done
lib_stop_daemon
stored=$(lib_count)
rows=$(psql "$db" -qAtc "SELECT count(*) FROM readings")
lost=$((expected - stored))

echo "== published $published messages ($expected readings), stored $stored distinct readings"
echo "LOST $lost"
echo "DUPLICATES $((rows - stored))"
echo "signal-to-exit ${first_ms} ms, exit code $first_code, sequence in order: $order_ok"
fail=0
[ "$order_ok" = yes ] || { echo "FAIL: shutdown sequence out of order" >&2; fail=1; }
[ "$lost" -eq 0 ] || { echo "FAIL: readings lost" >&2; fail=1; }
[ "$rows" -eq "$stored" ] || { echo "FAIL: readings stored twice" >&2; fail=1; }
[ -n "$replayed" ] || { echo "FAIL: the restart after kill -9 did not replay the journal" >&2; fail=1; }
[ "$first_code" -eq 0 ] || { echo "FAIL: exit code $first_code" >&2; fail=1; }
[ "$first_ms" -le 10000 ] || { echo "FAIL: shutdown took longer than 10 s" >&2; fail=1; }
exit $fail
