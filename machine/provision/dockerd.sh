#!/usr/bin/env bash
# Idempotently make a current Docker engine (API >= 1.44) available on this machine:
#   1. install Docker 26 from Debian 13's packages (machine/provision/docker-packages.sh) when missing,
#   2. stop an engine that answers with an older API (Debian 12's 20.10), which would
#      otherwise keep the socket and fight ours over the docker0 bridge,
#   3. start dockerd in the background when the socket does not answer,
#   4. wait (bounded) until `docker version` answers, or fail naming the log.
# Env: DOCKERD_LOG (default /var/log/dockyard-dockerd.log),
#      DOCKERD_WAIT_SECONDS (default 60), DOCKERD_STORAGE_DRIVER (default: dockerd's choice,
#      falling back to vfs when overlay2 cannot start here).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKERD=/usr/local/sbin/dockerd  # linked there by docker-packages.sh
MIN_API=1.44  # the Docker providers' minimum (health-check start_interval)
LOG="${DOCKERD_LOG:-/var/log/dockyard-dockerd.log}"
WAIT="${DOCKERD_WAIT_SECONDS:-60}"

say() { echo "machine/provision/dockerd.sh: $*" >&2; }

install_docker() {
    if [[ -x "$DOCKERD" ]] && command -v docker >/dev/null 2>&1; then return 0; fi
    if [[ $(id -u) -ne 0 ]]; then say "dockerd missing and not root: run machine/provision/docker-packages.sh as root"; exit 1; fi
    bash "$HERE/docker-packages.sh"
}

engine_answers() { timeout 10 docker version >/dev/null 2>&1; }

engine_api() { timeout 10 docker version --format '{{.Server.APIVersion}}' 2>/dev/null; }

api_at_least() {  # api_at_least FOUND MIN
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

# An older engine on the socket (Debian 12's 20.10) is replaced, not used beside ours.
stop_old_engine() {
    local api
    api=$(engine_api) || return 0
    if api_at_least "$api" "$MIN_API"; then return 0; fi
    say "the running engine speaks API $api (< $MIN_API): stopping it to start Docker from $DOCKERD"
    pkill -x dockerd || true
    local deadline=$((SECONDS + 30))
    while pgrep -x dockerd >/dev/null && ((SECONDS < deadline)); do sleep 1; done
    pkill -x containerd || true
}

# Some sandboxes lack nf_tables: use the legacy iptables backend when the nft one fails.
pick_iptables() {
    if command -v iptables >/dev/null 2>&1 && ! iptables -L -n >/dev/null 2>&1; then
        if [[ -x /usr/sbin/iptables-legacy ]] && /usr/sbin/iptables-legacy -L -n >/dev/null 2>&1; then
            say "nftables unusable: switching iptables to legacy"
            update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
            update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null || true
        fi
    fi
}

start_dockerd() {
    local args=(--host unix:///var/run/docker.sock)
    if [[ -n "${DOCKERD_STORAGE_DRIVER:-}" ]]; then
        args+=(--storage-driver "$DOCKERD_STORAGE_DRIVER")
    fi
    if ! iptables -L -n >/dev/null 2>&1; then
        say "iptables unusable: starting dockerd with --iptables=false"
        args+=(--iptables=false --ip6tables=false)
    fi
    # A dockerd that died leaves its pid file behind, and a new one refuses to start over it.
    local pidfile=/var/run/docker.pid
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        say "removing stale $pidfile"
        rm -f "$pidfile"
    fi
    mkdir -p "$(dirname "$LOG")"
    say "starting dockerd (log: $LOG)"
    # setsid: dockerd must outlive the shell (and pytest session) that started it.
    PATH="$(dirname "$DOCKERD"):$PATH" setsid nohup "$DOCKERD" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
}

wait_for_engine() {
    local deadline=$((SECONDS + WAIT))
    until engine_answers; do
        if ((SECONDS >= deadline)); then
            say "dockerd did not answer within ${WAIT}s; last log lines of $LOG:"
            tail -n 30 "$LOG" >&2 || true
            exit 1
        fi
        sleep 1
    done
}

main() {
    install_docker
    stop_old_engine
    if engine_answers; then return 0; fi
    pick_iptables
    start_dockerd
    wait_for_engine
    say "docker engine ready: API $(engine_api), $(docker info --format '{{.Driver}}' 2>/dev/null) storage"
}

main "$@"
