#!/usr/bin/env bash
# Installs what building and testing iot-ingest needs on Debian/Ubuntu, if it is missing:
# the broker, PostgreSQL, and the C libraries' headers; and TimescaleDB, built from the
# source tarball named by INGEST_TIMESCALEDB_TARBALL when that is set (scripts/timescaledb.sh;
# with internet access, Timescale's own packages do the same). Idempotent; needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

timescaledb() {
  if [ -n "${INGEST_TIMESCALEDB_TARBALL:-}" ] && [ "$(scripts/timescaledb.sh status)" = missing ]; then
    scripts/timescaledb.sh install "$INGEST_TIMESCALEDB_TARBALL"
  fi
}

packages=(mosquitto mosquitto-clients libmosquitto-dev libpq-dev postgresql pkg-config python3 openssl iptables)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then timescaledb; exit 0; fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a cluster on 5432; we run our own on free ports.
timescaledb
