#!/usr/bin/env bash
# Build a local Kubernetes control plane from Go modules, cached by a hash of the versions and
# of the code that builds each piece (a warm run takes about a second):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                         k8s.io/kubernetes v1.37.2 with its staging modules k8s.io/* v0.37.2
#   etcd                  go.etcd.io/etcd/server/v3 v3.7.0 (the etcd 1.37 is tested with),
#                         through the small main module in machine/local_cluster/etcd/
#   kubelet, kube-proxy   the node: k8s.io/kubernetes v1.37.2 again (same layout and flags, so it
#                         shares the control plane's build cache)
#   coredns               github.com/coredns/coredns v1.15.0: the cluster's DNS (apps address
#                         Services by name)
#   metrics-server        sigs.k8s.io/metrics-server v0.8.0: resource metrics for the HPA
#   pause                 the sandbox image's one binary, built with gcc from k8s.io/kubernetes's
#                         own build/pause/linux/pause.c (no registry.k8s.io here)
# No release binary can be downloaded here; machine/local_cluster/cluster.sh runs these on
# loopback and in the node's network namespace only.
#
# Usage: machine/local_cluster/cluster-tools.sh            build what is missing; print the bin/ directory
#        machine/local_cluster/cluster-tools.sh --print    print the bin/ directory without building
# Env:   DOCKYARD_TOOLS (default /var/cache/dockyard/tools, or ~/.cache/dockyard/tools when not root)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION=v1.37.2
K8S_STAGING_VERSION=v0.37.2  # k8s.io/X v0.N.M is released with k8s.io/kubernetes v1.N.M
ETCD_VERSION=v3.7.0          # also pinned in machine/local_cluster/etcd/go.mod (checked below)
COREDNS_VERSION=v1.15.0
METRICS_SERVER_VERSION=v0.8.0
# Staging modules the module proxy refuses; nothing the binaries below import needs them.
STAGING_NOT_NEEDED=(k8s.io/sample-cli-plugin k8s.io/sample-controller)
KUBE_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
NODE_BINARIES=(kubelet kube-proxy)

if [[ $(id -u) -eq 0 ]]; then default_root=/var/cache/dockyard/tools; else default_root="${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/tools"; fi
ROOT="${DOCKYARD_TOOLS:-$default_root}"
BIN="$ROOT/cluster-$K8S_VERSION/bin"  # links to each piece's own cached build

say() { echo "machine/local_cluster/cluster-tools.sh: $*" >&2; }

if [[ "${1:-}" == --print ]]; then echo "$BIN"; exit 0; fi

# The go.mod files and go.work of the copies below decide the build, never the caller's.
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0

# module_dir, copy_module
source "$HERE/../toolchain/go-modules.sh"

