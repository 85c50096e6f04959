#!/usr/bin/env bash
# The used-by line, end to end, on a real Docker engine (SPEC 13): the docker-compose.yml and
# Dockerfile that users run, into TimescaleDB. Fails on any step that differs from the SPEC.
#
#   1. `docker compose up -d --wait`: every healthcheck healthy, fresh named volumes
#   2. a loadgen flood; mid-flood `docker compose kill -s SIGTERM ingest`: SPEC 7's eight events
#      in order in `docker compose logs ingest`, exit code 0, well inside stop_grace_period
#   3. `up -d ingest` again; a second flood; mid-flood `docker compose kill ingest` (SIGKILL);
#      `up -d ingest`: `journal_replayed` in the logs
#   4. the database stopped during a third flood (rows go to the spool), SIGKILL, then the
#      container removed and recreated (`rm -sf ingest && up -d ingest`): the journal and the
#      spool on the named volume are replayed by the new container
#   5. every published reading is in the `readings` hypertable exactly once (dedupe on: the
#      broker's redeliveries after a SIGKILL are not stored twice)
#   6. `docker compose down` without waiting out any grace period
#
#   scripts/compose-test.sh [--keep]    --keep: leave the stack up for a look afterwards
#
# Offline (no registry), scripts/docker-images.sh builds local stand-ins for the official
# images and the compose variables point at them; online, the official images are pulled.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
[ "${1:-}" = --keep ] && keep=1

work=$(mktemp -d /tmp/iot-ingest-compose.XXXXXX)
project="iotingestct$$"
started_engine=0
log() { printf '[compose-test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

compose() { docker compose --project-name "$project" --env-file "$work/compose.env" "$@"; }

# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local code=$?
  if [ $code -ne 0 ] && [ -f "$work/compose.env" ]; then
    log "FAILED; last lines of each service:"
    compose logs --tail 40 >&2 || true
  fi
  if [ $keep -eq 0 ] && [ -f "$work/compose.env" ]; then
    compose --profile load --profile monitoring down -v --timeout 5 >/dev/null 2>&1 || true
  fi
  if [ $started_engine -eq 1 ] && [ $keep -eq 0 ]; then scripts/docker-engine.sh stop || true; fi
  rm -rf "$work"
  exit $code
}
trap cleanup EXIT INT TERM

fail() { log "FAIL: $*"; exit 1; }

# --- engine, compose, images ------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then started_engine=1; fi
scripts/docker-engine.sh start
eval "$(scripts/docker-engine.sh env)"
docker compose version >/dev/null
scripts/docker-images.sh "$work/images.env"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port); mqtt_port=$(free_port); pg_port=$(free_port)
{
  cat "$work/images.env"
  echo "INGEST_HTTP_PORT=$http_port"
  echo "MQTT_PORT=$mqtt_port"
  echo "POSTGRES_PORT=$pg_port"
  echo "MQTT_PASSWORD=ct-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  echo "INGEST_DATABASE_DEDUPE=true"
} > "$work/compose.env"
db="postgresql://postgres:postgres@127.0.0.1:$pg_port/iot"

rows() { psql "$db" -qAtc "SELECT count(*) FROM readings" 2>/dev/null || echo 0; }
distinct_rows() { psql "$db" -qAtc "SELECT count(DISTINCT (device_id, metric, time)) FROM readings"; }
container_id() { compose ps -a -q ingest; }
exit_code() { docker inspect -f '{{.State.ExitCode}}' "$(container_id)"; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$(container_id)" 2>/dev/null)" = true ]; }

wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -ge $end ] && fail "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}
rows_at_least() { [ "$(rows)" -ge "$1" ]; }
logs_have() { compose logs --no-log-prefix ingest 2>/dev/null | grep -q "\"event\":\"$1\""; }
spool_files() {
  curl -fsS "http://127.0.0.1:$http_port/metrics" 2>/dev/null | awk '$1 == "iot_ingest_spool_files" { print int($2) }'
}
spool_files_waiting() { [ "$(spool_files)" -gt 0 ] 2>/dev/null; }

# flood NAME MESSAGES TS_BASE_MS: a loadgen run in the background (its own container, no
# dependency started or restarted), 2 readings per message with distinct (device, ts); its
# pid in $flood_pid (a command substitution would make it another shell's child).
flood() {
  compose --profile load run --rm --no-deps -T loadgen \
    --host mosquitto --username loadgen --client-id "ct-$1" --messages "$2" --rate 4000 \
    --devices 500 --ts-base-ms "$3" --window 2000 --connections 4 --quiet \
    >"$work/$1.json" 2>"$work/$1.err" &
  flood_pid=$!
}
acked() { python3 -c 'import json,sys; print(int(json.loads(open(sys.argv[1]).read().splitlines()[-1])["acked"]))' "$work/$1.json"; }

# --- 1. up ------------------------------------------------------------------------------
log "building the ingest image and starting the stack (project $project)"
start=$SECONDS
compose build ingest >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "docker compose build"; }
log "image built in $((SECONDS - start)) s"
start=$SECONDS
compose up -d --wait --wait-timeout 240 >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "docker compose up --wait"; }
log "every service healthy in $((SECONDS - start)) s"
uid=$(docker exec "$(container_id)" id -u)
[ "$uid" != 0 ] || fail "the ingest container runs as root"
log "ingest runs as uid $uid"
psql "$db" -qAtc "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'" | grep -q 1 \
  || fail "readings is not a TimescaleDB hypertable"
