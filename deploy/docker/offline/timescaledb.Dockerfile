# Stand-in for the official timescale/timescaledb image, ONLY for machines that reach no image
# registry: scripts/docker-images.sh builds it when `docker pull timescale/timescaledb:...` fails.
# With internet access use the official image (docker-compose.yml defaults to it).
#
# Debian 12's PostgreSQL 15 plus TimescaleDB built from the vendored release source by
# scripts/timescaledb.sh (its staged `make install DESTDIR=` tree, copied in as
# timescaledb-stage/). It does what our compose file needs of the official image:
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, data in /var/lib/postgresql/data, on first
# start initdb, password auth for connections from other hosts, the database created and
# `CREATE EXTENSION timescaledb` in it; timescaledb preloaded, telemetry off, listening on all
# addresses; pg_isready on PATH; postgres as PID 1, not root; SIGINT (fast shutdown) to stop.
# Built from a streamed tar context: Dockerfile, timescaledb-entrypoint.sh, timescaledb-stage/.
ARG BASE_IMAGE=iot-ingest-offline/debian:bookworm
FROM ${BASE_IMAGE}
# The server version the staged extension was built against (Debian's package version).
ARG PG_VERSION
# No "main" cluster from the package (the entrypoint makes one in PGDATA) and no service start.
RUN export DEBIAN_FRONTEND=noninteractive \
 && printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/00-no-main-cluster.conf \
 && apt-get -q update \
 && apt-get -q install -y --no-install-recommends "postgresql-15=${PG_VERSION}" "postgresql-client-15=${PG_VERSION}" \
 && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
 && chmod 0700 /var/lib/postgresql/data && chmod 2775 /var/run/postgresql
# timescaledb*.so into the package library directory, control and SQL files into extension/.
COPY timescaledb-stage/ /
COPY timescaledb-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
# PostgreSQL's fast shutdown, as in the official image.
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
