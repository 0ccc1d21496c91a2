# grants-auditor daemon image. Build: docker build -t grants-auditor .
# Run:   docker run -v $PWD/config.yaml:/etc/grants-auditor/config.yaml -p 9108:9108 grants-auditor
# The config must set server.bind: 0.0.0.0 to be reachable from outside the container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN groupadd --system --gid 10001 auditor \
    && useradd --system --uid 10001 --gid auditor --no-create-home \
        --home-dir /var/lib/grants-auditor --shell /usr/sbin/nologin auditor \
    && mkdir -p /etc/grants-auditor /var/lib/grants-auditor \
    && chown auditor:auditor /var/lib/grants-auditor

WORKDIR /tmp/build
COPY pyproject.toml README.md ./
# The rule packs are package data (auditor/rules/), so copying the package copies them.
COPY auditor/ auditor/
# The product alone: the sandbox (sandbox/, a separate distribution with moto and Flask) is not installed.
RUN pip install . && rm -rf /tmp/build

WORKDIR /var/lib/grants-auditor
USER 10001:10001
EXPOSE 9108
ENTRYPOINT ["grants-auditor"]
CMD ["run", "--config", "/etc/grants-auditor/config.yaml"]
