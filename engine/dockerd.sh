#!/usr/bin/env bash
# Idempotently make a Docker engine available on this machine:
#   1. install Debian's docker.io (+ iptables, BuildKit needs nothing extra) when dockerd is missing,
#   2. start dockerd in the background when the socket does not answer,
#   3. wait (bounded) until `docker version` answers, or fail naming the log.
# Env: DOCKERD_LOG (default /var/log/dockyard-dockerd.log),
#      DOCKERD_WAIT_SECONDS (default 60), DOCKERD_STORAGE_DRIVER (default: dockerd's choice,
#      falling back to vfs when overlay2 cannot start here).
set -euo pipefail

DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd  # Debian ships it in sbin
LOG="${DOCKERD_LOG:-/var/log/dockyard-dockerd.log}"
WAIT="${DOCKERD_WAIT_SECONDS:-60}"

say() { echo "engine/dockerd.sh: $*" >&2; }

install_docker() {
    if [[ -x "$DOCKERD" && -x "$DOCKER" ]]; then return 0; fi
    if [[ $(id -u) -ne 0 ]]; then say "dockerd missing and not root: install docker.io first"; exit 1; fi
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
}

engine_answers() { timeout 10 "$DOCKER" version >/dev/null 2>&1; }

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
    setsid nohup "$DOCKERD" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
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
    if engine_answers; then return 0; fi
    pick_iptables
    start_dockerd
    wait_for_engine
    say "docker engine ready ($("$DOCKER" info --format '{{.Driver}}' 2>/dev/null) storage)"
}

main "$@"