layout_kubernetes() {  # layout_kubernetes TREE: k8s.io/kubernetes with its staging modules
    local tree=$1 started=$SECONDS module
    copy_module "k8s.io/kubernetes@$K8S_VERSION" "$tree"
    # A module zip leaves out nested modules: put each staging module where the `replace`
    # lines of k8s.io/kubernetes's go.mod expect it.
    while read -r module; do
        if [[ " ${STAGING_NOT_NEEDED[*]} " == *" $module "* ]]; then continue; fi
        copy_module "$module@$K8S_STAGING_VERSION" "$tree/staging/src/$module"
    done < <(cd "$tree" && go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"]["Path"].startswith("./staging/src/"):
        print(r["Old"]["Path"])')
    say "kubernetes $K8S_VERSION and its staging modules laid out in $((SECONDS - started))s"
}

build_kube_binaries() {  # build_kube_binaries TREE BINARY...: each ./cmd/BINARY into $OUT
    local tree=$1 binary t; shift
    # The version both version packages report: the apiserver derives its emulation and
    # compatibility versions from it (unset, it says v0.0.0-master).
    local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    local ldflags="-s -w" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    # One binary at a time: on 2 cores each build already uses every core, and the later ones
    # reuse the build cache of the first (per-binary times say what each costs).
    for binary; do
        t=$SECONDS
        # -mod=mod: the zip's vendor/OWNERS would otherwise switch on vendor mode.
        (cd "$tree" && go build -mod=mod -trimpath -tags notest -ldflags "$ldflags" \
            -o "$OUT/$binary" "./cmd/$binary")
        say "built $binary $K8S_VERSION in $((SECONDS - t))s"
    done
}

build_kubernetes() {
    layout_kubernetes "$1/kubernetes"
    build_kube_binaries "$1/kubernetes" "${KUBE_BINARIES[@]}"
}

build_node() {
    layout_kubernetes "$1/kubernetes"
    build_kube_binaries "$1/kubernetes" "${NODE_BINARIES[@]}"
}

build_pause() {
    # Static, as the upstream image's: the sandbox image holds this one file and nothing else.
    local t=$SECONDS dir
    dir=$(module_dir "k8s.io/kubernetes@$K8S_VERSION")/build/pause/linux
    gcc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION-dockyard" -o "$OUT/pause" "$dir/pause.c"
    strip "$OUT/pause"
    say "built pause (from k8s.io/kubernetes $K8S_VERSION build/pause/linux/pause.c) in $((SECONDS - t))s"
}

build_etcd() {
    local work=$1 t=$SECONDS
    grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$HERE/etcd/go.mod" \
        || { say "machine/local_cluster/etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"; exit 1; }
    cp -r "$HERE/etcd" "$work/etcd"
    # -mod=readonly: the checked-in go.sum is the pin.
    (cd "$work/etcd" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$OUT/etcd" .)
    say "built etcd $ETCD_VERSION in $((SECONDS - t))s"
}

# Modules without `replace` lines: `go install` at the pinned version, with their own go.sum.
build_coredns() {
    local t=$SECONDS
    GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
    say "built coredns $COREDNS_VERSION in $((SECONDS - t))s"
}

build_metrics_server() {
    local t=$SECONDS
    GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
    say "built metrics-server $METRICS_SERVER_VERSION in $((SECONDS - t))s"
}

# Each piece is cached in a directory named by a hash of its versions and of the code that
# builds it, so editing one builder rebuilds that piece only.
piece_dir() {  # piece_dir NAME BUILDER_FUNCTION [FILES...]
    local name=$1 builder=$2; shift 2
    local key
    key=$( { declare -f "$builder" copy_module module_dir layout_kubernetes build_kube_binaries
             declare -p KUBE_BINARIES NODE_BINARIES STAGING_NOT_NEEDED
             echo "$K8S_VERSION $K8S_STAGING_VERSION $ETCD_VERSION $COREDNS_VERSION $METRICS_SERVER_VERSION $GOFLAGS $CGO_ENABLED"
             go env GOVERSION; cat "$@" 2>/dev/null; } | sha256sum | cut -c1-12)
    echo "$ROOT/$name-$key"
}

ensure_piece() {  # ensure_piece NAME BUILDER_FUNCTION "BINARY..." [FILES...]
    local name=$1 builder=$2 binaries=$3 dir work binary missing=
    dir=$(piece_dir "$name" "$builder" "${@:4}")
    for binary in $binaries; do [[ -x "$dir/$binary" ]] || missing=1; done
    if [[ -n $missing ]]; then
        work=$(mktemp -d)
        rm -rf "$dir.partial"; mkdir -p "$dir.partial"
        OUT="$dir.partial" "$builder" "$work"
        chmod -R u+w "$work"; rm -rf "$work" "$dir"  # the module cache's copies are read-only
        mv "$dir.partial" "$dir"
    fi
    mkdir -p "$BIN"
    for binary in $binaries; do ln -sfn "$dir/$binary" "$BIN/$binary"; done
}

main() {
    local started=$SECONDS
    # One build at a time: CI builds in the background while the tiers run, and a tier that needs
    # the tools waits here for that build instead of starting a second one.
    mkdir -p "$ROOT"
    exec 8>"$ROOT/.cluster-tools.lock"
    flock 8
    command -v go >/dev/null || { say "Go is needed (no release binary can be downloaded here)"; exit 1; }
    if [[ ! -x "$(piece_dir kubernetes build_kubernetes)/kube-apiserver" ]]; then
        say "building the control plane, etcd, kubelet, kube-proxy, coredns and metrics-server from Go modules into $ROOT"
        say "(cold: 25-35 minutes on 2 cores, downloads included; cached afterwards)"
    fi
    ensure_piece kubernetes build_kubernetes "${KUBE_BINARIES[*]}"
    ensure_piece etcd build_etcd etcd "$HERE/etcd/go.mod" "$HERE/etcd/go.sum" "$HERE/etcd/main.go"
    ensure_piece node build_node "${NODE_BINARIES[*]}"
    ensure_piece pause build_pause pause
    ensure_piece coredns build_coredns coredns
    ensure_piece metrics-server build_metrics_server metrics-server
    say "cluster tools ready ($((SECONDS - started))s): $BIN"
    echo "$BIN"
}

main "$@"
