# The sre-platform service image.
#
#   docker build --build-arg APP_VERSION=1.4.0 --build-arg GIT_SHA=$(git rev-parse HEAD) -t sre-platform .
#   buildah bud --format docker ...   (the docker format keeps HEALTHCHECK; OCI drops it)
#
# BASE_IMAGE is pinned by digest; an offline build substitutes a locally assembled
# Python 3.11 Debian image with --build-arg BASE_IMAGE=<image>. Both stages use the same
# base, so the virtual environment built in the first one runs unchanged in the second.
ARG BASE_IMAGE=python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1

# --- builder: the dependencies, hash-checked, in a virtual environment ------------------
FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
COPY app/requirements.lock ./
# Wheels only: every dependency ships manylinux wheels, and refusing sdists keeps
# compilers out of the build and the result reproducible.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: --require-hashes -r requirements.lock
COPY app/sre_platform /app/sre_platform
RUN python -m compileall -q /app/sre_platform

# --- runtime: the interpreter, the virtual environment and the code; nothing else ------
FROM ${BASE_IMAGE} AS runtime
ARG APP_VERSION=dev
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="sre-platform" \
      org.opencontainers.image.description="The sre-platform HTTP service" \
      org.opencontainers.image.version="${APP_VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}"
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_VERSION="${APP_VERSION}" \
    GIT_SHA="${GIT_SHA}" \
    PORT=8080
# A passwd entry for the numeric user (libpq looks the user name up when the URL names
# none). Written directly because a minimal base (debootstrap minbase) has no useradd.
RUN echo 'app:x:10001:' >> /etc/group \
    && echo 'app:x:10001:10001:sre-platform:/nonexistent:/usr/sbin/nologin' >> /etc/passwd
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
EXPOSE 8080
# Liveness only (/healthz has no dependencies); Kubernetes uses its own probes instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=2)"]
USER 10001:10001
ENTRYPOINT ["python", "-m", "sre_platform"]
CMD ["serve"]
