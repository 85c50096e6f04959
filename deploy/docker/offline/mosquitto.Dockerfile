# Stand-in for the official eclipse-mosquitto:2 image, ONLY for machines that reach no image
# registry: scripts/docker-images.sh builds it when `docker pull eclipse-mosquitto:2` fails.
# With internet access use the official image (docker-compose.yml defaults to it).
#
# Debian 12's mosquitto 2.0 and its clients, laid out like the official image: configuration in
# /mosquitto/config, persistence in /mosquitto/data, both owned by the mosquitto user (the broker
# starts as root and drops to that user itself). Debian's stock /etc/mosquitto configuration is
# not used (it wants /run/mosquitto for a pid file).
ARG BASE_IMAGE=iot-ingest-offline/debian:bookworm
FROM ${BASE_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends mosquitto mosquitto-clients \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /mosquitto/config /mosquitto/data /mosquitto/log \
 && printf '%s\n' '# Default configuration (local-only, like the official image); compose mounts its own.' \
      'persistence true' 'persistence_location /mosquitto/data/' 'log_dest stdout' \
      > /mosquitto/config/mosquitto.conf \
 && chown -R mosquitto:mosquitto /mosquitto
VOLUME ["/mosquitto/data", "/mosquitto/log"]
EXPOSE 1883
# mosquitto handles SIGTERM itself as PID 1.
CMD ["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
