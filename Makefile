# The two commands of the README: `make serve` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp

.PHONY: install serve test lint format bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What `make serve` needs: keyplane and its runtime dependencies only, not byte-compiled up front
# (Python compiles what it imports on first use), so a fresh clone serves within seconds.
$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --no-compile -e .
	touch $(STAMP)

# Everything the tests and linters need too.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $(STAMP) $(DEV_STAMP)

install: $(DEV_STAMP)

## Install, initialize the SQLite database on first run (printing the credentials once), serve.
serve: $(STAMP)
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
