#!/usr/bin/env bash
# Static checks for what has no engine here: the compose file (docker-compose config, which
# validates without a Docker daemon), shell scripts (shellcheck), YAML (yamllint), the
# Grafana dashboard (parses as JSON), and the Dockerfile's required instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in shellcheck:shellcheck yamllint:yamllint docker-compose:docker-compose; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile load config -q
shellcheck -x scripts/*.sh .ci/run
yamllint docker-compose.yml config deploy .yamllint
python3 -m json.tool deploy/grafana/dashboard.json >/dev/null
for line in 'FROM swift:' 'FROM debian:bookworm-slim' 'USER ingest' 'STOPSIGNAL SIGTERM' 'HEALTHCHECK' \
            'ENTRYPOINT \["iot-ingest"\]'; do
  grep -q "^$line" Dockerfile || { echo "Dockerfile: missing '$line'" >&2; exit 1; }
done
echo "lint: compose, shellcheck, yamllint, dashboard JSON and Dockerfile checks passed"
