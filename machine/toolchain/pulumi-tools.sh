#!/usr/bin/env bash
# Build the real Pulumi tools from Go modules, cached by a hash of their versions and
# of the scripts that build them (a warm run takes about a second):
#   pulumi                       the CLI, github.com/pulumi/pulumi/pkg/v3 (version-stamped)
#   pulumi-resource-kubernetes   github.com/pulumi/pulumi-kubernetes/provider/v4 (release 4.25.0)
#   pulumi-resource-docker       kreuzwerker/terraform-provider-docker bridged with
#                                pulumi-terraform-bridge, as pulumi-docker 5.2.0 (machine/toolchain/docker-provider/)
#   pulumi-language-python       the Python language host v3.259.0 (+ pulumi-language-python-exec),
#   pulumi-resource-docker-build docker-build 0.0.22 and random 4.21.1: their modules are refused
#   pulumi-resource-random       by the proxy, so they build from the upstream source archives in
#                                ../shared/upstream (machine/toolchain/upstream-plugins/build.sh)
# Release binaries cannot be downloaded here. bin/ holds hard links to each piece's cached build:
# the CLI finds the language host beside its own binary (symlinks resolved), so both sit there.
#
# Usage: machine/toolchain/pulumi-tools.sh            build what is missing; print the tools' bin/ directory
#        machine/toolchain/pulumi-tools.sh --print    print the bin/ directory without building
# Env:   DOCKYARD_TOOLS (default /var/cache/dockyard/tools, or ~/.cache/dockyard/tools when not root)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The Pulumi CLI version: the one pin, in the project's .pulumi.version (the workflows' pulumi/actions
# steps read it too: tests/workflows/test_workflow_graph.py).
PULUMI_VERSION=v$(tr -d '[:space:]' < "$HERE/../../.pulumi.version")
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199  # = release v4.25.0
K8S_PROVIDER_VERSION=4.25.0
K8S_SDK_VERSION=v4.29.0  # the provider's `replace ../sdk`: the nearest served SDK module
DOCKER_PROVIDER_VERSION=5.2.0  # the pulumi-docker release whose SDK the program pins

if [[ $(id -u) -eq 0 ]]; then default_root=/var/cache/dockyard/tools; else default_root="${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/tools"; fi
ROOT="${DOCKYARD_TOOLS:-$default_root}"
BIN="$ROOT/pulumi-$PULUMI_VERSION/bin"  # hard links to each piece's own cached build
UPSTREAM="${DOCKYARD_UPSTREAM:-$HERE/../../../shared/upstream}"  # the source archives of the refused modules

say() { echo "machine/toolchain/pulumi-tools.sh: $*" >&2; }

if [[ "${1:-}" == --print ]]; then echo "$BIN"; exit 0; fi

# module_dir, copy_module
source "$HERE/go-modules.sh"

build_cli() {
    local work=$1 started=$SECONDS
    copy_module "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "$work/cli/pkg"
    copy_module "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" "$work/cli/sdk"
    (cd "$work/cli/pkg" && CGO_ENABLED=0 go build -mod=mod -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        -o "$OUT/pulumi" ./cmd/pulumi)
    say "built pulumi $PULUMI_VERSION in $((SECONDS - started))s"
}

build_kubernetes_provider() {
    local work=$1 started=$SECONDS
    copy_module "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION" "$work/k8s/provider"
    copy_module "github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_VERSION" "$work/k8s/sdk"
    cd "$work/k8s/provider"
    # The same engine as the CLI; pkg/v3's package spec now takes the provider by pointer.
    go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
        -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    sed -i 's/Provider: pschema.ResourceSpec{/Provider: \&pschema.ResourceSpec{/' pkg/gen/schema.go
    grep -q 'Provider: &pschema.ResourceSpec{' pkg/gen/schema.go || { say "kubernetes provider: schema.go fix did not apply"; exit 1; }
    go mod tidy >/dev/null 2>&1 || true
    (cd cmd/pulumi-resource-kubernetes && VERSION=$K8S_PROVIDER_VERSION go run -mod=mod generate.go >/dev/null)
    CGO_ENABLED=0 go build -mod=mod -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" \
        -o "$OUT/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
    cd - >/dev/null
    say "built pulumi-resource-kubernetes $K8S_PROVIDER_VERSION in $((SECONDS - started))s"
}

