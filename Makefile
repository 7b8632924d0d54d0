# Two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
# Both do all the set-up they need (MariaDB server, virtualenv, packages) first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint typecheck unit clean

$(BIN)/harness: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/harness
	@scripts/ensure-mariadb.sh

demo: setup
	$(BIN)/python scripts/demo.py

lint: setup
	$(BIN)/ruff check harness tests benchmarks scripts
	$(BIN)/ruff format --check harness tests benchmarks scripts

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

test: lint typecheck unit

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
