# Ray for docker-mode nodes, built on the controller from a wheelhouse, no registry needed.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates procps \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY wheels /tmp/wheels
ARG RAY_REQUIREMENTS
RUN python3 -m venv /opt/ray/venv \
 && /opt/ray/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels ${RAY_REQUIREMENTS} \
 && rm -rf /tmp/wheels
# Jobs run with this PATH, so `python` is the image's Ray interpreter.
ENV PATH=/opt/ray/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    RAY_USAGE_STATS_ENABLED=0
