#!/usr/bin/env bash
# Checks what `make up`/`preview`/`down` need before anything is installed or run: with
# --docker, a running Docker engine of a supported version. (The Pulumi CLI is found, or
# built from Go modules, by the driver: scripts/tooling.py.)
#   scripts/preflight.sh [--docker]
set -euo pipefail

MIN_DOCKER_API=1.44   # Docker Engine 25.0: honours the health checks' start_interval
MIN_DOCKER_ENGINE=25.0

fail() { echo "preflight: $*" >&2; exit 1; }

# "1.44" >= "1.44": compare major, then minor, as numbers.
version_at_least() {
  local have_major have_minor want_major want_minor
  IFS=. read -r have_major have_minor _ <<<"$1"
  IFS=. read -r want_major want_minor _ <<<"$2"
  [[ "$have_major" =~ ^[0-9]+$ && "${have_minor:-0}" =~ ^[0-9]+$ ]] || return 1
  (( have_major > want_major || (have_major == want_major && ${have_minor:-0} >= want_minor) ))
}

check_docker() {
  command -v docker >/dev/null \
    || fail "Docker is not installed: the dev stack runs on a local Docker Engine $MIN_DOCKER_ENGINE or newer (API $MIN_DOCKER_API)"
  local api engine
  api="$(timeout 20 docker version --format '{{.Server.APIVersion}}' 2>/dev/null)" \
    || fail "no running Docker engine answers (\`docker version\` could not reach it): start Docker, or check DOCKER_HOST / the docker context"
  engine="$(timeout 20 docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
  version_at_least "$api" "$MIN_DOCKER_API" \
    || fail "Docker Engine $engine (API $api) is older than the supported minimum, Docker Engine $MIN_DOCKER_ENGINE (API $MIN_DOCKER_API)"
}

if [[ "${1:-}" == "--docker" ]]; then
  check_docker
fi
echo "preflight: ok"
