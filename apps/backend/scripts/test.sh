#!/usr/bin/env bash
# Backend test tier: builds apps/backend/.venv from the hash-locked dev requirements, installs
# the app itself (non-editable, --no-deps) and runs pytest against a throwaway PostgreSQL and
# Redis started by the fixtures. Needs: python3 (>=3.11, with venv), and from Debian
#   apt-get install -y postgresql redis-server
# Without those the tests skip locally and fail under CI=true. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the lock changed (keeps repeated runs fast).
stamp=.venv/.requirements-dev.sha256
want="$(sha256sum requirements-dev.lock | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r requirements-dev.lock
  echo "$want" > "$stamp"
fi
# The app as it ships (not editable), so the tests see the installed package data too.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall .
exec .venv/bin/python -m pytest "$@"
