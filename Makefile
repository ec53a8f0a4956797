# The two commands of the README: `make demo` (set up, run the main job) and `make test`; and
# `make test-fast`, the unit tier alone (tests/conftest.py says what each tier starts).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint
setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m unit -n auto --dist worksteal

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
