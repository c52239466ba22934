# Two entry points do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CATALOGUE ?= catalogue

LOCK   := requirements.lock
# the unit tests against the newest versions pyproject.toml allows (see test-latest)
LATEST ?= .venv-latest
TOOLS  ?= .venv-tools

.PHONY: run test test-latest upgrade check lint demo bench clean

# the versions in requirements.lock (with their hashes), then slamon itself without
# resolving anything again: what runs is what CI tested
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check  # a dependency missing from the lock: run `make upgrade`
	touch $(STAMP)

venv: $(STAMP)

## run the daemon on the bundled catalogue with the embedded SQLite store
run: $(STAMP)
	$(VENV)/bin/slamon run --catalogue $(CATALOGUE)

## run the whole test suite
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## the unit tests (not the integration tests) in a second virtual environment with the
## newest versions pyproject.toml allows: a breaking release shows here before users see it
test-latest:
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]'
	$(LATEST)/bin/python -m pip freeze --exclude-editable > $(LATEST)/versions.txt
	@echo "newest allowed versions: $(LATEST)/versions.txt"
	env -u SLAMON_REQUIRE_INTEGRATION -u SLAMON_TEST_PG_URL \
	  $(LATEST)/bin/python -m pytest -m "not integration" -p no:cacheprovider $(PYTEST_ARGS)

## refresh requirements.lock to the newest versions pyproject.toml allows (then run
## `make test` and commit the lock)
upgrade:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip-tools
	$(TOOLS)/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --extra test \
	  --strip-extras --no-emit-index-url --no-emit-find-links -o $(LOCK) pyproject.toml

## validate the bundled catalogue
check: $(STAMP)
	$(VENV)/bin/slamon check $(CATALOGUE)

lint: $(STAMP)
	$(VENV)/bin/ruff check slamon exporters tests benchmarks

demo: $(STAMP)
	$(VENV)/bin/slamon demo

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

## run the benchmarks (about 10-15 minutes) and write benchmarks/RESULTS.md;
## BENCH_ARGS="--quick" or "--only probe" etc. (see docs/benchmarks.md)
bench: $(BENCH_STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(LATEST) $(TOOLS) .pytest_cache build *.egg-info
