#!/usr/bin/env bash
# Idempotently run a plain-HTTP image registry on loopback for builds and tests
# (Debian 13's docker-registry, installed by machine/provision/docker-packages.sh).
# Env: REGISTRY_PORT (default 5000), REGISTRY_DIR (default /var/lib/dockyard-registry),
#      REGISTRY_LOG (default /var/log/dockyard-registry.log).
# Prints the registry's address (127.0.0.1:PORT) on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${REGISTRY_PORT:-5000}"
DIR="${REGISTRY_DIR:-/var/lib/dockyard-registry}"
LOG="${REGISTRY_LOG:-/var/log/dockyard-registry.log}"
ADDRESS="127.0.0.1:$PORT"

say() { echo "machine/provision/registry.sh: $*" >&2; }

answers() { curl -fsS -m 5 "http://$ADDRESS/v2/" >/dev/null 2>&1; }

if answers; then echo "$ADDRESS"; exit 0; fi
command -v docker-registry >/dev/null || bash "$HERE/docker-packages.sh"
mkdir -p "$DIR" "$(dirname "$LOG")"
# Deletes enabled: the tests check what a `pulumi destroy` of a pushing stack leaves behind.
cat >"$DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDRESS
EOF
say "starting docker-registry on $ADDRESS (data: $DIR/data, log: $LOG)"
setsid nohup docker-registry serve "$DIR/config.yml" >>"$LOG" 2>&1 </dev/null &
for _ in $(seq 1 30); do
    if answers; then echo "$ADDRESS"; exit 0; fi
    sleep 0.5
done
say "registry did not answer on $ADDRESS within 15s; last log lines:"
tail -n 20 "$LOG" >&2
exit 1
