#!/usr/bin/env bash
# Static checks for what has no engine here: the compose file (docker-compose config, which
# validates without a Docker daemon), shell scripts (shellcheck), YAML (yamllint), the
# Grafana dashboard (parses as JSON), the Prometheus config, alert rules and their unit tests
# (promtool), the metric-name checker's self-test, and the Dockerfile's required instructions.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in shellcheck:shellcheck yamllint:yamllint docker-compose:docker-compose promtool:prometheus; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # promtool comes with Debian's prometheus package, whose server a systemd machine would
  # start on :9090 (compose's Prometheus port): only the tool is wanted here.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml --profile load config -q
shellcheck -x scripts/*.sh .ci/run
yamllint docker-compose.yml config deploy .yamllint
python3 -m json.tool deploy/grafana/dashboard.json >/dev/null
# rule_files in prometheus.yml is relative (alerts.yaml beside it), as in the container.
promtool check config deploy/prometheus/prometheus.yml >/dev/null
promtool check rules deploy/prometheus/alerts.yaml >/dev/null
promtool test rules deploy/prometheus/alerts.test.yaml >/dev/null
python3 scripts/check-metrics.py --self-test >/dev/null
# Every public declaration says why it exists (issue 23).
python3 scripts/check-docs.py
# Both stages on bookworm (the C libraries linked at build time are the ones at run time),
# the images overridable by build argument.
for line in 'ARG BUILD_IMAGE=swift:.*-bookworm$' 'ARG RUNTIME_IMAGE=debian:bookworm-slim$' \
            'FROM \$[{]BUILD_IMAGE[}] AS build$' 'FROM \$[{]RUNTIME_IMAGE[}]' \
            'USER ingest' 'STOPSIGNAL SIGTERM' 'HEALTHCHECK' 'ENTRYPOINT \["iot-ingest"\]'; do
  grep -q "^$line" Dockerfile || { echo "Dockerfile: missing '$line'" >&2; exit 1; }
done
# A `# syntax=` directive makes BuildKit pull a frontend image from a registry.
if grep -qiE '^#[[:space:]]*syntax[[:space:]]*=' Dockerfile; then
  echo "Dockerfile: remove the '# syntax=' line (BuildKit would fetch its frontend from a registry)" >&2
  exit 1
fi
echo "lint: compose, shellcheck, yamllint, dashboard JSON, Prometheus config/rules/tests, doc comments and Dockerfile checks passed"
