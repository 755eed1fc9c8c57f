#!/usr/bin/env bash
# A stack's services: state, health and the URL each publishes on 127.0.0.1.
#   scripts/ps.sh STACK
set -euo pipefail
stack="$1"
mapfile -t names < <(docker ps -a --filter "label=dockyard.dev/stack=$stack" --format '{{.Names}}')
if (( ${#names[@]} == 0 )); then
  echo "no container of stack '$stack': is it up (make up)?" >&2
  exit 1
fi
printf '%-12s %-10s %-10s %s\n' SERVICE STATE HEALTH URL
# The container that only holds a generated config (never started) is not a service: left out.
format='{{if index .Config.Labels "dockyard.dev/config-writer"}}writer{{else}}service{{end}} {{index .Config.Labels "dockyard.dev/service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{range $p, $b := .NetworkSettings.Ports}}{{range $b}}http://{{.HostIp}}:{{.HostPort}} {{end}}{{end}}'
docker inspect --format "$format" "${names[@]}" | while read -r kind service state health urls; do
  [[ $kind == writer ]] && continue
  printf '%-12s %-10s %-10s %s\n' "$service" "$state" "$health" "${urls:--}"
done
