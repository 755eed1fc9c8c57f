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
        test-render test-apps test-backend test-frontend test-engine test-real test-real-dev \
        test-real-ops test-in-order bench schema clean \
        typecheck security-lint bench-check bench-record
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

# Bandit and pip-audit (pipeline/requirements-security.txt) pin requests and PyYAML their own way.
.venv-security/.installed: pipeline/requirements-security.txt
	test -x .venv-security/bin/python || $(PYTHON) -m venv .venv-security
	.venv-security/bin/pip install -q --disable-pip-version-check -r $<
	touch $@

# The backend's own virtualenv from its hash-locked dev requirements (as apps/backend/scripts/test.sh
# makes it), for `make typecheck`: mypy checks the app against the libraries it really runs with.
apps/backend/.venv/.typecheck: apps/backend/requirements-dev.lock apps/backend/pyproject.toml
	test -x apps/backend/.venv/bin/python || $(PYTHON) -m venv apps/backend/.venv
	apps/backend/.venv/bin/pip install -q --disable-pip-version-check --require-hashes -r apps/backend/requirements-dev.lock
	sha256sum apps/backend/requirements-dev.lock | cut -d' ' -f1 > apps/backend/.venv/.requirements-dev.sha256  # test.sh's stamp: no second install
	touch $@

apps/frontend/node_modules/.package-lock.json: apps/frontend/package-lock.json
	cd apps/frontend && npm ci --no-audit --no-fund

tools: deps .venv-checkov/.installed .venv-zizmor/.installed .venv-security/.installed  ## deps plus the scanners' own virtualenvs (checkov, zizmor, bandit)

## Tests (see README "Testing") ----------------------------------------------------------
lint: deps  ## ruff over the program and tests
	$(PY) -m ruff check .

# mypy --strict: the paths each config lists (mypy.ini: the program, scripts, bench, testing, pipeline;
# policy/mypy.ini; the backend's [tool.mypy]), then tsc --strict for the frontend (its tsconfig.json
# has "strict": true).
typecheck: deps apps/backend/.venv/.typecheck apps/frontend/node_modules/.package-lock.json  ## mypy --strict (program side, policy pack, backend) and tsc --strict (frontend)
	$(PY) -m mypy
	cd policy && ../$(PY) -m mypy
	cd apps/backend && ../../$(PY) -m mypy --python-executable .venv/bin/python
	cd apps/frontend && npm run -s typecheck

# Bandit over the code that ships or runs the stack (bandit.yaml); the tests are not scanned (their
# asserts and fixtures are Bandit's false positives). Bandit warns once per word of a
# `# nosec <rule> -- why` reason: those lines are dropped, its findings are not.
BANDIT_PATHS := __main__.py components apps/backend/src bench testing machine pipeline policy/__main__.py \
  policy/dockyard_policies scripts
security-lint: .venv-security/.installed  ## Bandit: every finding fixed or justified inline (# nosec <rule> -- why)
	.venv-security/bin/bandit -q -c bandit.yaml -r $(BANDIT_PATHS) \
	  2> >(grep -v -e 'Test in comment:' -e 'but no failed test on file' >&2)

# The unit tier runs on every core (pytest-xdist, -n auto). Coverage (pytest-cov): the program
# (components/, __main__.py) by the unit tier (.coveragerc), the
# policy pack by the policy tier (policy/.coveragerc) and the backend by its own tests
# (apps/backend/pyproject.toml [tool.coverage]), each failing under 85 %. Tracing the program under
# the mocks roughly doubles the unit tier's time: `make test-unit COVERAGE=0` skips it locally; CI keeps it.
COVERAGE ?= 1
COV = $(if $(filter 1,$(COVERAGE)),--cov --cov-config=$(1),)
test-unit: deps  ## the program under Pulumi mocks, per stack; every bad setting refused; coverage >= 85 %
	$(PYTEST) -n auto tests/unit $(call COV,.coveragerc)

