#!/usr/bin/env bash
# The product's main job on a machine without Docker, in one command: installs what is
# missing, starts a broker and a database on loopback, builds, runs the daemon under a
# steady load with live progress, sends SIGTERM, prints the shutdown sequence and the count.
#
#   scripts/demo.sh [--duration SECONDS] [--rate MESSAGES_PER_SECOND] [--devices N]
#   defaults: 45 s at 2000 messages/s (2 readings each) from 200 devices
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

duration=45
rate=2000
devices=200
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    *) echo "usage: $0 [--duration S] [--rate R] [--devices N]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/iot-ingest-demo.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_services
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

lib_start_daemon "$work/daemon.log" --http-port "$http_port"
echo "== daemon up: http://127.0.0.1:$http_port/ready, /metrics; log $work/daemon.log"
messages=$((duration * rate))
"$bin/iot-loadgen" --host 127.0.0.1 --port "$INGEST_TEST_MQTT_PORT" --messages "$messages" --rate "$rate" \
  --devices "$devices" --client-id demo-loadgen >"$work/loadgen.json" 2>"$work/loadgen.err" &
loadgen_pid=$!

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

printf '%6s %12s %12s %12s %10s\n' "t(s)" "published" "stored" "queue_depth" "rows/s"
previous=0
start=$SECONDS
while kill -0 "$loadgen_pid" 2>/dev/null; do
  sleep 1
  published=$(grep -o 'published=[0-9]*' "$work/loadgen.err" | tail -1 | cut -d= -f2 || true)
  stored=$(psql "$db" -qAtc "SELECT count(*) FROM readings" 2>/dev/null || echo 0)
  printf '%6d %12s %12s %12s %10s\n' $((SECONDS - start)) "${published:-0}" "$stored" \
    "$(metric iot_ingest_queue_depth)" $((stored - previous))
  previous=$stored
done
set +e; wait "$loadgen_pid"; lg=$?; set -e
loadgen_pid=""
[ "$lg" -eq 0 ] || { echo "loadgen failed:" >&2; cat "$work/loadgen.err" >&2; exit 1; }

echo "== SIGTERM"
lib_stop_daemon
lib_shutdown_lines "$work/daemon.log"
published=$(lib_json_field "$work/loadgen.json" published)
stored=$(lib_count)
expected=$((published * 2))
echo "== published $published messages ($expected readings), stored $stored; exit code $stop_code in ${stop_ms} ms"
echo "LOST $((expected - stored))"
[ "$((expected - stored))" -eq 0 ] && [ "$stop_code" -eq 0 ] && [ "$(lib_sequence_ok "$work/daemon.log")" = yes ]
