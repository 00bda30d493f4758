# Shengjing — the two commands a newcomer needs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCALE_DIR := src/shengjing/web/locale
VENDOR := src/shengjing/web/static/vendor
DEMO_PERSONS ?= 20000
DEMO_SEED ?= 2024

.PHONY: demo test lint pytest bench install dev assets messages extract-messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the project's dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

# Front-end libraries from npm, copied into the package's static folder.
$(VENDOR)/.built: package.json package-lock.json scripts/build-assets.mjs
	npm ci --no-audit --no-fund
	npm run --silent build
	touch $@
assets: $(VENDOR)/.built

# Compiled message catalogs (the .po files are the source; .mo files are built, not tracked).
messages: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d $(LOCALE_DIR) -D messages

# For developers: collect new console strings into the catalogs, then translate them in the .po files.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o $(LOCALE_DIR)/messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -D messages

demo: install assets messages
	$(BIN)/shengjing init
	$(BIN)/shengjing demo --persons $(DEMO_PERSONS) --seed $(DEMO_SEED)
	$(BIN)/shengjing serve

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# The suite runs in parallel (pytest-xdist): one worker more than the cores unless PYTEST_WORKERS says otherwise
# (0: serial), since the browser and command-line tests spend much of their time waiting on a server or a child
# process (on 2 cores: 14 min with 3 workers, 16.5 with 2); worksteal keeps the cores busy to the end though a few
# tests take far longer than the rest.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
pytest: dev assets messages
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

test: lint pytest

bench: dev $(VENV)/.installed-bench
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var .pytest_cache .ruff_cache
	find $(LOCALE_DIR) -name '*.mo' -delete
