#!/usr/bin/env bash
# The concurrency-heavy unit suites (queue, batcher, latch and race, shutdown coordinator,
# pipeline with fakes, journal) under a sanitizer, in a build directory of their own.
#
#   scripts/sanitize.sh            thread sanitizer (what .ci/run runs)
#   scripts/sanitize.sh address    address sanitizer
#
# They need no broker or database. Thread leaks are not reported: the forced-shutdown tests
# abandon writer-lane threads on purpose, as the daemon does right before it exits (those
# threads have finished; TSan calls an unjoined finished thread a leak). Races still fail.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer=${1:-thread}
build=".build-$sanitizer"
swift build --build-tests --build-path "$build" -Xswiftc "-sanitize=$sanitizer" -Xswiftc -warnings-as-errors
export TSAN_OPTIONS="report_thread_leaks=0 halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=0"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build --build-path "$build" \
  --filter 'IngestCoreTests\.(BoundedQueueTests|BatcherTests|ShutdownCoordinatorTests|IngestPipelineTests|JournalTests|LatchTests|FirstFinished|DecoderFuzzReplayTests|SpoolTests)' \
  2>&1 | tee "$log" || status=$?
if grep -q "Sanitizer" "$log"; then
  echo "sanitize: $sanitizer sanitizer reported a problem" >&2
  exit 1
fi
[ "$status" -eq 0 ] || { echo "sanitize: tests failed under the $sanitizer sanitizer" >&2; exit "$status"; }
echo "sanitize: $sanitizer sanitizer clean"
