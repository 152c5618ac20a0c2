# syntax=docker/dockerfile:1
# bnn-tune: one image for every role of a cluster (API, scheduler, Ray head, Ray worker); the command picks the role.
#
#   docker build -t bnn-tune .                                   # CPU image (python:3.11-slim, CPU torch)
#   docker build -t bnn-tune:cuda \                              # CUDA image for GPU workers
#       --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
#
# Dependencies come from requirements.lock (the versions the test suite passes with); torch comes first from the
# PyTorch index TORCH_INDEX_URL names, so that the CPU image does not pull a multi-GB CUDA build.

ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- base: a Python >= 3.11 on the chosen base image, and the unprivileged user the services run as -------------
FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The python images bring their own Python; the CUDA images bring none, so it comes from the distribution there.
RUN if ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --create-home --uid 10001 --user-group --shell /usr/sbin/nologin bnn

# --- builder: a virtualenv with torch, the locked dependencies and the package (no build tools reach the runtime) --
FROM base AS builder
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip \
    && pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
WORKDIR /src
COPY requirements.lock ./
RUN pip install -r requirements.lock
# The Ray dashboard (published by the ray-head service) needs ray[default], which the package does not depend on:
# ray stays at its locked version (-c), the dashboard's own extra packages are pinned only by ray's requirements.
RUN pip install "ray[default]" -c requirements.lock
COPY pyproject.toml README.md ./
COPY trainers ./trainers
COPY search_spaces ./search_spaces
COPY tuner ./tuner
COPY api ./api
# --no-deps: every dependency is already installed at its locked version; this adds bnn-tune itself.
RUN pip install --no-deps . \
    && pip check

# --- runtime: the virtualenv, the entrypoint and a non-root user ---------------------------------------------------
FROM base AS runtime
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/bnn-tune-entrypoint
# Data sets are mounted at /data; caches and the default SQLite file live in directories the user owns.
RUN mkdir -p /data /cache /work \
    && chown bnn:bnn /data /cache /work
ENV PATH=/opt/venv/bin:$PATH \
    BNN_TUNE_DATA=/data \
    BNN_TUNE_CACHE=/cache \
    RAY_USAGE_STATS_ENABLED=0
USER bnn
WORKDIR /work
EXPOSE 8000 6379 8265
# The API's liveness; the compose file gives the other roles (scheduler, Ray nodes) checks of their own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/bnn-tune-entrypoint"]
CMD ["bnn-tune", "serve", "--host", "0.0.0.0", "--port", "8000"]
