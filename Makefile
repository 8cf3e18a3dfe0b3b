# Two commands: `make run` (set up, land the demo data, build) and `make test` (set up, run the tests).
# Both create .venv from the pinned requirements.txt on first use.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
# pip's global configuration here may name package folders that do not exist; they only add noise.
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test test-fast test-duckdb test-spark setup lint demo build clean browser java bench

run: $(STAMP)
	$(BIN)/overages demo
	$(BIN)/overages build

# The DuckDB tests first, in two processes (pytest-xdist: each takes whole files, so that a file's shared
# warehouse is built once), then the same warehouse on Spark in local mode (tests/python/test_spark.py).
TEST_WORKERS ?= 2
test: $(STAMP) browser java
	$(BIN)/pytest -m "not spark" -n $(TEST_WORKERS) --dist loadfile --durations=15
	$(BIN)/pytest -m spark --durations=5

# The billing rules alone (tests marked `rules`): the hand-worked fixture, the independent reference, dbt's unit
# tests, the rules' edges and the seeds against the published document.
test-fast: $(STAMP)
	$(BIN)/pytest -m "rules and not spark"

test-duckdb: $(STAMP) browser
	$(BIN)/pytest -m "not spark" -n $(TEST_WORKERS) --dist loadfile --durations=15

test-spark: $(STAMP) java
	$(BIN)/pytest -m spark --durations=5

# Spark (pyspark, installed in .venv) runs on the machine's Java 17.
java:
	@command -v java >/dev/null 2>&1 || { echo "error: java not found: the Spark tests need Java 17 (apt-get install openjdk-17-jre-headless)" >&2; exit 2; }

# The report's test renders it in Debian's headless Chromium: installed here when missing and allowed (root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the report's browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the report's browser test will fail" >&2; \
	  else echo "warning: chromium not found (apt-get install chromium); the report's browser test will fail" >&2; fi; }

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml package.json package-lock.json
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found: install Python 3.11, or run make PYTHON=/path/to/python3.11" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" 2> >(grep -v "is ignored" >&2)
	$(BIN)/python -m pip install --quiet -r requirements.txt 2> >(grep -v "is ignored" >&2)
	$(BIN)/python -m pip install --quiet --no-deps -e . 2> >(grep -v "is ignored" >&2)
	@# The Data Docs' CSS, scripts and fonts (package.json): without npm the pages load them from their CDNs.
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "warning: npm not found: Data Docs will load Bootstrap, jQuery and fonts from their CDNs (install Node.js, then make setup)" >&2; \
	elif ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error; then \
	  echo "warning: npm ci failed: Data Docs will load Bootstrap, jQuery and fonts from their CDNs" >&2; fi
	touch $(STAMP)

# Python (ruff) and SQL (sqlfluff, .sqlfluff): CI runs this before the tests.
lint: $(STAMP)
	$(BIN)/ruff check src tests/python lint
	$(BIN)/ruff format --check src tests/python lint
	$(BIN)/sqlfluff lint models macros analyses tests/dbt benchmarks/floor.sql

demo: $(STAMP)
	$(BIN)/overages demo

build: $(STAMP)
	$(BIN)/overages build

# The benchmark (benchmarks/README.md): make bench BENCH_ARGS="--events 100000000"
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules target logs warehouse .pytest_cache
