#!/usr/bin/env bash
# Regenerate the hash-locked requirement files from pyproject.toml.
# Universal lock for Python 3.11+ so it serves both the Debian 3.11 base and python:3.13.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
common=(--generate-hashes --universal --python-version 3.11 --no-emit-index-url --quiet)
"$UV" pip compile "${common[@]}" pyproject.toml -o requirements.lock
# Extras kept in the dev lock (coverage[toml], which pytest-cov asks for): pip's --require-hashes
# (scripts/test.sh, make typecheck) refuses a dependency's extra it finds no pinned line for.
"$UV" pip compile "${common[@]}" --no-strip-extras --extra dev pyproject.toml -o requirements-dev.lock
# The build backend used to install the app itself, hash-checked too.
printf 'setuptools==84.2.1\n' | "$UV" pip compile "${common[@]}" - -o build-constraints.lock
# uv itself, installed into the image's builder stage (keep in step with UV_VERSION there).
printf 'uv==%s\n' "${UV_VERSION:-0.13.9}" | "$UV" pip compile "${common[@]}" - -o uv-tool.lock
if grep -nE -- '--(extra-)?index-url|https?://' requirements.lock requirements-dev.lock \
    build-constraints.lock uv-tool.lock; then
  echo "lock files must not name an index URL" >&2
  exit 1
fi