test-policy: tools  ## the policy pack's rules (coverage >= 85 %), every stack through the pack, the workflows and gates
	$(PYTEST) tests/policy $(call COV,policy/.coveragerc)
	$(PYTEST) tests/workflows

test-render: tools  ## Kubernetes manifests (kubernetes-validate, checkov), Dockerfiles (hadolint, checkov)
	$(PYTEST) tests/render tests/lint

test-backend:  ## the backend against real PostgreSQL and Redis; coverage >= 85 % (apps/backend/pyproject.toml)
	apps/backend/scripts/test.sh -q -p no:cacheprovider $(if $(filter 1,$(COVERAGE)),--cov,)

test-frontend:  ## the frontend's tests and next build
	apps/frontend/scripts/test.sh

test-apps: test-backend test-frontend  ## both apps' tests

test-engine: deps  ## images built and run on a real Docker engine
	$(PYTEST) tests/engine

# The real tier in two lanes of about equal length, run side by side: the developer's loop on
# the Docker engine (dev stack, dev loop, browser, plugins), and the ops lane (faults, edge cases,
# then staging, prod and dev's Minikube path on the local cluster's real node). The cluster's
# stacks mostly wait on the node (rollouts, probes, a stalled release's deadline), so they cost
# few cores beside the rest. --output-sync: each lane's output in one piece, when it ends.
CLUSTER_MODULES := tests/real/test_cluster_stacks.py tests/real/test_cluster_minikube.py
OPS_MODULES := tests/real/test_faults.py tests/real/test_edge_cases.py $(CLUSTER_MODULES)
test-real: deps policy/venv/.installed  ## the README's commands under the real Pulumi CLI, language host and providers (both lanes)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-real-dev test-real-ops

test-real-dev: deps policy/venv/.installed  ## the real tier's dev lane: dev stack, dev loop, browser, plugins (Docker)
	$(PYTEST) --durations=10 tests/real $(addprefix --ignore=,$(OPS_MODULES))

test-real-ops: deps policy/venv/.installed  ## the real tier's ops lane: faults, edge cases, staging/prod/Minikube on the cluster's node
	$(PYTEST) --durations=10 $(OPS_MODULES)

# Every gate and tier, in two lanes side by side: the gates and tiers in order (the quick static
# gates first, then from fastest to slowest) ending with the real tier's dev lane, and the real
# tier's ops lane from the start. Measured on 2 cores, tools cached (2026-12-08): the ops lane
# 21 minutes, the other 12 for the tiers then 9 for the dev lane; `make test` 21.5 minutes. The lanes
# share only what is built first (the virtualenvs); the Pulumi and cluster tools and the bases
# take locks.
TIERS_IN_ORDER := lint typecheck security-lint test-unit test-policy test-render test-apps test-engine test-real-dev
test: tools policy/venv/.installed  ## every gate and test tier
	$(MAKE) --no-print-directory -j2 --output-sync=target test-in-order test-real-ops

test-in-order: tools policy/venv/.installed  ## the gates and tiers one after the other (test's first lane)
	for tier in $(TIERS_IN_ORDER); do $(MAKE) --no-print-directory $$tier || exit 1; done

bench: deps  ## the benchmarks (tables, JSON in bench/results/)
	$(PY) -m bench

bench-check: deps  ## bench/results/*.json against the recorded bench/baseline/ with stated tolerances (bench/check.py)
	$(PY) -m bench.check

bench-record: deps  ## accept the latest results: copy bench/results/{images,stack}.json to bench/baseline/
	$(PY) -m bench.check --record

schema: deps  ## regenerate catalog.schema.json from the catalog's models (a unit test checks it)
	$(PY) -c 'import pathlib, components.config.catalog_file as c; pathlib.Path(c.SCHEMA_FILE).write_text(c.schema_text())'

clean:  ## remove the virtualenvs and the apps' build output
	rm -rf $(VENV) .venv-checkov .venv-zizmor .venv-security .mypy_cache policy/venv apps/backend/.venv apps/frontend/node_modules apps/frontend/.next
