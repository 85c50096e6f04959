# iot-ingest: build with the official Swift image, run on slim Debian as a non-root user.
# Both stages are Debian 12 (bookworm), so the C libraries we link (libmosquitto, libpq) are
# the same versions at build and at run time.
# The base images are build arguments with the official images as defaults; a machine without
# an image registry passes local stand-ins (scripts/docker-images.sh, deploy/docker/offline/).
# No `# syntax=` line: BuildKit would fetch a frontend image from the registry for it.
ARG BUILD_IMAGE=swift:6.2-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends libmosquitto-dev libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Dependencies first: this layer is reused until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime and Foundation are linked in, so the runtime image needs no Swift.
RUN swift build -c release --static-swift-stdlib --product iot-ingest \
 && swift build -c release --static-swift-stdlib --product iot-loadgen \
 && mkdir /staging \
 && cp "$(swift build -c release --show-bin-path)/iot-ingest" "$(swift build -c release --show-bin-path)/iot-loadgen" /staging/

FROM ${RUNTIME_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends libmosquitto1 libpq5 libstdc++6 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --create-home ingest \
 && mkdir -p /app/config \
 && install -d -o ingest -g ingest /app/spool \
 && install -d -o ingest -g ingest -m 0750 /app/spool/journal
# /app/spool (the journal in /app/spool/journal) exists owned by ingest: Docker copies this
# ownership into an empty named volume mounted there, so a fresh volume is writable by uid 10001.
COPY --from=build /staging/ /usr/local/bin/
COPY config/ingest.yaml /app/config/ingest.yaml
WORKDIR /app
USER ingest:ingest
ENV INGEST_SPOOL_DIR=/app/spool
EXPOSE 8080
# The daemon is PID 1 (exec form, no shell): it receives SIGTERM itself and runs the whole
# shutdown sequence; it installs its own signal handlers, so PID 1's missing default actions
# do not matter.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["iot-ingest", "healthcheck"]
ENTRYPOINT ["iot-ingest"]
CMD ["run"]
