#!/usr/bin/env bash
# Make sure a Docker engine runs, then build dockyard's air-gapped base images (see bases.py).
# Usage: machine/base_images/bases.sh [--force] [--only NAME ...] [--jobs N] [--list]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# One at a time: test runners side by side (make test's two real-tier lanes) would otherwise
# start the engine and debootstrap the same bases twice; the second finds them built.
mkdir -p /run/lock
exec 9>/run/lock/dockyard-bases.lock
flock 9
bash "$here/../provision/dockerd.sh" 9>&-  # the engine it may start must not hold the lock
exec python3 "$here/bases.py" "$@"
