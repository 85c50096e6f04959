#!/usr/bin/env bash
# The tests under a sanitizer, in a build directory of their own (.build-thread,
# .build-address): the daemon and the load generator the end-to-end tests start are built
# with the same sanitizer.
#
#   scripts/sanitize.sh [thread|address]        the concurrency-heavy unit suites (queue,
#                                               batcher, latch and race, shutdown coordinator,
#                                               pipeline with fakes, journal recovery, journal,
#                                               spool and its replay, MQTT subscriber, decoder
#                                               corpus); no services. .ci/run: thread.
#   scripts/sanitize.sh [thread|address] all    the whole suite, with mosquitto and
#                                               PostgreSQL started as scripts/test.sh does.
#
# Thread leaks are not reported: the forced-shutdown tests abandon writer-lane threads on
# purpose, as the daemon does right before it exits (those threads have finished; TSan calls
# an unjoined finished thread a leak). Races still fail. ASan's leak check is off for the
# same reason (the forced exit does not free what it abandons).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizer=${1:-thread}
scope=${2:-core}
build=".build-$sanitizer"
export TSAN_OPTIONS="report_thread_leaks=0 halt_on_error=1"
export ASAN_OPTIONS="detect_leaks=0"
filter=(--filter 'IngestCoreTests\.|ConcurrencyTests\.|PayloadFormatsTests\.DecoderFuzzReplayTests|DurabilityTests\.|MQTTSourceTests\.')
if [ "$scope" = all ]; then
  scripts/install-deps.sh
  services=$(mktemp -d /tmp/iot-ingest-sanitize.XXXXXX)
  # shellcheck disable=SC2317  # called by the trap
  cleanup() { scripts/services.sh stop "$services" || true; rm -rf "$services"; }
  trap cleanup EXIT INT TERM
  scripts/services.sh start "$services"
  # shellcheck disable=SC1091
  source "$services/env"
  filter=()
fi
swift build --build-tests --build-path "$build" -Xswiftc "-sanitize=$sanitizer" -Xswiftc -warnings-as-errors
INGEST_BIN_DIR=$(swift build --build-path "$build" --show-bin-path)
export INGEST_BIN_DIR
log=$(mktemp)
# The daemons the end-to-end tests start write their sanitizer reports to files here.
reports=$(mktemp -d)
trap 'rm -rf "$log" "$reports"; [ "$scope" != all ] || cleanup' EXIT
export TSAN_OPTIONS="$TSAN_OPTIONS log_path=$reports/report"
export ASAN_OPTIONS="$ASAN_OPTIONS log_path=$reports/report"
status=0
swift test --skip-build --build-path "$build" "${filter[@]}" 2>&1 | tee "$log" || status=$?
if grep -q "Sanitizer" "$log" || [ -n "$(ls -A "$reports")" ]; then
  cat "$reports"/* 2>/dev/null | head -200 >&2 || true
  echo "sanitize: $sanitizer sanitizer reported a problem" >&2
  exit 1
fi
[ "$status" -eq 0 ] || { echo "sanitize: tests failed under the $sanitizer sanitizer" >&2; exit "$status"; }
echo "sanitize: $sanitizer sanitizer clean ($scope)"
