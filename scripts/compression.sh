#!/usr/bin/env bash
# Bytes per reading before and after TimescaleDB compression (SPEC 5a), on the schema the
# daemon's own `migrate` makes (segment by device_id, metric; order by time DESC; the
# (device_id, time DESC) index; with --dedupe the unique index too). One day of telemetry
# a month old, every 10 s per series: a temperature (slow wave plus noise, 2 decimals), a
# humidity (whole percent), a battery voltage (slow decline, 3 decimals) per device, and a
# text status every 10 minutes. Prints one JSON line per table.
#
#   scripts/compression.sh [--devices N] [--dedupe]        (default 200 devices: 5.2 M readings)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

devices=200
dedupe=false
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) devices=$2; shift 2 ;;
    --dedupe) dedupe=true; shift ;;
    *) echo "usage: $0 [--devices N] [--dedupe]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d /tmp/iot-ingest-compression.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_services
[ "$INGEST_TEST_TIMESCALEDB" = 1 ] || { echo "compression.sh needs TimescaleDB" >&2; exit 1; }

"$bin/iot-ingest" migrate --database-url "$db" --set spool.dir="$work/spool" --set database.dedupe="$dedupe" \
  --set 'timescale.rollups=[]' >"$work/migrate.log"
# Compressed by hand below, measured before and after: no policy job racing it.
psql "$db" -qAtc "SELECT remove_compression_policy(t) FROM unnest(ARRAY['readings', 'readings_text']) t" >/dev/null
echo "generating $((devices * 3 * 8640)) readings..." >&2
psql "$db" -qAt -v ON_ERROR_STOP=1 <<SQL
INSERT INTO readings (time, device_id, metric, value)
SELECT t, 'sensor-' || lpad(d::text, 5, '0'), m,
       CASE m WHEN 'temperature' THEN round((21 + 4 * sin(extract(epoch FROM t) / 7200 + d) + random() * 0.3)::numeric, 2)
              WHEN 'humidity' THEN round(45 + 10 * cos(extract(epoch FROM t) / 10800 + d) + random() * 2)
              ELSE round((4.2 - extract(epoch FROM t - date_trunc('day', t)) / 86400 * 0.3 + random() * 0.005)::numeric, 3)
       END
FROM generate_series(date_trunc('day', now()) - interval '30 days',
                     date_trunc('day', now()) - interval '29 days' - interval '10 seconds', interval '10 seconds') t,
     generate_series(1, $devices) d, (VALUES ('temperature'), ('humidity'), ('battery_v')) v(m);
INSERT INTO readings_text (time, device_id, metric, value)
SELECT t, 'sensor-' || lpad(d::text, 5, '0'), 'status',
       (ARRAY['ok', 'ok', 'ok', 'charging', 'low_battery'])[1 + (extract(epoch FROM t)::bigint / 600 + d) % 5]
FROM generate_series(date_trunc('day', now()) - interval '30 days',
                     date_trunc('day', now()) - interval '29 days' - interval '10 minutes', interval '10 minutes') t,
     generate_series(1, $devices) d;
VACUUM ANALYZE readings; VACUUM ANALYZE readings_text;
SQL
for table in readings readings_text; do
  rows=$(psql "$db" -qAtc "SELECT count(*) FROM $table")
  before=$(psql "$db" -qAtc "SELECT hypertable_size('$table')")
  psql "$db" -qAtc "SELECT count(compress_chunk(c)) FROM show_chunks('$table') c" >/dev/null
  after=$(psql "$db" -qAtc "SELECT hypertable_size('$table')")
  python3 - "$table" "$rows" "$before" "$after" "$dedupe" <<'PY'
import json, sys
table, rows, before, after, dedupe = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(json.dumps({"table": table, "rows": rows, "dedupe": dedupe == "true",
                  "bytes_per_row_before": round(before / rows, 1), "bytes_per_row_after": round(after / rows, 2),
                  "ratio": round(before / after, 1)}))
PY
done
