#!/usr/bin/env bash
# Makes sure the images docker-compose.yml and the Dockerfile need exist in the local engine,
# and writes an env file naming them for `docker compose --env-file FILE`:
#
#   scripts/docker-images.sh [--rebuild] [--no-pull] [ENV_FILE]     (default: print to stdout)
#
# For each official image (swift, debian slim, timescaledb, eclipse-mosquitto, prometheus): use
# it if the engine has it, else `docker pull` it, else build a local stand-in from
# deploy/docker/offline/ (a machine without an image registry) and name that instead:
#   iot-ingest-offline/debian:bookworm        debootstrap --variant=minbase + docker import
#                                             (rootfs tarball cached in $INGEST_CACHE_DIR)
#   iot-ingest-offline/swift:VERSION-bookworm /opt/swift + /opt/swift-packages (~3.5 GB context)
#   iot-ingest-offline/timescaledb:V-pg15     Debian PostgreSQL 15 + scripts/timescaledb.sh stage
#   iot-ingest-offline/mosquitto:2            Debian mosquitto
#   iot-ingest-offline/prometheus:2.42        Debian prometheus
# A stand-in whose tag exists is reused; --rebuild builds the stand-ins again (the Debian base
# from the cached rootfs tarball: delete it to debootstrap again). --no-pull skips `docker pull`.
# After the first failed pull no further pulls are tried (no registry).
#
# The TimescaleDB stand-in needs TimescaleDB's release tarball: $INGEST_TIMESCALEDB_TARBALL, else
# the one in ../shared/vendor/. Starts the engine (scripts/docker-engine.sh) if needed.
#
# Environment: INGEST_CACHE_DIR (default /var/cache/iot-ingest), INGEST_DOCKER_PULL_TIMEOUT
# (seconds one pull may take, default 600; offline a pull fails at once).
set -euo pipefail
# Root's work (packages, an engine, files under /var and PostgreSQL's directories): as
# another user, run again through sudo rather than fail half-way.
if [ "$(id -u)" -ne 0 ]; then exec sudo -E "$0" "$@"; fi
cd "$(dirname "$0")/.."

rebuild=0
pull=1
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) rebuild=1 ;;
    --no-pull) pull=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "docker-images.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1 ;;
  esac
  shift
done

scripts/docker-engine.sh start
eval "$(scripts/docker-engine.sh env)"
# The stand-ins use the classic builder: no buildx needed, whichever CLI is installed.
export DOCKER_BUILDKIT=0

cache=${INGEST_CACHE_DIR:-/var/cache/iot-ingest}
pull_timeout=${INGEST_DOCKER_PULL_TIMEOUT:-600}
offline=deploy/docker/offline
prefix=iot-ingest-offline

log() { echo "docker-images.sh: $*" >&2; }

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

# The official image, if the engine has it or can pull it.
official() {
  local name=$1
  have_image "$name" && return 0
  [ "$pull" -eq 1 ] || return 1
  log "pulling $name"
  if timeout "$pull_timeout" "$DOCKER" pull -q "$name" >/dev/null 2>&1; then return 0; fi
  log "cannot pull $name: using local stand-ins from now on"
  pull=0
  return 1
}

timed() {
  local what=$1 t0=$SECONDS
  shift
  "$@"
  log "$what built in $((SECONDS - t0)) s"
}

# "URI SUITE" for each enabled Debian bookworm archive apt uses (main, -updates, -security),
# from one-line .list files and deb822 .sources files.
apt_debian_archives() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no")
          for (u in uris) for (s in suites) print u, s
        types = ""; enabled = ""; delete uris; delete suites
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        key = tolower($1); sub(/:$/, "", key)
        if (key == "types") { types = ""; for (i = 2; i <= NF; i++) types = types " " $i; sub(/^ /, "", types) }
        if (key == "enabled") enabled = $2
        if (key == "uris") for (i = 2; i <= NF; i++) uris[$i] = 1
        if (key == "suites") for (i = 2; i <= NF; i++) suites[$i] = 1
      }
      END { flush() }' "$f"
  done | awk '$2 ~ /^bookworm(-updates|-security|\/updates)?$/' | sort -u
}

