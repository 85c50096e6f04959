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
# shellcheck source=scripts/lib.sh
source scripts/lib.sh   # lib_sequence_ok, lib_shutdown_lines, lib_json_field, lib_count

keep=0
[ "${1:-}" = --keep ] && keep=1

work=$(mktemp -d /tmp/iot-ingest-compose.XXXXXX)
project="iotingestct$$"
started_engine=0
floods=()
log() { printf '[compose-test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

compose() { docker compose --project-name "$project" --env-file "$work/compose.env" "$@"; }

# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  local pid
  for pid in "${floods[@]}"; do kill "$pid" 2>/dev/null || true; done
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

# Three distinct free ports, held open together while chosen.
read -r http_port mqtt_port pg_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
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
container_id() { compose ps -a -q ingest; }
# The exit code of the ingest container once it has stopped (bounded).
exited() { timeout 40 docker wait "$(container_id)"; }

wait_until() {  # wait_until SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -ge $end ] && fail "timed out after ${limit}s waiting for $what"
    sleep 0.5
  done
}
rows_at_least() { [ "$(rows)" -ge "$1" ]; }
# ingest's log lines since an RFC 3339 time, into a file (no pipe that grep could cut short).
logs_since() { compose logs --no-log-prefix --since "$1" ingest >"$work/since.log" 2>/dev/null; }
# logs_have EVENT SINCE: the event was logged at or after SINCE (by the current container).
logs_have() { logs_since "$2" && grep -q "\"event\":\"$1\"" "$work/since.log"; }
# last_event EVENT: the last such line of $work/since.log.
last_event() { grep "\"event\":\"$1\"" "$work/since.log" | tail -1; }
now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
spool_files() {
  curl -fsS "http://127.0.0.1:$http_port/metrics" 2>/dev/null | awk '$1 == "iot_ingest_spool_files" { print int($2) }'
}
spool_files_waiting() { [ "$(spool_files)" -gt 0 ] 2>/dev/null; }

# flood NAME MESSAGES TS_BASE_MS: a loadgen run in the background (its own container, no
# dependency started or restarted), 2 readings per message with distinct (device, ts); its
# pid in $flood_pid (a command substitution would make it another shell's child).
flood() {
  timeout 300 docker compose --project-name "$project" --env-file "$work/compose.env" \
    --profile load run --rm --no-deps -T loadgen \
    --host mosquitto --username loadgen --client-id "ct-$1" --messages "$2" --rate 4000 \
    --devices 500 --ts-base-ms "$3" --window 2000 --connections 4 --quiet \
    >"$work/$1.json" 2>"$work/$1.err" &
  flood_pid=$!
  floods+=("$flood_pid")
}
acked() { printf '%.0f' "$(lib_json_field "$work/$1.json" acked)"; }

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
# SPEC 5a with the defaults: compression policies on both tables and the two roll-ups.
lifecycle=$(psql "$db" -qAtc "SELECT (SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_compression')
                                  || ' ' || (SELECT string_agg(view_name, ',' ORDER BY view_name)
                                             FROM timescaledb_information.continuous_aggregates)")
[ "$lifecycle" = "2 readings_1h,readings_1m" ] || fail "the Timescale lifecycle is not applied: $lifecycle"
compose logs --no-log-prefix ingest >"$work/up-ingest.log" 2>/dev/null || true
grep -q '"event":"timescale_configured"' "$work/up-ingest.log" || fail "no timescale_configured line"
log "lifecycle: compression policies on both tables, roll-ups readings_1m and readings_1h"
curl -fsS "http://127.0.0.1:$http_port/ready" >/dev/null || fail "/ready is not 200 after up --wait"

# --- 2. SIGTERM mid-flood -----------------------------------------------------------------
log "flood 1 (40,000 messages), SIGTERM mid-flood"
flood one 40000 1700000000000; f1=$flood_pid
wait_until 120 "10,000 rows" rows_at_least 10000
t0=$(date +%s%N)
compose kill -s SIGTERM ingest >/dev/null
code=$(exited) || fail "the ingest container did not exit within 40 s of SIGTERM"
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
compose logs --no-log-prefix ingest > "$work/stop.log"
[ "$(lib_sequence_ok "$work/stop.log")" = yes ] || fail "the SPEC 7 sequence is not in docker compose logs ingest"
python3 - "$work/stop.log" <<'PY' || fail "a line without instance, or shutdown_complete without exit_code 0"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert events[-1]["event"] == "shutdown_complete" and events[-1]["exit_code"] == 0, events[-1]
assert all(e.get("instance") == "iot-ingest-compose" for e in events), "a line without instance"
PY
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
[ "$stop_ms" -lt 30000 ] || fail "SIGTERM took ${stop_ms} ms, beyond stop_grace_period (30 s)"
log "SIGTERM: exit 0 in ${stop_ms} ms, eight events in order"
lib_shutdown_lines "$work/stop.log" >&2

# --- 3. SIGKILL mid-flood -----------------------------------------------------------------
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "up -d ingest after SIGTERM"
wait "$f1" || fail "flood 1: $(cat "$work/one.err")"
expected=$(( $(acked one) * 2 ))
log "flood 1 acked $(acked one); flood 2 (40,000 messages), SIGKILL mid-flood"
flood two 40000 1710000000000; f2=$flood_pid
wait_until 120 "rows of flood 2" rows_at_least $((expected + 10000))
compose kill ingest >/dev/null   # SIGKILL, compose's default
code=$(exited) || fail "the ingest container did not stop after SIGKILL"
[ "$code" = 137 ] || fail "SIGKILL: exit code $code, expected 137"
since=$(now)
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "up -d ingest after SIGKILL"
wait_until 60 "journal_replayed after the restart" logs_have journal_replayed "$since"
replayed=$(last_event journal_replayed)
log "after SIGKILL: $replayed"
[[ "$replayed" != *'"entries":0,'* ]] || fail "nothing replayed from the journal after a SIGKILL mid-flood"
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
old=$(container_id)
compose rm -sf ingest >/dev/null
compose up -d timescaledb >/dev/null
since=$(now)
compose up -d --wait --wait-timeout 120 ingest >/dev/null 2>&1 || fail "recreated ingest did not go healthy"
[ "$(container_id)" != "$old" ] || fail "the ingest container was not recreated"
# spool_replayed comes before journal_replayed at start-up (SPEC 11).
wait_until 60 "journal_replayed in the new container" logs_have journal_replayed "$since"
logs_since "$since"
log "new container: $(last_event spool_replayed) $(last_event journal_replayed)"
[[ "$(last_event spool_replayed)" == *'"files":'[1-9]* ]] || fail "the new container replayed no spool file from the volume"

# --- 5. exact counts ----------------------------------------------------------------------
# Dedupe is on (a unique index on device, metric, time), so rows are distinct by construction:
# exactly the expected count means nothing lost and nothing stored twice.
wait_until 120 "$expected rows" rows_at_least "$expected"
total=$(rows); distinct=$(lib_count)
log "published $((expected / 2)) messages = $expected readings; stored $total rows, $distinct distinct"
[ "$distinct" = "$expected" ] || fail "stored $distinct distinct readings, expected $expected"
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
