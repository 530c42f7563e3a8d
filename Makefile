# The two commands: `make demo` (set up and run the product) and `make test` (set up and run the tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements.txt requirements-dev.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
# Front-end libraries (htmx, Chart.js, marked, DOMPurify, pdf.js) from npm, served by Django from node_modules.
NODE_STAMP := node_modules/.installed-$(shell sha1sum package-lock.json | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

export TOKENIZERS_PARALLELISM := false

.PHONY: help setup system-deps demo serve worker test lint typecheck check-migrations pytest \
	bench-retrieval eval-retrieval bench clean-data loadtest drill-shutdown drills drills-alerts

help:
	@echo "make demo   - set up and run the product on http://$(HOST):$(PORT) (embedded services)"
	@echo "make test   - set up and run the whole suite (lint, types, import contracts, pytest)"
	@echo "make eval-retrieval - retrieval quality on the shared filings (REUSE=1: keep embeddings)"

$(STAMP): $(REQS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing npm (Debian package npm)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-* && touch $@

setup: $(STAMP) $(NODE_STAMP)

# Prometheus and promtool (alert rule tests, the alert drill), Alertmanager and amtool (its config
# and routes) and Chromium (browser tests) come from Debian's packages.
system-deps:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "Installing promtool (Debian package prometheus)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v amtool >/dev/null 2>&1 || { \
		echo "Installing Alertmanager and amtool (Debian package prometheus-alertmanager)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Chromium for the browser tests (Debian package chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

demo: setup
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py dbserver start
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py demo_setup
	$(MAKE) --no-print-directory serve

serve:
	@export DJANGO_SETTINGS_MODULE=config.settings.local; \
	$(BIN)/celery -A config worker --beat --schedule=.data/celerybeat-schedule --loglevel=WARNING --concurrency=1 --pool=solo >logs/celery.log 2>&1 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	echo "Serving http://$(HOST):$(PORT)/ (Celery worker pid $$worker, log logs/celery.log)"; \
	$(BIN)/gunicorn -c config/gunicorn.py --bind $(HOST):$(PORT) config.asgi:application

test: setup system-deps lint typecheck check-migrations pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy .

check-migrations:
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

pytest:
	$(BIN)/pytest

# Retrieval quality on the shared filings (FinanceBench dev, FinQA reports, docugami 10-Qs):
# ingests into a scratch database it keeps, so REUSE=1 re-ranks without re-embedding.
eval-retrieval: setup
	nice -n 5 $(BIN)/python -m bench.retrieval --keep $(if $(REUSE),--reuse)

bench-retrieval: eval-retrieval

# The load test and the drills start their own Redis (127.0.0.1:6391), embedded Postgres
# (.data/loadtest), fake LLM provider and server, and stop them when done (docs/runbook.md).
loadtest: setup
	nice -n 5 $(BIN)/python -m bench.load.run --servers daphne,gunicorn

drill-shutdown: setup
	nice -n 5 $(BIN)/python -m bench.load.run --drill shutdown --drain 10

# Every drill runs even when the shutdown drill's latency SLOs fail (they do on a loaded machine);
# the exit status is non-zero when any check of either failed.
drills: setup
	nice -n 5 $(BIN)/python -m bench.load.run --drill shutdown --drain 10; shutdown=$$?; \
	nice -n 5 $(BIN)/python -m bench.load.drills && exit $$shutdown

# The alert drill: real Prometheus and Alertmanager, the product's webhook (also run by make test).
drills-alerts: setup system-deps
	$(BIN)/pytest tests/test_alert_drill.py -v

clean-data:
	-$(BIN)/python manage.py dbserver stop
	rm -rf .data
