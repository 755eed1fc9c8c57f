#!/usr/bin/env bash
# Frontend test tier: clean install from the lock file, type check, unit tests, production build.
set -euo pipefail
cd "$(dirname "$0")/.."

export NEXT_TELEMETRY_DISABLED=1

if ! command -v npm >/dev/null 2>&1; then
  echo "frontend: npm is not installed (need Node.js >= 20.19 with npm)" >&2
  exit 1
fi

npm ci --no-audit --no-fund
npm run lint
npm test
npm run build
