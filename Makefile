# dockyard: `make up` runs the dev stack, `make test` runs every test tier.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
STACK ?= dev
# The local file backend keeps state in this checkout; nothing is sent anywhere.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# The dev stack's secrets (its generated database password) are encrypted with this
# passphrase; empty by default so `make up` needs no set-up. Set your own for shared stacks.
export PULUMI_CONFIG_PASSPHRASE ?=

.PHONY: up preview down deps tools lint test test-unit test-policy test-render test-apps \
        test-backend test-frontend test-engine bench clean

## The main job -------------------------------------------------------------------------
up: deps  ## virtualenv, local file backend, dev stack, pulumi up
	@command -v pulumi >/dev/null || { echo "make up needs the Pulumi CLI (https://www.pulumi.com/docs/iac/download-install/)"; exit 1; }
	@command -v docker >/dev/null || { echo "make up needs Docker (the dev stack runs on your local engine)"; exit 1; }
	mkdir -p .pulumi-state
	pulumi stack select --create $(STACK) --non-interactive
	pulumi up --stack $(STACK)

preview: deps
	pulumi preview --stack $(STACK) --policy-pack policy

down:
	pulumi destroy --stack $(STACK)

## Dependencies ------------------------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r policy/requirements.txt
	touch $@

deps: $(VENV)/.installed

# Scanners pin libraries that clash with pulumi's: each gets its own virtualenv.
.venv-checkov/.installed: tests/render/requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

.venv-zizmor/.installed: tests/workflows/requirements.txt
	test -x .venv-zizmor/bin/python || $(PYTHON) -m venv .venv-zizmor
	.venv-zizmor/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

tools: deps .venv-checkov/.installed .venv-zizmor/.installed

## Tests (see README "Testing") ----------------------------------------------------------
lint: deps
	$(PY) -m ruff check .

test-unit: deps
	$(PYTEST) tests/unit

test-policy: tools
	$(PYTEST) tests/policy tests/workflows

test-render: tools
	$(PYTEST) tests/render tests/lint

test-backend:
	apps/backend/scripts/test.sh -q -p no:cacheprovider

test-frontend:
	apps/frontend/scripts/test.sh

test-apps: test-backend test-frontend

test-engine: deps
	$(PYTEST) tests/engine

test: lint test-unit test-policy test-render test-apps test-engine

bench: deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-checkov .venv-zizmor apps/backend/.venv apps/frontend/node_modules apps/frontend/.next
