# The two commands of the README, plus a few conveniences. Needs python3 (3.11+).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run demo test e2e bench services clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(STAMP)            ## the embedded monitor on example_config/ (Ctrl-C to stop)
	$(VENV)/bin/sitemon-run standalone -c example_config/sitemon.yaml

demo: $(STAMP)           ## every outcome against local targets, no internet needed
	$(VENV)/bin/sitemon-run demo

test: $(STAMP)           ## every test: lint, typecheck, unit, contract, e2e (starts Kafka + PostgreSQL)
	$(VENV)/bin/nox -s lint typecheck tests

e2e: $(STAMP)
	$(VENV)/bin/nox -s e2e

bench: $(STAMP)
	$(VENV)/bin/nox -s bench

services: $(STAMP)       ## local Kafka + PostgreSQL without Docker, until Ctrl-C
	$(PY) -m devservices up

clean:
	rm -rf $(VENV) .nox sitemon.db*