# The language host and the two providers the proxy refuses, from ../shared/upstream's archives.
build_language_python() { bash "$HERE/upstream-plugins/build.sh" language-python "$1" "$OUT"; }
build_docker_build_provider() { bash "$HERE/upstream-plugins/build.sh" docker-build "$1" "$OUT"; }
build_random_provider() { bash "$HERE/upstream-plugins/build.sh" random "$1" "$OUT"; }

build_docker_provider() {
    local work=$1 started=$SECONDS
    bash "$HERE/docker-provider/build.sh" "$work/docker" "$OUT" "$DOCKER_PROVIDER_VERSION"
    say "built pulumi-resource-docker $DOCKER_PROVIDER_VERSION (bridged) in $((SECONDS - started))s"
}

# Each piece is cached in a directory named by a hash of its versions and of the code that
# builds it, so editing one builder rebuilds that piece only.
piece_dir() {  # piece_dir NAME BUILDER_FUNCTION [FILES...]
    local name=$1 builder=$2; shift 2
    local key
    key=$( { declare -f "$builder" copy_module module_dir; echo "$PULUMI_VERSION $K8S_PROVIDER_MODULE_VERSION $K8S_SDK_VERSION $DOCKER_PROVIDER_VERSION"; cat "$@" 2>/dev/null; } | sha256sum | cut -c1-12)
    echo "$ROOT/$name-$key"
}

ensure_piece() {  # ensure_piece BINARY BUILDER_FUNCTION [FILES...]
    local binary=$1 builder=$2 dir work
    dir=$(piece_dir "$binary" "$builder" "${@:3}")
    if [[ ! -x "$dir/$binary" ]]; then
        command -v go >/dev/null || { say "Go is needed to build $binary (no release binary can be downloaded here)"; exit 1; }
        work=$(mktemp -d)
        rm -rf "$dir.partial"; mkdir -p "$dir.partial"
        OUT="$dir.partial" "$builder" "$work"
        rm -rf "$work" "$dir"
        mv "$dir.partial" "$dir"
    fi
    mkdir -p "$BIN"
    local built
    for built in "$dir"/*; do  # a hard link (a copy across file systems), never a symlink
        ln -f "$built" "$BIN/" 2>/dev/null || cp -f "$built" "$BIN/"
    done
}

main() {
    local started=$SECONDS
    # One build at a time: CI builds in the background while the tiers run, and a tier that needs
    # the tools waits here for that build instead of starting a second one.
    mkdir -p "$ROOT"
    exec 8>"$ROOT/.pulumi-tools.lock"
    flock 8
    if [[ ! -x "$(piece_dir pulumi build_cli)/pulumi" ]]; then
        say "building the Pulumi CLI, the Python language host and the providers from Go modules and ../shared/upstream into $ROOT"
        say "(cold: about 20 minutes on 2 cores, downloads included; cached afterwards)"
    fi
    ensure_piece pulumi build_cli
    ensure_piece pulumi-resource-kubernetes build_kubernetes_provider
    local provider_sources
    mapfile -t provider_sources < <(find "$HERE/docker-provider" -type f | sort)
    ensure_piece pulumi-resource-docker build_docker_provider "${provider_sources[@]}"
    # Keyed by the archives themselves (their versions are in their names and SHA256SUMS) and the
    # build script and patch.
    local upstream_build
    mapfile -t upstream_build < <(find "$HERE/upstream-plugins" -type f | sort)
    ensure_piece pulumi-language-python build_language_python "${upstream_build[@]}" "$UPSTREAM/SHA256SUMS"
    ensure_piece pulumi-resource-docker-build build_docker_build_provider "${upstream_build[@]}" "$UPSTREAM/SHA256SUMS"
    ensure_piece pulumi-resource-random build_random_provider "${upstream_build[@]}" "$UPSTREAM/SHA256SUMS"
    say "Pulumi tools ready ($((SECONDS - started))s): $BIN"
    echo "$BIN"
}

main "$@"
