# syncer — `make help` lists the targets.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]" -c constraints.txt
	touch $@

setup: $(VENV)/.installed ## create .venv and install syncer with every extra and the dev tools (pinned: constraints.txt)

constraints: ## re-pin constraints.txt to the newest releases pyproject.toml allows (then run `make test`)
	rm -rf .venv-pin && python3 -m venv .venv-pin && .venv-pin/bin/pip install -q --upgrade pip
	.venv-pin/bin/pip install -q -e ".[dev]"
	head -3 constraints.txt > constraints.new && .venv-pin/bin/pip freeze --exclude-editable >> constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-pin

postgres: ## make sure PostgreSQL server binaries exist (the tests start their own server)
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

chromium: ## make sure headless Chromium exists (the report page is tested in a real browser)
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

demo: setup ## run the zero-credential demo (synthetic warehouse + local emulators)
	$(BIN)/syncer demo

demo-serve: setup ## the demo, then keep its emulators + a daemon up with the dashboard on http://127.0.0.1:8108/report
	$(BIN)/syncer demo --serve

browser-deps: ## npm packages for the browser test (playwright-core drives /usr/bin/chromium, axe-core checks a11y)
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error

test: setup postgres chromium browser-deps ## run every test (real PostgreSQL, DuckDB, SQLite, fakesnow, loopback emulators)
	$(BIN)/pytest -n logical --dist loadgroup

lint: setup ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src connectors tests benchmarks
	$(BIN)/ruff format --check src connectors tests benchmarks
	$(BIN)/mypy src/syncer connectors

docs: setup ## regenerate docs/reference/ and schema/ from the config models
	$(PY) -m syncer.config_reference

bench: setup ## run the benchmarks (slow; prints tables)
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

.PHONY: help setup constraints postgres chromium demo test lint docs bench
