# syntax=docker/dockerfile:1
# The kzmon image: Apache Airflow 3 (the official image) plus this project, installed with uv
# from uv.lock. One image serves every Airflow component of docker-compose.yml (api-server,
# scheduler, dag-processor, triggerer, Celery workers) and the one-shot init jobs.
#
#   docker compose build            # or: docker build -t kzmon-airflow:0.1.0 .
#
# Versions are pinned here and nowhere else; tests/compose checks that they stay pinned.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.8

# uv's own image only carries the static binaries; copying them is uv's recommended way.
FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION

# In a folder of its own: the base image's virtualenv has an unpinned uv of its own, and its
# bin/ comes first on PATH, so the RUN lines below call this one by its full path.
COPY --from=uv /uv /uvx /opt/uv/

USER root
# The project lives in /opt/kzmon and is installed editable: kzmon finds index_mappings/,
# templates and data files next to its sources (kzmon.settings.REPO_ROOT).
RUN mkdir -p /opt/kzmon /var/lib/kzmon/data \
    && chown -R airflow:0 /opt/kzmon /var/lib/kzmon \
    && chmod -R g+rwX /opt/kzmon /var/lib/kzmon
USER airflow
WORKDIR /opt/kzmon

# The official image's Python environment is the virtualenv at $VIRTUAL_ENV
# (/home/airflow/.local, created by Airflow's scripts/docker/create_prod_venv.sh); `uv pip`
# installs into it. Airflow itself stays pinned to the base
# image's version, so the providers the image ships (postgres, celery, redis...) keep working.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1

# Dependencies first (a layer that only changes with uv.lock), then the project itself.
COPY --chown=airflow:0 pyproject.toml uv.lock README.md ./
RUN /opt/uv/uv export --frozen --no-dev --no-emit-project --no-hashes \
        --output-file /tmp/requirements.txt \
    && /opt/uv/uv pip install --requirement /tmp/requirements.txt \
        "apache-airflow==${AIRFLOW_VERSION}" \
    && rm /tmp/requirements.txt

COPY --chown=airflow:0 kzmon ./kzmon
COPY --chown=airflow:0 spiders ./spiders
COPY --chown=airflow:0 enrich ./enrich
COPY --chown=airflow:0 index_mappings ./index_mappings
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 deploy ./deploy
RUN /opt/uv/uv pip install --no-deps --editable . \
    && python -c "import kzmon, spiders, enrich"

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/kzmon/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    KZMON_STATE_DIR=/var/lib/kzmon \
    KZMON_DATA_DIR=/var/lib/kzmon/data
