#!/usr/bin/env bash
# Build one Pulumi tool whose Go module the proxy refuses, from the upstream source archives
# in ../shared/upstream/ (checked against its SHA256SUMS; see its README for tags and commits):
#   language-python  pulumi-language-python v3.259.0 (+ pulumi-language-python-exec beside it):
#                    the CLI's Python language host, so `pulumi up` runs the program as typed
#   docker-build     pulumi-resource-docker-build 0.0.22, on pulumi-go-provider v1.3.2
#   random           pulumi-resource-random 4.21.1 (terraform-provider-random bridged)
# All three build against pulumi pkg/sdk v3.274.1, the CLI's own (the versions they pin are not
# served); the changes each needs are below, each checked to apply.
#
# Usage: machine/toolchain/upstream-plugins/build.sh TOOL WORK_DIR OUT_DIR
# Env:   DOCKYARD_UPSTREAM  the archives' directory (default: ../shared/upstream beside the checkout)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
UPSTREAM="${DOCKYARD_UPSTREAM:-$ROOT/../shared/upstream}"
PULUMI_VERSION=v3.274.1
LANGUAGE_VERSION=v3.259.0
DOCKER_BUILD_VERSION=0.0.22
GO_PROVIDER_VERSION=v1.3.2
RANDOM_VERSION=4.21.1
# Modules the proxy refuses that these go.mod files require only for code generators of other
# languages and for tests (none is imported by what is built here).
REFUSED=(github.com/pulumi/pulumi-java github.com/pulumi/pulumi-java/pkg github.com/pulumi/pulumi-yaml
         github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 github.com/pulumi/providertest)
BRIDGE=github.com/pulumi/pulumi-terraform-bridge/v3

say() { echo "machine/toolchain/upstream-plugins/build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $# -eq 3 ]] || die "usage: $0 language-python|docker-build|random WORK_DIR OUT_DIR"
TOOL=$1 WORK=$2 OUT=$3
command -v go >/dev/null || die "Go is needed (no release binary can be downloaded here)"
[[ -d $UPSTREAM ]] || die "no upstream archives at $UPSTREAM (set DOCKYARD_UPSTREAM to the folder holding SHA256SUMS)"
mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd) OUT=$(cd "$OUT" && pwd)
export GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
started=$SECONDS

# unpack NAME: the archive NAME.tar.gz, checked against SHA256SUMS, into $WORK/NAME
unpack() {
    local name=$1
    (cd "$UPSTREAM" && grep " $name.tar.gz\$" SHA256SUMS | sha256sum -c --quiet -) ||
        die "$UPSTREAM/$name.tar.gz is missing or does not match SHA256SUMS"
    rm -rf "${WORK:?}/$name"
    mkdir -p "$WORK/$name"
    tar -xzf "$UPSTREAM/$name.tar.gz" -C "$WORK/$name" --strip-components=1
    chmod -R u+w "$WORK/$name"
}

drop_refused() {  # drop_refused: in the go.mod of the current directory
    local module args=()
    for module in "${REFUSED[@]}"; do args+=("-droprequire=$module"); done
    go mod edit "${args[@]}"
}

on_cli_engine() {  # on_cli_engine: require the CLI's pkg/sdk in the go.mod of the current directory
    go mod edit -require="github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
        -require="github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
}

build_language_python() {
    unpack "pulumi-language-python-$LANGUAGE_VERSION"
    local cmd="$WORK/pulumi-language-python-$LANGUAGE_VERSION/sdk/python/cmd"
    cd "$cmd/pulumi-language-python"
    # Its go.mod points pkg and sdk at the pulumi/pulumi checkout around it: take the modules.
    go mod edit -dropreplace=github.com/pulumi/pulumi/pkg/v3 -dropreplace=github.com/pulumi/pulumi/sdk/v3
    on_cli_engine
    go build -mod=mod -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$LANGUAGE_VERSION" \
        -o "$OUT/pulumi-language-python" .
    install -m 755 "$cmd/pulumi-language-python-exec" "$OUT/pulumi-language-python-exec"
    "$OUT/pulumi-language-python" -help >/dev/null 2>&1 || true  # flag parsing only; it serves gRPC
}

