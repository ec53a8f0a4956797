# The two commands of the README: `make demo` (set up, run the main job) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint
setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
