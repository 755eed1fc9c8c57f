#!/usr/bin/env bash
# Make sure a Docker engine runs, then build dockyard's air-gapped base images (see bases.py).
# Usage: machine/base_images/bases.sh [--force] [--only NAME ...] [--jobs N] [--list]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/../provision/dockerd.sh"
exec python3 "$here/bases.py" "$@"
