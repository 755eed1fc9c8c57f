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

# `make down purge=1` also removes the stack's data volumes (`make down` keeps them).
purge ?=
# `make logs s=backend` follows one service (default: all of them).
s ?=
# The checks each command needs: a Docker engine unless the stack is prod (which builds
# and runs nothing locally).
PREFLIGHT := scripts/preflight.sh$(if $(filter prod,$(STACK)),, --docker)

.PHONY: help up preview down refresh logs ps urls env compose preflight deps tools lint test test-unit test-policy \
        test-render test-apps test-backend test-frontend test-engine test-real bench schema clean
.DEFAULT_GOAL := help

help:  ## this list: every target, one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort \
	  | awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  (STACK=dev by default: make preview STACK=staging)"

## The main job -------------------------------------------------------------------------
# up/preview/down/refresh go through one driver (scripts/dockyard.py) that runs the plain
# `pulumi` commands, each printed first: the official CLI when it is installed, else one built
# here with its language host and plugins (machine/toolchain/pulumi-tools.sh). Its first lines say which.
DRIVER := $(PY) scripts/dockyard.py

preflight:  ## check the Docker engine (run by up, preview, down)
	@$(PREFLIGHT)

up:  ## checks, virtualenv, local file backend, select/create the stack, refresh, up
	@$(PREFLIGHT)
	@$(MAKE) --no-print-directory deps
	@mkdir -p .pulumi-state
	$(DRIVER) up --stack $(STACK)

preview:  ## checks, then a preview with the policy pack and the stack's policy config
	@$(PREFLIGHT)
	@$(MAKE) --no-print-directory deps policy/venv/.installed
	@mkdir -p .pulumi-state
	$(DRIVER) preview --stack $(STACK) --policy-pack

down:  ## destroy, keeping the data volumes (and the generated credentials that open them); purge=1 removes them too
	@$(PREFLIGHT)
	@$(MAKE) --no-print-directory deps
	$(DRIVER) down --stack $(STACK)$(if $(purge), --purge,)

refresh: deps  ## read every resource's real state into the stack
	$(DRIVER) refresh --stack $(STACK)

logs:  ## follow the logs of every service, or of one: make logs s=backend
	@scripts/logs.sh $(STACK) $(s)

ps:  ## the stack's services: state, health, published URL
	@scripts/ps.sh $(STACK)

urls:  ## the stack's URLs (from its outputs), and its debuggers' addresses with dev.debug
	@$(DRIVER) outputs --stack $(STACK) | $(PYTHON) -c 'import json, sys; \
	  o = json.load(sys.stdin); [print(f"{k:<10} {v}") for k, v in (o.get("urls") or {}).items()]; \
	  k = (o.get("kubernetes") or {}).get("url"); k and print("%-10s %s" % ("ingress", k)); \
	  [print(f"{k:<10} {v}  (debugger)") for k, v in (o.get("debug") or {}).items()]'

env: deps  ## the settings for plain pulumi commands (backend, passphrase, CLI, plugins): eval "$(make -s env)"
	@$(DRIVER) env

# No Pulumi: the catalog and Pulumi.$(STACK).yaml, checked and resolved as the program does them.
compose: deps  ## write compose.yaml: the resolved stack as a compose file, to run it without Pulumi (holds its generated secrets)
	$(PY) scripts/compose.py --stack $(STACK)

## Dependencies ------------------------------------------------------------------------
$(VENV)/.installed: requirements.txt requirements-dev.txt policy/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt -r policy/requirements.txt
	touch $@

deps: $(VENV)/.installed  ## the project virtualenv (.venv) with the program, test and policy dependencies

# The policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv venv), as CI creates it.
policy/venv/.installed: policy/requirements.txt
	test -x policy/venv/bin/python || $(PYTHON) -m venv policy/venv
	policy/venv/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

# Scanners pin libraries that clash with pulumi's: each gets its own virtualenv.
.venv-checkov/.installed: tests/render/requirements-checkov.txt
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

.venv-zizmor/.installed: tests/workflows/requirements.txt
	test -x .venv-zizmor/bin/python || $(PYTHON) -m venv .venv-zizmor
	.venv-zizmor/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

tools: deps .venv-checkov/.installed .venv-zizmor/.installed  ## deps plus the scanners' own virtualenvs (checkov, zizmor)

## Tests (see README "Testing") ----------------------------------------------------------
lint: deps  ## ruff over the program and tests
	$(PY) -m ruff check .

test-unit: deps  ## the program under Pulumi mocks, per stack; every bad setting refused
	$(PYTEST) tests/unit

test-policy: tools  ## the policy pack's rules, every stack through the pack, the workflows
	$(PYTEST) tests/policy tests/workflows

test-render: tools  ## Kubernetes manifests (kubernetes-validate, checkov), Dockerfiles (hadolint, checkov)
	$(PYTEST) tests/render tests/lint

test-backend:  ## the backend against real PostgreSQL and Redis
	apps/backend/scripts/test.sh -q -p no:cacheprovider

test-frontend:  ## the frontend's tests and next build
	apps/frontend/scripts/test.sh

test-apps: test-backend test-frontend  ## both apps' tests

test-engine: deps  ## images built and run on a real Docker engine
	$(PYTEST) tests/engine

test-real: deps policy/venv/.installed  ## the README's commands under the real Pulumi CLI, language host and providers
	$(PYTEST) tests/real

test: lint test-unit test-policy test-render test-apps test-engine test-real  ## every test tier

bench: deps  ## the benchmarks (tables, JSON in bench/results/)
	$(PY) -m bench

schema: deps  ## regenerate catalog.schema.json from the catalog's models (a unit test checks it)
	$(PY) -c 'import pathlib, components.config.catalog_file as c; pathlib.Path(c.SCHEMA_FILE).write_text(c.schema_text())'

clean:  ## remove the virtualenvs and the apps' build output
	rm -rf $(VENV) .venv-checkov .venv-zizmor policy/venv apps/backend/.venv apps/frontend/node_modules apps/frontend/.next
