# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
PORT ?= 8000
export TOCSIN_DATABASE_URL ?= sqlite:///var/tocsin.db

.PHONY: demo test install lint system-deps test-sqlite test-minesafe-fallback test-postgresql bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The demo needs the runtime dependencies only; the tests add theirs.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP) $(RUNTIME)

install: $(STAMP)

demo: $(RUNTIME)
	PORT=$(PORT) $(BIN)/tocsin demo --port $(PORT)

system-deps:
	bash scripts/ensure-system.sh

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/python scripts/check_imports.py
	$(BIN)/mypy src/tocsin

test-sqlite: install
	TOCSIN_TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider -n 2

test-minesafe-fallback: install
	TOCSIN_MINESAFE_JIT=0 $(BIN)/pytest -q -p no:cacheprovider -n 2 tests/minesafe -k "scenario or engine"

test-postgresql: install
	TOCSIN_TEST_DATABASE=postgresql $(BIN)/pytest -q -p no:cacheprovider -n 2 -m "not browser" -k "not multiparty" tests/core tests/interventions tests/minesafe/test_store_and_api.py tests/minesafe/test_ingest_buzzer_downlinks.py tests/minesafe/test_alarm_calls_and_escalation.py tests/minesafe/test_ingest_sites_sharded_with_leases.py tests/minesafe/test_ingest_recorder.py tests/appeals/test_appeals_storage.py

test: system-deps install lint test-sqlite test-minesafe-fallback test-postgresql

bench: install
	$(BIN)/python bench/interventions.py --quick
	$(BIN)/python bench/minesafe.py --quick

clean:
	rm -rf $(VENV) var build *.egg-info