build_debian() {
  local tag=$1 tarball=$cache/debian-bookworm-minbase.tar archives mirror root
  archives=$(apt_debian_archives)
  mirror=$(awk '$2 == "bookworm" { print $1; exit }' <<<"$archives")
  mirror=${mirror:-http://deb.debian.org/debian}
  if [ ! -f "$tarball" ]; then
    root=$cache/debian-bookworm-rootfs
    mkdir -p "$cache"
    rm -rf "$root"
    log "debootstrap bookworm from $mirror (about a minute, once per machine)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    # The same archives as the host (security updates too), main only.
    rm -f "$root"/etc/apt/sources.list.d/*
    awk '{ print "deb " $1 " " $2 " main" }' <<<"${archives:-$mirror bookworm}" > "$root/etc/apt/sources.list"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" --numeric-owner --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
      -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  "$DOCKER" import -c 'CMD ["bash"]' -m "debootstrap --variant=minbase bookworm (iot-ingest offline stand-in)" \
    "$tarball" "$tag" >/dev/null
}

build_swift() {
  local tag=$1 base=$2
  tar -c -C "$offline" swift.Dockerfile -C /opt swift swift-packages \
    | "$DOCKER" build -q --network host --build-arg BASE_IMAGE="$base" -f swift.Dockerfile -t "$tag" - >/dev/null
}

# Debian's PostgreSQL 15 at the version the staged TimescaleDB was built against, plus the stage.
build_timescaledb() {
  local tag=$1 base=$2 stage=$3
  tar -c -C "$offline" timescaledb.Dockerfile timescaledb-entrypoint.sh \
      -C "$(dirname "$stage")" --transform='s,^stage\(/\|$\),timescaledb-stage\1,' "$(basename "$stage")" \
    | "$DOCKER" build -q --network host --build-arg BASE_IMAGE="$base" \
        --build-arg PG_VERSION="$(cat "$(dirname "$stage")/pg-version")" -f timescaledb.Dockerfile -t "$tag" - >/dev/null
}

build_plain() {
  local tag=$1 base=$2 dockerfile=$3
  "$DOCKER" build -q --network host --build-arg BASE_IMAGE="$base" -f "$offline/$dockerfile" -t "$tag" "$offline" >/dev/null
}

# stand_in TAG BUILD-FUNCTION ARGS...: the tag, built unless it exists (or --rebuild).
stand_in() {
  local tag=$1
  shift
  if [ "$rebuild" -eq 1 ] || ! have_image "$tag"; then
    log "building $tag"
    timed "$tag" "$@" "$tag"
  fi
}

# Debian base (the runtime image, and the base of every stand-in).
runtime=debian:bookworm-slim
if ! official "$runtime"; then
  runtime=$prefix/debian:bookworm
  stand_in "$runtime" build_debian
fi

builder=swift:6.2-bookworm
if ! official "$builder"; then
  [ -x /opt/swift/usr/bin/swift ] || { log "no /opt/swift toolchain for the Swift stand-in"; exit 1; }
  swift_version=$(/opt/swift/usr/bin/swift --version 2>/dev/null | sed -n 's/^Swift version \([0-9.]*\).*/\1/p' | head -1)
  builder=$prefix/swift:${swift_version:-local}-bookworm
  with_base() { build_swift "$1" "$runtime"; }
  stand_in "$builder" with_base
fi

timescaledb=timescale/timescaledb:latest-pg16
if ! official "$timescaledb"; then
  ts_tarball=${INGEST_TIMESCALEDB_TARBALL:-}
  if [ -z "$ts_tarball" ]; then
    for f in ../shared/vendor/timescaledb-*.tar.gz; do [ -f "$f" ] && ts_tarball=$f; done
  fi
  if [ -z "$ts_tarball" ] || [ ! -f "$ts_tarball" ]; then
    log "no TimescaleDB source tarball: set INGEST_TIMESCALEDB_TARBALL"; exit 1
  fi
  ts_tarball=$(realpath "$ts_tarball")
  ts_version=$(basename "$ts_tarball" .tar.gz)
  ts_stage=$(scripts/timescaledb.sh stage "$ts_tarball")
  pg_version=$(cat "$(dirname "$ts_stage")/pg-version")
  timescaledb=$prefix/timescaledb:${ts_version#timescaledb-}-pg${pg_version%%-*}
  with_base() { build_timescaledb "$1" "$runtime" "$ts_stage"; }
  stand_in "$timescaledb" with_base
fi

mosquitto=eclipse-mosquitto:2
if ! official "$mosquitto"; then
  mosquitto=$prefix/mosquitto:2
  with_base() { build_plain "$1" "$runtime" mosquitto.Dockerfile; }
  stand_in "$mosquitto" with_base
fi

prometheus=prom/prometheus:v2.53.0
if ! official "$prometheus"; then
  prometheus=$prefix/prometheus:2.42
  with_base() { build_plain "$1" "$runtime" prometheus.Dockerfile; }
  stand_in "$prometheus" with_base
fi

env_file="# docker compose --env-file: images for docker-compose.yml (scripts/docker-images.sh)
BUILD_IMAGE=$builder
RUNTIME_IMAGE=$runtime
TIMESCALEDB_IMAGE=$timescaledb
MOSQUITTO_IMAGE=$mosquitto
PROMETHEUS_IMAGE=$prometheus"
if [ -n "$out" ]; then
  printf '%s\n' "$env_file" > "$out"
  log "wrote $out"
else
  printf '%s\n' "$env_file"
fi
