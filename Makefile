# Tuneboard — `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO ?= 1
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench demo install install-dev chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): requirements.txt client/pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(STAMP)-dev: requirements.txt requirements-dev.txt requirements-ml.txt client/pyproject.toml $(STAMP)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -r requirements-ml.txt
	touch $@

install: $(STAMP)

install-dev: $(STAMP)-dev

## run: install, migrate, load the demo jobs and start server, sampler and simulator
run: install
	HOST=$(HOST) PORT=$(PORT) DEMO=$(DEMO) PY=$(PY) scripts/run

## test: lint and the whole test suite (browser tests included)
test: install-dev chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

## demo: train the numpy example against the server `make run` started (PORT, HOST)
demo: install-dev
	@TOKEN=$$($(PY) manage.py create_token --user demo --name "make demo" --create-user) && \
	TUNEBOARD_SERVER=http://$(HOST):$(PORT) TUNEBOARD_TOKEN=$$TOKEN \
	$(PY) examples/train_text_classifier.py --step-delay 0.02

chromium:
	@command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || scripts/install-chromium

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## bench: the performance benchmarks (a few minutes each; B8 about 10); results in bench/results/
bench: install-dev chromium
	cd bench && ../$(PY) bench_ingest.py
	cd bench && ../$(PY) bench_series.py
	cd bench && ../$(PY) bench_live.py
	cd bench && ../$(PY) bench_dashboard.py
	cd bench && ../$(PY) bench_write.py
	cd bench && ../$(PY) bench_page.py
	cd bench && ../$(PY) bench_sampler.py
	cd bench && ../$(PY) bench_distributed.py
	cd bench && ../$(PY) bench_report.py
	cd bench && ../$(PY) bench_keys.py
	cd bench && ../$(PY) bench_query.py
	cd bench && ../$(PY) bench_alert_rules.py
	cd bench && ../$(PY) bench_purge.py
	cd bench && ../$(PY) bench_mlflow.py
	cd bench && ../$(PY) bench_samples.py
	cd bench && ../$(PY) bench_import.py

clean:
	rm -rf var test-artifacts .pytest_cache .ruff_cache
