#!/usr/bin/env bash
# Benchmarks iot-ingest against a bare subscriber in one run (see scripts/bench.py for what
# is measured), on a broker and database it starts on loopback. Writes bench/results/latest.json,
# latest.md and flood.png (rows/s and queue depth over the first QoS 1 flood).
#
#   scripts/bench.sh [--messages N] [--reps R]      (defaults 500000 and 3)
#   scripts/bench.sh --quick-cpu [--reps R]         bare subscriber and daemon: throughput and CPU only
#   scripts/bench.sh --quick-cpu --perf FILE        the same, with `perf record -g` of each daemon flood
#   scripts/bench.sh --callgrind [--messages N]     instructions per message of the daemon's own code
#                                                   (no broker, no database; see scripts/callgrind.py)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

if [ "${1:-}" = "--callgrind" ]; then
  shift
  scripts/install-deps.sh
  lib_need_valgrind
  swift build -c release --product iot-loadgen >/dev/null
  exec python3 scripts/callgrind.py --bin "$(swift build -c release --show-bin-path)" "$@"
fi

work=$(mktemp -d /tmp/iot-ingest-bench.XXXXXX)
trap lib_cleanup EXIT INT TERM
lib_need_gnuplot
lib_services
BENCH_BIN=$bin BENCH_WORK=$work python3 scripts/bench.py "$@"
case " $* " in *" --quick-cpu "*) exit 0 ;; esac
gnuplot <<GP
set terminal png size 1000,500
set output "bench/results/flood.png"
set title "iot-ingest: first QoS 1 flood"
set xlabel "seconds"
set ylabel "rows/s written"
set y2label "queue depth (messages)"
set y2tics
set ytics nomirror
set key top left
plot "$work/flood.dat" using 1:2 with lines lw 2 title "rows/s", "$work/flood.dat" using 1:3 axes x1y2 with lines title "queue depth"
GP
echo "wrote bench/results/latest.json, latest.md, flood.png"
