#!/usr/bin/env bash
# The product's main job on a machine without Docker, in one command: installs what is
# missing, starts a broker and a database on loopback, builds, and floods the daemon with
# QoS 1 messages as fast as one publisher can, in two acts:
#   1. SIGTERM mid-flood with thousands of messages queued: the SPEC 7 shutdown sequence.
#   2. a restart (the broker kept the session and the backlog), then kill -9 mid-flood, a
#      second restart that replays the crash journal (`journal_replayed`), and the count:
#      published = stored, LOST 0, DUPLICATES 0.
#
#   scripts/demo.sh [--messages N] [--devices N]     defaults: 400000 messages (2 readings each), 1000 devices
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

messages=400000
devices=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N] [--devices N]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/iot-ingest-demo.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_services
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Broker redeliveries (a PUBACK the kill cut off) are stored once with dedupe (SPEC 8a).
daemon_args=(--http-port "$http_port" --set database.dedupe=true)

metric() {  # metric NAME: one value from /metrics
  python3 - "$http_port" "$1" <<'PY'
import sys, urllib.request
try:
    text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=2).read().decode()
except Exception:
    print("?"); sys.exit()
for line in text.splitlines():
    if line.startswith(sys.argv[2] + " "):
        print(int(float(line.split()[1]))); break
else:
    print("?")
PY
}

# progress_until DEPTH SECONDS: prints a progress line every 0.5 s until the queue holds at
# least DEPTH messages (after the first 2 s) or SECONDS have passed.
progress_until() {
  local depth=$1 limit=$2 start=$SECONDS published stored queued
  printf '%6s %12s %12s %12s\n' "t(s)" "published" "stored" "queue_depth"
  while [ $((SECONDS - start)) -lt "$limit" ]; do
    sleep 0.5
    published=$(grep -o 'published=[0-9]*' "$work/loadgen.err" | tail -1 | cut -d= -f2 || true)
    stored=$(psql "$db" -qAtc "SELECT count(*) FROM readings" 2>/dev/null || echo 0)
    queued=$(metric iot_ingest_queue_depth)
    printf '%6d %12s %12s %12s\n' $((SECONDS - start)) "${published:-0}" "$stored" "$queued"
    if [ $((SECONDS - start)) -ge 2 ] && [ "$queued" != "?" ] && [ "$queued" -ge "$depth" ]; then return 0; fi
  done
}

echo "== act 1: a QoS 1 flood of $messages messages, SIGTERM once thousands are queued"
lib_start_daemon "$work/act1.log" "${daemon_args[@]}"
"$bin/iot-loadgen" --host 127.0.0.1 --port "$INGEST_TEST_MQTT_PORT" --messages "$messages" \
  --devices "$devices" --client-id demo-loadgen --timeout 600 >"$work/loadgen.json" 2>"$work/loadgen.err" &
loadgen_pid=$!
progress_until 5000 20
echo "== SIGTERM"
lib_stop_daemon
act1_ok=$(lib_sequence_ok "$work/act1.log")
lib_shutdown_lines "$work/act1.log"
echo "== exit code $stop_code in ${stop_ms} ms; sequence in order: $act1_ok"

echo "== act 2: restart (the broker kept the session and the backlog), kill -9 mid-flood"
lib_start_daemon "$work/act2.log" "${daemon_args[@]}"
progress_until 5000 20
queued=$(metric iot_ingest_queue_depth)
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
echo "== kill -9 with $queued messages queued; journal: $(du -sh "$work/spool/journal" | cut -f1) on disk"

echo "== restart: the journal is replayed before the broker connects"
lib_start_daemon "$work/act3.log" "${daemon_args[@]}"
grep '"event":"journal_replayed"' "$work/act3.log"
set +e; wait "$loadgen_pid"; lg=$?; set -e
loadgen_pid=""
[ "$lg" -eq 0 ] || { echo "loadgen failed:" >&2; cat "$work/loadgen.err" >&2; exit 1; }
published=$(lib_json_field "$work/loadgen.json" published)
expected=$((published * 2))
for _ in $(seq 1 1200); do [ "$(lib_count)" -ge "$expected" ] && break; sleep 0.1; done
lib_stop_daemon
stored=$(lib_count)
rows=$(psql "$db" -qAtc "SELECT count(*) FROM readings")
echo "== published $published messages ($expected readings), stored $stored distinct readings in $rows rows"
echo "LOST $((expected - stored))"
echo "DUPLICATES $((rows - stored))"
[ "$((expected - stored))" -eq 0 ] && [ "$rows" -eq "$stored" ] && [ "$act1_ok" = yes ] && [ "$stop_code" -eq 0 ]
