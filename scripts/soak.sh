#!/usr/bin/env bash
# A long steady load with a database restart, a broker restart and SIGHUP reloads, checking
# for leaks and loss (see scripts/soak.py). Not in CI (it takes minutes by design); run it
# before a release. Writes bench/results/soak.json and soak.png.
#
#   scripts/soak.sh [minutes]      (default 2; the release check is 30)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

work=$(mktemp -d /tmp/iot-ingest-soak.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_need_gnuplot
lib_services
status=0
BENCH_BIN=$bin BENCH_WORK=$work python3 scripts/soak.py --minutes "${1:-2}" || status=$?
if [ -s "$work/soak.dat" ]; then
  gnuplot <<GP
set terminal png size 1000,600
set output "bench/results/soak.png"
set title "iot-ingest soak: RSS, descriptors, threads, queue, spool"
set xlabel "seconds"
set ylabel "RSS MB / descriptors / threads / spool files"
set y2label "queue depth (messages)"
set y2tics
set ytics nomirror
set key top left
plot "$work/soak.dat" using 1:2 with lines lw 2 title "RSS MB", \
     "" using 1:3 with lines title "open fds", "" using 1:4 with lines title "threads", \
     "" using 1:6 with lines title "spool files", "" using 1:5 axes x1y2 with lines title "queue depth"
GP
  echo "wrote bench/results/soak.json, soak.png"
fi
exit "$status"
