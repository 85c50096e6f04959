# Stand-in for the official Swift image (swift:6.2-bookworm), ONLY for machines that reach no
# image registry: it is used when `docker pull swift:6.2-bookworm` fails. With internet access
# use the official image (the project's Dockerfile defaults to it).
#
# It is the machine's own Swift toolchain (/opt/swift) on a Debian 12 base, plus the machine's
# Swift package mirror (/opt/swift-packages) with the same git redirect, because
# `swift package resolve` cannot reach github.com here. Built by scripts/docker-images.sh from a
# streamed tar context (/opt is outside any build directory):
#   tar -c -C deploy/docker/offline swift.Dockerfile -C /opt swift swift-packages |
#     docker build --network host -f swift.Dockerfile -t iot-ingest-offline/swift:VERSION-bookworm -
ARG BASE_IMAGE=iot-ingest-offline/debian:bookworm
FROM ${BASE_IMAGE}
# The official image's packages (libncurses6: without it `swift` does not start).
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends \
      binutils git gnupg2 libc6-dev libcurl4-openssl-dev libedit2 libgcc-12-dev libpython3-dev \
      libsqlite3-0 libstdc++-12-dev libxml2-dev libz3-dev pkg-config tzdata zlib1g-dev ca-certificates \
      libncurses6 libtinfo6 libicu72 uuid-dev libffi8 libgmp10 \
 && rm -rf /var/lib/apt/lists/*
COPY swift /opt/swift
ENV PATH=/opt/swift/usr/bin:$PATH
# Stand-in for github.com: the machine's Swift package mirror and the same git redirect.
COPY swift-packages /opt/swift-packages
RUN git config --system url./opt/swift-packages/.insteadof https://github.com/
CMD ["bash"]
