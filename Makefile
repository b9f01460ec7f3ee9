# kzmon: the verbs people type. Everything installs from this repository's own files.
# State (venv aside) lives under .state/ (git-ignored): the Elasticsearch download and node,
# the SMTP mailbox, AIRFLOW_HOME, crawl data.

PYTHON ?= python3
STATE := .state
VENV := .venv
PY := $(VENV)/bin/python
UV := $(STATE)/tools/bin/uv
UV_VERSION := 0.13.8

.DEFAULT_GOAL := help
.PHONY: help install es-up es-down es-status smtp-up smtp-down replay-up replay-down \
        demo test lint format clean bench-extract bench-tag bench-crawl bench-index bench-alerts \
        bench-stories system-packages up down status bench-crawl-real \
        up-scale down-scale status-scale bench-e2e

help:
	@echo "make demo    - the quick path: install, start Elasticsearch + SMTP, run every DAG once"
	@echo "               with 'airflow dags test' on SQLite (no scheduler)"
	@echo "make up      - production mode: PostgreSQL + Airflow's api-server, scheduler,"
	@echo "               dag-processor, triggerer + Elasticsearch, SMTP, replay (make down, status)"
	@echo "make up-scale - scale-out mode (docker-compose.scale.yml without Docker): make up's"
	@echo "               stack with 3 Elasticsearch nodes, Redis, CeleryExecutor, 2 Celery workers"
	@echo "               (make down-scale, status-scale)"
	@echo "make test    - install and run the whole test suite (starts what it needs)"
	@echo "make es-up | es-down | smtp-up | smtp-down | replay-up | replay-down | lint | format"
	@echo "make bench-extract | bench-tag | bench-crawl | bench-index | bench-alerts | bench-stories | bench-e2e"
	@echo "make bench-crawl-real (discovery on the real RFE/RL sitemaps in ../shared)"

# uv installs the locked dependency set (uv.lock) quickly and reproducibly; it lives in its
# own small venv so that `uv sync` never removes it.
$(UV):
	$(PYTHON) -m venv $(STATE)/tools
	$(STATE)/tools/bin/python -m pip install -q --upgrade pip "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

# Debian packages that production mode and its tests need, installed only when missing:
# PostgreSQL (Airflow's metadata DB under `make up`), Redis (the Celery broker of `make up-scale`)
# and Chromium (the browser tests; fonts for Latin, Cyrillic and Kazakh). As root, `apt-get
# update` first (fresh machines and CI may have no package lists); otherwise through sudo. The lock timeout lets parallel checkouts wait.
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600
system-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium fonts-dejavu-core"; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  echo "system-packages: apt-get install$$missing"; \
	  $$sudo env $(APT_GET) update -qq && \
	  $$sudo env $(APT_GET) install -y -qq --no-install-recommends $$missing; \
	fi

es-up: install
	@$(PY) -m kzmon.localstack.es_node up

es-down:
	@$(PY) -m kzmon.localstack.es_node down

es-status:
	@$(PY) -m kzmon.localstack.es_node status

smtp-up: install
	@$(PY) -m kzmon.localstack.smtp_server up

smtp-down:
	@$(PY) -m kzmon.localstack.smtp_server down

replay-up: install
	@$(PY) -m spiders.replay up

replay-down:
	@$(PY) -m spiders.replay down

demo: install es-up smtp-up
	$(PY) -m kzmon.demo

# Production mode on this machine (README "Run it like production"); the last line of `up`
# is one JSON object with the URLs. `make up LIVE=1` crawls the live outlets, not the replay.
up: install system-packages
	@$(PY) -m kzmon.localstack.stack up $(if $(LIVE),--live,)

down:
	@$(PY) -m kzmon.localstack.stack down

status:
	@$(PY) -m kzmon.localstack.stack status

# Scale-out mode (docs/scale.md): what docker-compose.scale.yml describes, on this machine.
up-scale: install system-packages
	@$(PY) -m kzmon.localstack.stack up --scale $(if $(LIVE),--live,)

down-scale:
	@$(PY) -m kzmon.localstack.stack down --scale

status-scale:
	@$(PY) -m kzmon.localstack.stack status --scale

test: install system-packages
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench-extract: install
	$(PY) -m benchmarks.extract

bench-tag: install
	$(PY) -m benchmarks.tag

bench-crawl: install
	$(PY) -m benchmarks.crawl

bench-crawl-real: install
	$(PY) -m benchmarks.crawl --real

bench-index: install
	$(PY) -m benchmarks.index

bench-alerts: install
	$(PY) -m kzmon.alerts.bench

bench-e2e: install
	$(PY) -m benchmarks.e2e

bench-stories: install
	$(PY) -m benchmarks.stories

clean: down down-scale es-down smtp-down replay-down
	rm -rf $(STATE)/data $(STATE)/demo $(STATE)/airflow $(STATE)/smtp $(STATE)/prod $(STATE)/scale
