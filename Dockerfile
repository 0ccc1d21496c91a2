# grants-auditor daemon image.
#   Build: docker build -t grants-auditor .
#   Run:   docker run --read-only --tmpfs /tmp -v grants-auditor-state:/var/lib/grants-auditor \
#            -v $PWD/config.yaml:/etc/grants-auditor/config.yaml:ro -p 9108:9108 grants-auditor
# The config must set server.bind: 0.0.0.0 to be reachable from outside the container.
# tests/daemon/test_image_install.py performs the build and install steps below in a clean venv and runs the
# result as a non-root user on a read-only root; tests/daemon/test_helm.py checks this file's shape.

# ---- build: the product's wheel, nothing else ------------------------------------------------------------
# One exact base tag for both stages (the wheel is pure Python; the runtime stage installs its deps).
FROM python:3.11.14-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
COPY pyproject.toml README.md ./
# The rule packs are package data (auditor/rules/), so copying the package copies them.
# The sandbox (sandbox/, its own distribution with moto and Flask) is never copied.
COPY auditor/ auditor/
RUN pip wheel --no-deps --wheel-dir /wheels .

# ---- runtime: the wheel and its runtime dependencies in a venv, on a clean slim base ----------------------
FROM python:3.11.14-slim-bookworm AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="grants-auditor" \
      org.opencontainers.image.description="Continuously proves that a Databricks workspace and its AWS side grant exactly what Segment's Databricks integrations need." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/grants-auditor \
    PATH=/opt/grants-auditor/bin:$PATH \
    HOME=/var/lib/grants-auditor \
    TMPDIR=/tmp

RUN groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid auditor --no-create-home \
        --home-dir /var/lib/grants-auditor --shell /usr/sbin/nologin auditor \
    && mkdir -p /etc/grants-auditor /var/lib/grants-auditor \
    && chown auditor:auditor /var/lib/grants-auditor

# Installed as root: the auditor user can read the code but never change it. pip and setuptools leave the
# venv once done, and so do the dependencies' own test suites (pandas/tests, numpy/*/tests: 62 MB). Then
# everything is byte-compiled here, since a read-only root filesystem cannot cache bytecode at run time.
COPY --from=build /wheels/ /tmp/wheels/
RUN python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --no-cache-dir --no-compile /tmp/wheels/*.whl \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes pip setuptools \
    && find "$VIRTUAL_ENV/lib" -depth -type d -name tests -exec rm -rf {} + \
    && "$VIRTUAL_ENV/bin/python" -m compileall -q "$VIRTUAL_ENV/lib" \
    && rm -rf /tmp/wheels

# State (SQLite) and HOME live on a volume, temp files on another (a tmpfs or emptyDir): the root filesystem
# may be read-only.
VOLUME ["/var/lib/grants-auditor", "/tmp"]
WORKDIR /var/lib/grants-auditor
USER 10001:10001
EXPOSE 9108

# The port is the default server.port; change both together. No curl in the image: Python asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status != 200)"]

ENTRYPOINT ["grants-auditor", "run"]
CMD ["--config", "/etc/grants-auditor/config.yaml"]
