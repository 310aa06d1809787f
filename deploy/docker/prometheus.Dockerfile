# Prometheus for deploy/docker-compose.yml from Debian 12's prometheus
# package, on the same base as the recstack image (no registry image
# needed). Build from the repository root:
#
#   docker build -f deploy/docker/prometheus.Dockerfile -t recstack-prometheus .
#
# The configuration is not baked in: compose mounts deploy/docker/prometheus.yml.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}
# Besides documentation: the web UI's time-zone database sources (212 MB; the
# UI keeps its bundled moment-timezone-with-data.min.js) and promtool (a
# config checker, 46 MB), which a server does not run.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
 && printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/lintian/*' \
      'path-exclude /usr/share/javascript/moment-timezone/data/*' 'path-exclude /usr/bin/promtool' \
      > /etc/dpkg/dpkg.cfg.d/recstack-slim \
 && apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends prometheus \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /usr/sbin/policy-rc.d \
 && mkdir -p /prometheus && chown prometheus:prometheus /prometheus
# The package's user; /prometheus is the time-series database's volume.
USER prometheus
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
