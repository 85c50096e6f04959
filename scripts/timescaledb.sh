#!/usr/bin/env bash
# Builds TimescaleDB from its release source tarball for the machine's PostgreSQL 15 and
# installs it, once per machine: the build (~2.5 min on 2 cores) is kept in a cache directory
# keyed by the tarball's checksum, so later runs only copy the staged files.
#
#   scripts/timescaledb.sh install [TARBALL]   build if needed, install into PostgreSQL 15
#   scripts/timescaledb.sh stage [TARBALL]     build if needed; print the staged tree's path
#                                             (make install DESTDIR=...; the Docker images copy it)
#   scripts/timescaledb.sh status              "installed VERSION" or "missing"
#
# TARBALL defaults to $INGEST_TIMESCALEDB_TARBALL. CI passes ../shared/vendor/timescaledb-*.tar.gz.
# With internet access, install Timescale's own packages instead (their apt repository, package
# timescaledb-2-postgresql-15): services.sh only looks for the installed extension.
# The cache lives in $INGEST_CACHE_DIR (default /var/cache/iot-ingest).
set -euo pipefail
# Root's work (packages, an engine, files under /var and PostgreSQL's directories): as
# another user, run again through sudo rather than fail half-way.
if [ "$(id -u)" -ne 0 ]; then exec sudo -E "$0" "$@"; fi
cd "$(dirname "$0")/.."

cmd=${1:?usage: timescaledb.sh install|stage|status [TARBALL]}
tarball=${2:-${INGEST_TIMESCALEDB_TARBALL:-}}
cache=${INGEST_CACHE_DIR:-/var/cache/iot-ingest}
pg_config=/usr/lib/postgresql/15/bin/pg_config

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

installed_version() {
  local control=/usr/share/postgresql/15/extension/timescaledb.control
  [ -f "$control" ] || return 1
  sed -n "s/^default_version = '\(.*\)'/\1/p" "$control"
}

stage() {
  [ -n "$tarball" ] || { echo "timescaledb.sh: no tarball (argument or INGEST_TIMESCALEDB_TARBALL)" >&2; exit 2; }
  [ -f "$tarball" ] || { echo "timescaledb.sh: $tarball: no such file" >&2; exit 2; }
  # Built against the headers of the server installed here, at its exact version (an
  # extension built for one minor release is not promised to load in another), and cached
  # per tarball and server version. The version is kept beside the stage: the TimescaleDB
  # stand-in image installs that same server (scripts/docker-images.sh).
  local sum dir v
  v=$(dpkg-query -W -f='${Version}' postgresql-15)
  sum=$(sha256sum "$tarball" | cut -c1-16)
  dir="$cache/timescaledb-$sum-pg$v"
  if [ -f "$dir/stage.done" ]; then echo "$dir/stage"; return; fi
  local missing=()
  for p in cmake gcc make; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "$(dpkg-query -W -f='${Version}' postgresql-server-dev-15 2>/dev/null)" = "$v" ] \
    || missing+=("postgresql-server-dev-15=$v")
  if [ ${#missing[@]} -gt 0 ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  $sudo mkdir -p "$dir"
  $sudo rm -rf "$dir/src" "$dir/stage"
  $sudo mkdir -p "$dir/src"
  echo "building TimescaleDB from $(basename "$tarball") (about 2.5 minutes, once per machine)..." >&2
  $sudo tar -xzf "$tarball" -C "$dir/src" --strip-components=1
  (
    cd "$dir/src"
    ./bootstrap -DPG_CONFIG="$pg_config" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
      -DWARNINGS_AS_ERRORS=OFF -DLINTER=OFF >"$dir/build.log" 2>&1
    cd build
    make -j"$(nproc)" >>"$dir/build.log" 2>&1
    make install DESTDIR="$dir/stage" >>"$dir/build.log" 2>&1
  ) || { tail -40 "$dir/build.log" >&2; exit 1; }
  $sudo rm -rf "$dir/src"
  echo "$v" | $sudo tee "$dir/pg-version" >/dev/null
  $sudo touch "$dir/stage.done"
  echo "$dir/stage"
}

case "$cmd" in
  status)
    if v=$(installed_version) && [ -n "$v" ]; then echo "installed $v"; else echo missing; fi ;;
  stage) stage ;;
  install)
    dir=$(stage)
    $sudo cp -a "$dir/." /
    echo "TimescaleDB $(installed_version) installed" >&2 ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
