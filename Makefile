# Two commands for a machine with only Python 3 and make: `make run` and `make test`.
# Pipenv is installed into .tools/, the project's packages into .venv/ from Pipfile.lock.

PYTHON ?= python3
TOOLS := .tools
PIPENV := $(TOOLS)/bin/pipenv
PIPENV_VERSION := 2026.10.3

# pip's own default index unless the environment names a mirror; the Pipfile reads it.
PIP_INDEX_URL ?= $(shell $(PYTHON) -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')
export PIP_INDEX_URL
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_IGNORE_VIRTUALENVS := 1

HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.PHONY: install run dev test lock clean bench

install: .venv/.synced

$(PIPENV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet pipenv==$(PIPENV_VERSION)

.venv/.synced: Pipfile.lock setup.cfg | $(PIPENV)
	$(PIPENV) sync --dev
	touch $@

run: install
	$(PIPENV) run serve

dev: install
	$(PIPENV) run dev --host $(HOST) --port $(PORT)

test: install
	$(PIPENV) run lint
	$(PIPENV) run test

# Starts its own servers on free loopback ports; needs wrk and nginx (Debian packages).
bench: install
	.venv/bin/python bench/run.py

lock: | $(PIPENV)
	$(PIPENV) lock

clean:
	rm -rf .venv $(TOOLS) reports
