# The two commands of the README: `make demo` (set up, run the main job) and `make test`; and
# `make test-fast`, the unit tier alone (tests/conftest.py says what each tier starts).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint
setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh

test: setup check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m unit -n auto --dist worksteal

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Structure: imports point one way (the contracts in pyproject.toml), every imported package is
# declared and every declared one used, no dead code (devtools/vulture_whitelist.py: false positives).
.PHONY: check
check:
	$(BIN)/lint-imports --no-cache
	$(BIN)/deptry .
	$(BIN)/vulture
