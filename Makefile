# The README's two commands: `make run` (the main job on the embedded local provider) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup azurite run stop ui test schema bench peers bench-peers clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The example estate reads two secrets from the environment (env:WAREHOUSE_PASSWORD, env:SMTP_PASSWORD). For the local
# demo they are made once, at random, into a 0600 file under .mnops/, so repeated runs see the same values.
EXAMPLE_SECRETS := .mnops/example-secrets.env

$(EXAMPLE_SECRETS):
	mkdir -p .mnops
	umask 077; $(PYTHON) -c 'import secrets; print("\n".join(f"{n}={secrets.token_urlsafe(24)}" for n in ("WAREHOUSE_PASSWORD", "SMTP_PASSWORD")))' > $@

# The main job: deploy every instance of the shipped estate to the embedded local provider, then summarise.
run: setup $(EXAMPLE_SECRETS)
	set -a; . ./$(EXAMPLE_SECRETS); set +a; $(BIN)/mnops deploy --all --estate ecosystem

# Stop the local deployment: destroy every deployed instance (processes stopped, files removed).
stop: setup
	$(BIN)/mnops destroy --all --force --estate ecosystem

# The Dagster UI on 127.0.0.1:3000: webserver and daemon, so the drift and automation sensors run. Deployments started
# with `mnops deploy` use the same instance (.mnops/dagster/) and show in its history.
DAGSTER_HOME_DIR := $(CURDIR)/.mnops/dagster

ui: setup
	mkdir -p $(DAGSTER_HOME_DIR)
	test -f $(DAGSTER_HOME_DIR)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME_DIR)/dagster.yaml
	set -a; . ./$(EXAMPLE_SECRETS) 2>/dev/null || true; set +a; \
	DAGSTER_HOME=$(DAGSTER_HOME_DIR) $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Azurite (Microsoft's Blob Storage emulator, from npm) for the azure tests, which also install it here if missing.
AZURITE_VERSION := 3.35.0
AZURITE := .mnops/azurite/$(AZURITE_VERSION)/node_modules/.bin/azurite-blob

azurite: $(AZURITE)

$(AZURITE):
	npm install --prefix .mnops/azurite/$(AZURITE_VERSION) --no-audit --no-fund azurite@$(AZURITE_VERSION)

test: setup azurite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mnops schema --estate ecosystem --check
	@# The peers' smoke test needs them installed; one that cannot install is skipped by the test, saying why.
	-@$(MAKE) --no-print-directory peers
	$(BIN)/python -m pytest

schema: setup
	$(BIN)/mnops schema --estate ecosystem

bench: setup
	$(BIN)/python -m benchmarks

# mnops beside checkov and Cloud Custodian, each installed in a venv of its own under .bench/ (checkov pins an old boto3).
BENCH := .bench
PEER_VERSIONS := checkov==3.3.30 c7n==0.9.53

$(BENCH)/%/.installed:
	$(PYTHON) -m venv $(BENCH)/$*
	$(BENCH)/$*/bin/python -m pip install --quiet $(filter $*==%,$(PEER_VERSIONS))
	touch $@

peers: $(BENCH)/checkov/.installed $(BENCH)/c7n/.installed

bench-peers: setup peers
	$(BIN)/python -m benchmarks.peers --bench-dir $(BENCH) $(ARGS)

clean:
	rm -rf $(VENV) .mnops .pytest_cache .hypothesis
