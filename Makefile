# One command per habit. Each target sets up what it needs from a clean checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY = 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help setup rehearse test test-e2e check lint build clean

help:
	@echo "make rehearse  a whole cutover offline on an embedded AWS (sets itself up)"
	@echo "make test      unit, handler, engine and state machine tests, under 90 s (sets itself up)"
	@echo "make test-e2e  whole runs: every scenario, chaos seeds, fleets, README sessions, processes"
	@echo "make check     both, as CI runs them"
	@echo "make lint      ruff, cfn-lint and sam validate --lint"
	@echo "make build     sam build (needs python3.13 visible)"

$(STAMP): requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(STAMP)

rehearse: $(STAMP)
	$(BIN)/cutover rehearse --scenario $(or $(SCENARIO),healthy)

AWSCLI_VENV := .venv-awscli
AWSCLI_VERSION := 1.46.2

# The AWS CLI in an environment of its own (it pins its own botocore): tests drive the local
# endpoint with it as a user would.
$(AWSCLI_VENV)/.installed:
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AWSCLI_VENV)/bin/python -m pip install --quiet awscli==$(AWSCLI_VERSION)
	touch $@

# Two tiers of one suite: `make test` is the loop a change is made in (every part, the handlers
# and the state machine on the engine); `make test-e2e` the whole runs a user makes (tests marked
# e2e, see pyproject.toml). CI runs both (.ci/run).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not e2e"

test-e2e: $(STAMP) $(AWSCLI_VENV)/.installed
	$(BIN)/python -m pytest -n 2 --dist worksteal -m e2e

check: test test-e2e

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

lint: $(STAMP) $(SAM_VENV)/.installed
	$(BIN)/ruff check layers functions local cli tests bench
	$(BIN)/cfn-lint template.yaml examples/alarms.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region $(AWS_DEFAULT_REGION)

build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build --template template.yaml

clean:
	rm -rf $(VENV) $(SAM_VENV) $(AWSCLI_VENV) .aws-sam .pytest_cache .cutover-local
