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

# `make test`: pytest-xdist workers for the parallel part (one per core by default).
TEST_WORKERS ?= auto

# `make fuzz`: atheris (libFuzzer for Python) on the decode/convert path for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SEEDS ?= ../shared/corpus/images
ATHERIS_VERSION := ~=3.0
THUMBOR_VERSION := ~=7.8

.PHONY: install install-runtime run dev test test-fast lock clean bench bench-encoders bench-signatures bench-sources bench-auto bench-formats \
	bench-per-request bench-instructions bench-upload-cpu bench-multipart bench-growth \
	fuzz attack mutate \
	docs-pictures screenshots

# `make run` needs the runtime packages only; `make test` adds the development ones
# (pytest, Playwright, moto, Schemathesis...). A stamp for each, so switching works.
install: .venv/.synced-dev
install-runtime: .venv/.synced-runtime

$(PIPENV):
	@echo "Installing Pipenv into $(TOOLS)/ (once)"
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet pipenv==$(PIPENV_VERSION)

.venv/.synced-runtime: Pipfile.lock setup.cfg | $(PIPENV)
	@echo "Installing the runtime packages into .venv/ (once, about 260 MB)"
	$(PIPENV) sync
	touch $@

.venv/.synced-dev: Pipfile.lock setup.cfg | $(PIPENV)
	@echo "Installing the runtime and development packages into .venv/" \
		"(once, about 730 MB in all)"
	$(PIPENV) sync --dev
	touch $@

run: install-runtime
	$(PIPENV) run serve

dev: install-runtime
	$(PIPENV) run dev --host $(HOST) --port $(PORT)

# In parallel on every core (pytest-xdist), then the `serial` tests (answers within
# a time limit) alone, so that no other test's load decides them; coverage adds up.
test: install
	$(PIPENV) run lint
	$(PIPENV) run test -n $(TEST_WORKERS) -m "not serial"
	$(PIPENV) run test -m serial --cov-append

# The edit-test loop: everything but real servers (`system`) and the corpus, without
# coverage (a part of the suite cannot reach its threshold).
test-fast: install
	$(PIPENV) run lint
	$(PIPENV) run test --no-cov -q -m "not system and not corpus"

# Mutation testing (slow, not in CI): mutmut breaks the modules listed in setup.cfg's
# [mutmut] one change at a time and runs the fast tests that reach each change.
# MUTANTS narrows it to some modules: make mutate MUTANTS='progimage.web.errors*'.
# PYTHONPATH is dropped: the tests must import mutmut's copy, not src/.
MUTANTS ?=
mutate: install
	env -u PYTHONPATH $(PIPENV) run mutmut run $(MUTANTS)
	$(PIPENV) run mutmut results

# Starts its own servers on free loopback ports; needs wrk and nginx (Debian packages).
# thumbor, the comparison, goes into a virtualenv of its own: it pins its own Pillow.
# Absolute: gunicorn runs in a temporary folder, where a relative src/ would leave the
# servers importing whichever checkout .venv was installed from.
bench: install $(TOOLS)/thumbor/bin/thumbor
	PYTHONPATH=$(CURDIR)/src:$(CURDIR)/tests .venv/bin/python bench/run.py

# `make screenshots`: the browser test of the URL builder writes docs/playground.png.
screenshots: install
	UPDATE_DOCS_SCREENSHOTS=1 $(PIPENV) run test --no-cov -q -p no:randomly \
		tests/system/test_playground.py::test_screenshot_of_the_playground

bench-encoders: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/encoders.py

# Milliseconds of a cold conversion of the 1 MP photo into each writable format.
bench-formats: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/formats.py

bench-auto: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/auto.py

bench-signatures: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/signatures.py

bench-sources: install
	PYTHONPATH=$(CURDIR)/src:$(CURDIR)/tests:$(CURDIR)/bench .venv/bin/python bench/sources.py

# CPU µs of each GET in process (steady on a loaded machine); BENCH_PROFILE=1 profiles.
bench-per-request: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/per_request.py

# Instructions per GET counted by valgrind's callgrind: steady on a loaded machine.
bench-instructions: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/instructions.py

# CPU µs of a raw upload in the worker and its converter, beside the bare app's.
bench-upload-cpu: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/upload_cpu.py

# CPU µs of parsing one multipart upload: werkzeug, other parsers if installed, none.
bench-multipart: install
	PYTHONPATH=src:tests:bench .venv/bin/python bench/multipart.py

# Cost against the work: original sizes, images stored, a converter's peak memory,
# 1 and 2 instances on S3 behind nginx (wrk, BENCH_SECONDS each; absolute paths, as
# gunicorn runs in a temporary folder).
bench-growth: install
	PYTHONPATH=$(CURDIR)/src:$(CURDIR)/tests:$(CURDIR)/bench .venv/bin/python bench/growth.py

# One picture per processing option in docs/pictures/, shown in docs/processing.md.
docs-pictures: install
	PYTHONPATH=src:tests .venv/bin/python docs/make_pictures.py

$(TOOLS)/thumbor/bin/thumbor:
	$(PYTHON) -m venv $(TOOLS)/thumbor
	$(TOOLS)/thumbor/bin/pip install --quiet "thumbor$(THUMBOR_VERSION)"

# atheris is installed on demand (a 35 MB wheel only this target needs); new inputs
# and crashes go to reports/fuzz/, seeded from the shared corpus when it is there.
fuzz: install
	.venv/bin/python -c "import atheris" 2>/dev/null || \
		.venv/bin/pip install --quiet "atheris$(ATHERIS_VERSION)"
	mkdir -p reports/fuzz/inputs reports/fuzz/crashes
	-cp -n $(FUZZ_SEEDS)/* reports/fuzz/inputs/ 2>/dev/null
	.venv/bin/python fuzz/fuzz_convert.py reports/fuzz/inputs \
		-max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=2048 \
		-max_len=65536 -artifact_prefix=reports/fuzz/crashes/

# The attacks of docs/security.md at full size, against real servers on loopback: the
# Hypothesis matrix and cache keys with ATTACK_EXAMPLES examples each, then the
# conversion storm, the slow clients and the made-up metric labels. Takes minutes.
ATTACK_EXAMPLES ?= 2000
attack: install
	PROGIMAGE_HYPOTHESIS_EXAMPLES=$(ATTACK_EXAMPLES) PROGIMAGE_HYPOTHESIS_MAX_SIDE=300 \
		FUZZ_EXAMPLES=$(ATTACK_EXAMPLES) .venv/bin/pytest --no-cov -q \
		tests/imaging/test_processing_matrix.py tests/test_cache_keys.py tests/test_fuzz.py \
		tests/imaging/test_postscript.py tests/web/test_upload_checks.py tests/web/test_metrics.py
	.venv/bin/python tests/attack/conversion_storm.py
	.venv/bin/python tests/attack/slow_clients.py
	.venv/bin/python tests/attack/metric_labels.py

lock: | $(PIPENV)
	$(PIPENV) lock

clean:
	rm -rf .venv $(TOOLS) reports
