# The two commands of the README: `make serve` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install serve test lint format bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Install, initialize the SQLite database on first run (printing the credentials once), serve.
serve: install
	$(BIN)/keyplane init --skip-if-initialized
	$(BIN)/keyplane serve --host $${KEYPLANE_HOST:-127.0.0.1} --port $${KEYPLANE_PORT:-8080}

## Install and run the whole suite (SQLite and PostgreSQL; Redis where used), plus lint and types.
test: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench
