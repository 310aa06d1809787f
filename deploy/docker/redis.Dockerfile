# Redis for deploy/docker-compose.yml from Debian 12's redis-server package,
# on the same base as the recstack image (no registry image needed). Build
# from the repository root:
#
#   docker build -f deploy/docker/redis.Dockerfile -t recstack-redis .
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}
# policy-rc.d: the package would start a server at install time. No
# documentation, manual pages or translations.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
      > /etc/dpkg/dpkg.cfg.d/recstack-slim \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends redis-server \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /usr/sbin/policy-rc.d \
 && mkdir -p /data && chown redis:redis /data
# The package's user; /data is the append-only file's volume.
USER redis
WORKDIR /data
EXPOSE 6379
# Listen on every interface of the container without a password (the port is
# published on the host's loopback only): protected mode would refuse peers.
CMD ["redis-server", "--port", "6379", "--protected-mode", "no", "--dir", "/data"]