build_docker_build() {
    unpack "pulumi-docker-build-v$DOCKER_BUILD_VERSION"
    unpack "pulumi-go-provider-$GO_PROVIDER_VERSION"
    local src="$WORK/pulumi-docker-build-v$DOCKER_BUILD_VERSION"
    python3 "$HERE/patch_docker_build.py" "$src" "$WORK/pulumi-go-provider-$GO_PROVIDER_VERSION"
    cd "$src"
    go mod edit -replace="github.com/pulumi/pulumi-go-provider=../pulumi-go-provider-$GO_PROVIDER_VERSION"
    drop_refused
    on_cli_engine
    go build -mod=mod -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_VERSION" \
        -o "$OUT/pulumi-resource-docker-build" ./provider/cmd/pulumi-resource-docker-build
}

build_random() {
    unpack "pulumi-random-v$RANDOM_VERSION"
    local src="$WORK/pulumi-random-v$RANDOM_VERSION/provider"
    # The bridge without its pulumi-yaml and pulumi-java program converters (tfgen uses them to
    # translate HCL examples; the provider at run time never does), as machine/toolchain/docker-provider does.
    local bridge_version json dir
    bridge_version=$(cd "$src" && go mod edit -json | python3 -c '
import json, sys
print(next(r["Version"] for r in json.load(sys.stdin)["Require"] if r["Path"] == sys.argv[1]))' "$BRIDGE")
    json=$(cd "$src" && go mod download -json "$BRIDGE@$bridge_version") || die "go mod download $BRIDGE@$bridge_version: $json"
    dir=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])' <<<"$json")
    rm -rf "$WORK/bridge"; cp -r "$dir" "$WORK/bridge"; chmod -R u+w "$WORK/bridge"
    local f
    for f in pkg/tfgen/convert_cli.go pkg/tf2pulumi/convert/convert.go; do
        [[ -f $WORK/bridge/$f ]] || die "bridge $bridge_version: $f not found (the patch needs revisiting)"
        sed -i -E \
            -e '/^\s*hcl2(java|yaml) "github\.com\/pulumi\/pulumi-(java|yaml)\//d' \
            -e '/^\s*hcl2dotnet "github\.com\/pulumi\/pulumi-dotnet\//d' \
            -e '/^\s*case (LanguageYaml|LanguageJava|LanguageCSharp|"yaml"|"java"|"csharp"):$/,+2d' \
            "$WORK/bridge/$f"
    done
    python3 "$HERE/patch_bridge.py" "$WORK/bridge"  # and without pulumi-dotnet's codegen types
    (cd "$WORK/bridge" && drop_refused)
    cd "$src"
    # docs.go embeds two import notes from doc/, which the archive leaves out (they feed only the
    # docs tfgen writes into the schema, and the schema is the released one): empty ones.
    local note
    for note in $(sed -n 's|^//go:embed \(doc/.*\)$|\1|p' docs.go); do
        [[ -e $note ]] || { mkdir -p "$(dirname "$note")"; : >"$note"; }
    done
    go mod edit -replace="$BRIDGE=$WORK/bridge"
    drop_refused
    on_cli_engine
    # The schema is checked in; the binary embeds it with the version set (upstream's generate.go).
    (cd cmd/pulumi-resource-random && VERSION=$RANDOM_VERSION go run -mod=mod generate.go)
    go build -mod=mod -trimpath \
        -ldflags "-s -w -X github.com/pulumi/pulumi-random/provider/v4/pkg/version.Version=$RANDOM_VERSION" \
        -o "$OUT/pulumi-resource-random" ./cmd/pulumi-resource-random
}

case $TOOL in
    language-python) build_language_python ;;
    docker-build) build_docker_build ;;
    random) build_random ;;
    *) die "unknown tool '$TOOL' (language-python, docker-build or random)" ;;
esac
say "built $TOOL in $((SECONDS - started))s into $OUT"
