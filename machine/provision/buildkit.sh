#!/usr/bin/env bash
# Idempotently build buildkitd from its Go module, run it as a local daemon and
# register it as the `remote` buildx builder `dockyard-buildkit`.
#
# The docker-build provider never uses the engine's legacy builder, and a
# docker-container builder pulls moby/buildkit from a registry this machine
# cannot reach: a remote builder on a local socket needs neither. buildkitd is
# told that the loopback registry (machine/provision/registry.sh) speaks plain HTTP, so
# builds read air-gapped bases from it and export registry caches to it.
#
# Binaries are cached by version in /var/cache/dockyard/tools/buildkit-<version>;
# a warm run takes under a second.
#
# BUILDKIT_BUILDER names another builder with its own daemon, state and socket (the real tier's
# "empty builder" step starts one so as not to empty the shared one under other builds);
# `--remove` stops such a daemon, unregisters it and deletes its state.
# Env: REGISTRY_PORT (default 5000), BUILDKIT_BUILDER (default dockyard-buildkit),
#      BUILDKIT_LOG (default /var/log/<builder>d.log).
# Usage: machine/provision/buildkit.sh [--print-builder | --remove]
set -euo pipefail

VERSION=v0.34.2  # github.com/moby/buildkit
BUILDER=${BUILDKIT_BUILDER:-dockyard-buildkit}
[[ $BUILDER =~ ^dockyard-buildkit[a-z0-9-]*$ ]] || { echo "BUILDKIT_BUILDER must start with dockyard-buildkit and be a-z, 0-9, -: got '$BUILDER'" >&2; exit 2; }
TOOLS="/var/cache/dockyard/tools/buildkit-$VERSION/bin"
STATE=/var/lib/$BUILDER
SOCKET_DIR=/run/$BUILDER
SOCKET="unix://$SOCKET_DIR/buildkitd.sock"
REGISTRY="127.0.0.1:${REGISTRY_PORT:-5000}"
LOG="${BUILDKIT_LOG:-/var/log/${BUILDER}d.log}"

say() { echo "machine/provision/buildkit.sh: $*" >&2; }

if [[ "${1:-}" == --print-builder ]]; then echo "$BUILDER"; exit 0; fi

# buildkit's go.mod has `exclude` directives, which `go install mod@version` refuses:
# build inside a writable copy of the downloaded module instead.
build_binaries() {
    if [[ -x "$TOOLS/buildkitd" && -x "$TOOLS/buildctl" ]]; then return 0; fi
    command -v go >/dev/null || { say "Go is needed to build buildkitd $VERSION"; exit 1; }
    local started=$SECONDS module_dir work
    module_dir=$(go mod download -json "github.com/moby/buildkit@$VERSION" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    work=$(mktemp -d)
    cp -r "$module_dir/." "$work"
    chmod -R u+w "$work"
    mkdir -p "$TOOLS.partial"
    (cd "$work" && CGO_ENABLED=0 go build -trimpath \
        -ldflags "-X github.com/moby/buildkit/version.Version=$VERSION" \
        -o "$TOOLS.partial/" ./cmd/buildkitd ./cmd/buildctl)
    rm -rf "$work" "$TOOLS"
    mv "$TOOLS.partial" "$TOOLS"
    say "built buildkitd $VERSION in $((SECONDS - started))s"
}

daemon_answers() { timeout 10 "$TOOLS/buildctl" --addr "$SOCKET" debug workers >/dev/null 2>&1; }

start_daemon() {
    mkdir -p "$STATE" "$SOCKET_DIR" "$(dirname "$LOG")"
    cat >"$STATE/buildkitd.toml" <<EOF
[worker.oci]
  enabled = true
  # RUN steps share the host's network: no CNI set-up, and package installs reach their registries.
  networkMode = "host"
  gc = true
  reservedSpace = "2GB"
  maxUsedSpace = "20GB"
[worker.containerd]
  enabled = false
[registry."$REGISTRY"]
  http = true
  insecure = true
EOF
    say "starting buildkitd $VERSION (socket: $SOCKET, log: $LOG)"
    PATH="/usr/local/sbin:$PATH" setsid nohup "$TOOLS/buildkitd" --root "$STATE/root" --addr "$SOCKET" \
        --config "$STATE/buildkitd.toml" >>"$LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        if daemon_answers; then return 0; fi
        sleep 0.5
    done
    say "buildkitd did not answer within 30s; last log lines:"
    tail -n 20 "$LOG" >&2
    exit 1
}

register_builder() {
    if docker buildx inspect "$BUILDER" >/dev/null 2>&1; then return 0; fi
    docker buildx create --name "$BUILDER" --driver remote "$SOCKET" >/dev/null
    say "registered buildx builder $BUILDER (driver remote, $SOCKET)"
}

remove_builder() {
    [[ $BUILDER != dockyard-buildkit ]] || { say "--remove is for a second builder, not the shared $BUILDER"; exit 2; }
    docker buildx rm "$BUILDER" >/dev/null 2>&1 || true
    local pid
    for pid in $(pgrep -f -- "--addr $SOCKET( |$)" || true); do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do pgrep -f -- "--addr $SOCKET( |$)" >/dev/null || break; sleep 0.2; done
    pkill -KILL -f -- "--addr $SOCKET( |$)" 2>/dev/null || true
    # Its snapshots may still be mounted for a moment after it exits.
    awk -v dir="$STATE/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$STATE" "$SOCKET_DIR" "$LOG"
    say "removed builder $BUILDER (its daemon, $STATE and its log)"
}

main() {
    if [[ "${1:-}" == --remove ]]; then remove_builder; return; fi
    build_binaries
    daemon_answers || start_daemon
    register_builder
    docker buildx inspect --bootstrap "$BUILDER" >/dev/null
}

main "$@"
