# Two entry points do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CATALOGUE ?= catalogue

.PHONY: run test check lint demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## run the daemon on the bundled catalogue with the embedded SQLite store
run: $(STAMP)
	$(VENV)/bin/slamon run --catalogue $(CATALOGUE)

## run the whole test suite
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

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
	rm -rf $(VENV) .pytest_cache build *.egg-info
