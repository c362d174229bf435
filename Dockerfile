# syntax=docker/dockerfile:1
# syncer: one container, run on a schedule, unattended. Build: docker build -t syncer .
# Stage 1 builds wheels (compilers stay here); stage 2 installs them into a clean slim image.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
COPY connectors ./connectors
# Extras: postgres for the state DB; add snowflake / bigquery here when the warehouse needs them.
# constraints.txt: the versions the test suite passed on (make constraints).
RUN pip wheel --wheel-dir /wheels -c constraints.txt ".[postgres]"

FROM python:3.11-slim AS runtime
ARG UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    SYNCER_CONFIG=/etc/syncer/config.toml
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels /wheels/*.whl \
 && groupadd --system --gid "${UID}" syncer \
 && useradd --system --uid "${UID}" --gid syncer --home-dir /var/lib/syncer --shell /usr/sbin/nologin syncer \
 && mkdir -p /etc/syncer /var/lib/syncer \
 && chown syncer:syncer /var/lib/syncer
# Secrets: environment variables, or files in /run/secrets (syncer's default SYNCER_SECRETS_DIR).
WORKDIR /var/lib/syncer
VOLUME ["/var/lib/syncer"]
USER ${UID}:${UID}
EXPOSE 9108
# No curl in slim images: the probe is Python's urllib (exit 0 on HTTP 200 from /healthz), at the
# [daemon] host and port of $SYNCER_CONFIG: the address the daemon listens on (syncer.server.probe_url).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "syncer.server", "probe"]
# SIGTERM: running syncs finish their current batch, then exit 0 (daemon.grace_seconds, default 30 s;
# keep `docker stop -t` / terminationGracePeriodSeconds above it).
STOPSIGNAL SIGTERM
ENTRYPOINT ["syncer"]
CMD ["daemon"]
