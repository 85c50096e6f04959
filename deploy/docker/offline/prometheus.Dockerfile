# Stand-in for the official prom/prometheus image, ONLY for machines that reach no image
# registry: scripts/docker-images.sh builds it when `docker pull prom/prometheus:...` fails.
# With internet access use the official image (docker-compose.yml defaults to it).
#
# Debian 12's prometheus package (2.42), laid out like the official image: binary reachable as
# /bin/prometheus, configuration in /etc/prometheus, data in /prometheus (writable by the
# unprivileged user it runs as). The package's service is never started during the build.
ARG BASE_IMAGE=iot-ingest-offline/debian:bookworm
FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && mkdir -p /prometheus /etc/prometheus \
 && chown prometheus:prometheus /prometheus
USER prometheus
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
# prometheus handles SIGTERM itself as PID 1.
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
