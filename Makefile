# The README's two commands: `make run` (the main job on the embedded local provider) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint schema bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job: validate the shipped estate and print its summary.
run: setup
	$(BIN)/mnops validate ecosystem

test: setup
	$(BIN)/lint-imports
	$(BIN)/mnops schema --estate ecosystem --check
	$(BIN)/python -m pytest

schema: setup
	$(BIN)/mnops schema --estate ecosystem

bench: setup
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mnops .pytest_cache .hypothesis
