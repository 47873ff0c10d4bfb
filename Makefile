# Set-up and the two commands of the README. Python 3.12 comes from .python-version (pyenv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench

$(BIN)/bayesstack: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/bayesstack
	$(BIN)/bayesstack demo --out demo-out

test: $(BIN)/bayesstack
	$(BIN)/pytest -q

lint: $(BIN)/bayesstack
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/bayesstack
	$(BIN)/bayesstack bench
