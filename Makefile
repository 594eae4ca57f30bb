# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint conformance-report clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/order_fulfillment/run_demo.py

# pytest exits 5 when it collected no test; make treats any non-zero exit as failure.
test: $(BIN)/.installed
	$(BIN)/ruff check stateway tests
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2

lint: $(BIN)/.installed
	$(BIN)/ruff check stateway tests
	$(BIN)/mypy

conformance-report: $(BIN)/.installed
	$(BIN)/python -m tests.conformance.report

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
