#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine: installs what is missing, starts a
# mosquitto broker and a PostgreSQL server on loopback (free ports, temporary directory),
# builds, runs `swift test` against them, and stops both on every exit path.
#
#   scripts/test.sh                 everything
#   scripts/test.sh --filter NAME   extra arguments go to `swift test`
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

services=$(mktemp -d /tmp/iot-ingest-test.XXXXXX)
cleanup() {
  scripts/services.sh stop "$services" || true
  rm -rf "$services"
}
trap cleanup EXIT INT TERM
scripts/services.sh start "$services"
# shellcheck disable=SC1091
source "$services/env"

swift build --build-tests -Xswiftc -warnings-as-errors
INGEST_BIN_DIR=$(swift build --show-bin-path)
export INGEST_BIN_DIR
swift test --skip-build "$@"
