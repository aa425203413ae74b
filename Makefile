# One virtualenv per checkout, built from pyproject.toml; every target depends on it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DATA   ?= data
SRC    := etl_duck tests benchmarks

.PHONY: demo test lint fmt typecheck contracts pytest bench clean test-spark

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: generate a season of stats files, ingest them, print leaderboards + the last session, write a chart
demo: $(STAMP)
	$(BIN)/etl-duck --data-dir $(DATA) demo

## test: lint, types, import contract, then the test suite (what CI runs)
test: lint typecheck contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)

fmt: $(STAMP)
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

typecheck: $(STAMP)
	$(BIN)/mypy etl_duck tests

contracts: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m tests.contracts

# both cores (pytest-xdist); the slowest tests listed; a CPU-time budget (the same on a busy
# machine) and only a warning on wall time, so a loaded CI host cannot fail the gate
pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --durations=10 --cpu-budget-seconds=300 --wall-warning-seconds=90

## test-spark: the lake's folders read by Spark SQL give the same answers (needs Java 17+;
## installs the `spark` extra, pyspark ~450 MB, on first use)
$(VENV)/.spark-stamp: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[spark]'
	touch $@

test-spark: $(VENV)/.spark-stamp
	$(BIN)/python -m pytest --spark tests/test_spark.py

## bench: the benchmarks at the reduced default size (FULL=1 for 10 years)
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(if $(FULL),--full,)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
