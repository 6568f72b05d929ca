# The two commands a fresh machine needs:
#   make demo   installs careplug and its three adapters into .venv, then runs the offline demo
#   make test   installs them with the test extras, then runs every test (SQLite, and PostgreSQL
#               through scripts/with-postgres, which starts a throwaway server on 127.0.0.1)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PKGS   := -e . -e plugins/zendesk -e plugins/salesforce -e plugins/hubspot

.PHONY: demo test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet $(PKGS)

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]" -e plugins/zendesk -e plugins/salesforce -e plugins/hubspot

demo: install
	$(BIN)/careplug demo

test: install-test
	scripts/with-postgres $(BIN)/python -m pytest

bench: install-test   # results go to docs/benchmarks-*.md; summarized in docs/benchmarks.md
	$(BIN)/python benchmarks/bench_ingest.py throughput --conversations 20000
	$(BIN)/python benchmarks/bench_rules.py --sizes 10000 --changed 1000
	$(BIN)/python benchmarks/bench_zendesk.py
	$(BIN)/python benchmarks/bench_salesforce.py
	$(BIN)/python benchmarks/bench_hubspot.py

clean:
	rm -rf $(VENV) build *.egg-info careplug-demo