curl -fsS "http://127.0.0.1:$http_port/ready" >/dev/null || fail "/ready is not 200 after up --wait"

# --- 2. SIGTERM mid-flood -----------------------------------------------------------------
log "flood 1 (40,000 messages), SIGTERM mid-flood"
flood one 40000 1700000000000; f1=$flood_pid
wait_until 120 "10,000 rows" rows_at_least 10000
t0=$(date +%s%N)
compose kill -s SIGTERM ingest >/dev/null
wait_until 40 "the ingest container to exit" bash -c "! [ \"\$(docker inspect -f '{{.State.Running}}' $(container_id))\" = true ]"
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
code=$(exit_code)
compose logs --no-log-prefix ingest > "$work/stop.log"
grep -E '"event":"(signal_received|shutdown_initiated|mqtt_disconnected|queue_drained|queue_drain_timeout|workers_stopped|batch_writer_flushed|db_pool_closed|shutdown_forced|shutdown_complete)"' \
  "$work/stop.log" > "$work/stop-sequence.log" || true
python3 - "$work/stop.log" <<'PY' || fail "the SPEC 7 sequence is not in docker compose logs ingest"
import json, sys
spec = ["signal_received", "shutdown_initiated", "mqtt_disconnected", "queue_drained", "workers_stopped",
        "batch_writer_flushed", "db_pool_closed", "shutdown_complete"]
events = []
for line in open(sys.argv[1]):
    try:
        events.append(json.loads(line))
    except ValueError:
        pass
names = [e.get("event") for e in events]
assert [n for n in names if n in spec] == spec, names
assert names[-1] == "shutdown_complete", names[-1]
assert events[-1].get("exit_code") == 0, events[-1]
assert all(e.get("instance") for e in events), "a line without instance"
PY
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
[ "$stop_ms" -lt 30000 ] || fail "SIGTERM took ${stop_ms} ms, beyond stop_grace_period (30 s)"
log "SIGTERM: exit 0 in ${stop_ms} ms, eight events in order"
cat "$work/stop-sequence.log" >&2

# --- 3. SIGKILL mid-flood -----------------------------------------------------------------
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "up -d ingest after SIGTERM"
wait "$f1" || fail "flood 1: $(cat "$work/one.err")"
expected=$(( $(acked one) * 2 ))
log "flood 1 acked $(acked one); flood 2 (40,000 messages), SIGKILL mid-flood"
flood two 40000 1710000000000; f2=$flood_pid
wait_until 120 "rows of flood 2" rows_at_least $((expected + 10000))
compose kill ingest >/dev/null   # SIGKILL, compose's default
[ "$(exit_code)" = 137 ] || fail "SIGKILL: exit code $(exit_code), expected 137"
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "up -d ingest after SIGKILL"
wait_until 60 "journal_replayed" logs_have journal_replayed
replayed=$(compose logs --no-log-prefix ingest | grep '"event":"journal_replayed"' | tail -1)
log "after SIGKILL: $replayed"
wait "$f2" || fail "flood 2: $(cat "$work/two.err")"
expected=$(( expected + $(acked two) * 2 ))

# --- 4. database away, SIGKILL, container recreated ---------------------------------------
log "flood 3 with the database stopped, SIGKILL, container removed and recreated"
compose stop timescaledb >/dev/null
flood three 20000 1720000000000; f3=$flood_pid
wait "$f3" || fail "flood 3: $(cat "$work/three.err")"
expected=$(( expected + $(acked three) * 2 ))
# The writers give up on the database and spool their batches; wait for files on the volume.
wait_until 90 "spool files while the database is away" spool_files_waiting
log "spool files waiting: $(spool_files)"
compose kill ingest >/dev/null
compose rm -sf ingest >/dev/null
compose up -d timescaledb >/dev/null
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "recreated ingest did not go healthy"
wait_until 60 "journal_replayed in the new container" logs_have journal_replayed
wait_until 60 "spool_replayed in the new container" logs_have spool_replayed
log "new container: $(compose logs --no-log-prefix ingest | grep -E '"event":"(spool_replayed|journal_replayed)"' | tr '\n' ' ')"

# --- 5. exact counts ----------------------------------------------------------------------
wait_until 120 "$expected rows" rows_at_least "$expected"
sleep 2
total=$(rows); distinct=$(distinct_rows)
log "published $((expected / 2)) messages = $expected readings; stored $total rows, $distinct distinct"
[ "$distinct" = "$expected" ] || fail "stored $distinct distinct readings, expected $expected"
[ "$total" = "$expected" ] || fail "$((total - expected)) duplicates with dedupe on"
rejects=$(psql "$db" -qAtc "SELECT count(*) FROM ingest_rejects")
[ "$rejects" = 0 ] || fail "$rejects rejects"

# --- 6. down ------------------------------------------------------------------------------
if [ $keep -eq 1 ]; then
  log "stack left up (--keep): docker compose --project-name $project --env-file $work/compose.env ..."
  trap - EXIT
  exit 0
fi
start=$(date +%s%N)
compose --profile load --profile monitoring down >/dev/null 2>&1
down_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$down_ms" -lt 9000 ] || fail "docker compose down took ${down_ms} ms: a PID 1 waited out its grace period"
log "docker compose down in ${down_ms} ms"
log "PASS: SIGTERM exit 0 in ${stop_ms} ms; SIGKILL and a recreated container lost nothing; $expected readings exactly once"
