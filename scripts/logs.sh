#!/usr/bin/env bash
# Follows the logs of a stack's containers: every service, each line prefixed with its
# name, or one service.   scripts/logs.sh STACK [SERVICE]
set -euo pipefail
stack="$1"
service="${2:-}"
filter=(--filter "label=dockyard.dev/stack=$stack")
[[ -n "$service" ]] && filter+=(--filter "label=dockyard.dev/service=$service")
mapfile -t names < <(docker ps -a "${filter[@]}" --format '{{.Names}}')
if (( ${#names[@]} == 0 )); then
  echo "no container of stack '$stack'${service:+ for service '$service'}: is it up (make up)?" >&2
  exit 1
fi
if (( ${#names[@]} == 1 )); then
  exec docker logs --follow --tail 100 "${names[0]}"
fi
trap 'kill $(jobs -p) 2>/dev/null' EXIT INT TERM
for name in "${names[@]}"; do
  label="${name#dockyard-"$stack"-}"
  docker logs --follow --tail 20 "$name" 2>&1 | sed -u "s/^/$(printf '%-10s' "$label") | /" &
done
wait
