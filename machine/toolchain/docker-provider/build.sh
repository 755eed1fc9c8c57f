#!/usr/bin/env bash
# Build pulumi-resource-docker: kreuzwerker/terraform-provider-docker bridged with
# pulumi-terraform-bridge v3.120.0 under pulumi-docker 5.2.0's tokens and names (README.md).
#
# Usage: machine/toolchain/docker-provider/build.sh WORK_DIR OUT_DIR VERSION
#   WORK_DIR  scratch directory (emptied of this script's own files, then reused)
#   OUT_DIR   receives the executable pulumi-resource-docker
#   VERSION   the plugin's version (5.2.0: the pulumi_docker SDK the program pins)
# Env: DOCKER_PROVIDER_TIDY=1  run `go mod tidy` in the scratch copy and write go.mod/go.sum back
#      here (after changing a pin); otherwise the checked-in go.sum must already cover the build.
#
# Every module is reached through `go` (the module cache); nothing is fetched otherwise.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BRIDGE=github.com/pulumi/pulumi-terraform-bridge/v3
BRIDGE_VERSION=v3.120.0
TAGS=no_compose  # the upstream's docker_compose resource (plugin-framework half, not bridged) stays out

say() { echo "machine/toolchain/docker-provider/build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $# -eq 3 ]] || die "usage: $0 WORK_DIR OUT_DIR VERSION"
WORK=$1 OUT=$2 VERSION=$3
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "VERSION must look like 5.2.0, got '$VERSION'"
command -v go >/dev/null || die "Go is needed (no release binary can be downloaded here)"
mkdir -p "$WORK" "$OUT"
WORK=$(cd "$WORK" && pwd) OUT=$(cd "$OUT" && pwd)
started=$SECONDS

# A writable copy of a module out of the module cache (downloaded into it when missing).
copy_module() {  # copy_module MODULE@VERSION DIR
    local json dir
    json=$(cd "$WORK" && go mod download -json "$1") || die "go mod download $1 failed: $json"
    dir=$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("Dir", ""))' <<<"$json")
    [[ -d $dir ]] || die "no module directory for $1: $json"
    rm -rf "$2"; mkdir -p "$2"
    cp -r "$dir/." "$2"
    chmod -R u+w "$2"
}

# 1. The sources, in a scratch copy (the tree stays free of generated files).
rm -rf "$WORK/src"
mkdir -p "$WORK/src"
(cd "$HERE" && tar --exclude=build.sh --exclude=README.md -cf - .) | (cd "$WORK/src" && tar -xf -)

# 2. The bridge without its pulumi-yaml and pulumi-java program generators: tfgen uses them only
#    to translate HCL examples into YAML and Java (--skip-examples), and they pull in two large
#    module trees. Two files import them; drop the imports and their switch cases.
copy_module "$BRIDGE@$BRIDGE_VERSION" "$WORK/bridge"
for f in pkg/tfgen/convert_cli.go pkg/tf2pulumi/convert/convert.go; do
    [[ -f $WORK/bridge/$f ]] || die "bridge $BRIDGE_VERSION: $f not found (the patch needs revisiting)"
    sed -i -E \
        -e '/^\s*hcl2(java|yaml) "github\.com\/pulumi\/pulumi-(java|yaml)\//d' \
        -e '/^\s*case (LanguageYaml|LanguageJava|"yaml"|"java"):$/,+2d' \
        "$WORK/bridge/$f"
done
if grep -rlE --include='*.go' --exclude='*_test.go' 'hcl2(java|yaml)|"github\.com/pulumi/pulumi-(java|yaml)/' \
    "$WORK/bridge/pkg" "$WORK/bridge/unstable" "$WORK/bridge/internal" 2>/dev/null; then
    die "the bridge still uses pulumi-yaml or pulumi-java after patching (files above)"
fi
(cd "$WORK/bridge" && go mod edit -droprequire=github.com/pulumi/pulumi-java/pkg -droprequire=github.com/pulumi/pulumi-yaml)

cd "$WORK/src"
go mod edit -replace="$BRIDGE=../bridge"
if [[ ${DOCKER_PROVIDER_TIDY:-} == 1 ]]; then
    go mod tidy
    cp go.sum "$HERE/go.sum"
    cp go.mod "$HERE/go.mod"
    (cd "$HERE" && go mod edit -dropreplace="$BRIDGE")
    say "wrote go.mod and go.sum back to $HERE"
fi

# 3. tfgen, then the schema and metadata it generates (the provider package embeds the metadata:
#    it starts empty, as in a freshly bridged provider).
LDFLAGS="-X dockyard/docker-provider.Version=$VERSION"
: >cmd/pulumi-resource-docker/bridge-metadata.json
rm -f cmd/pulumi-resource-docker/schema.json
say "building pulumi-tfgen-docker (cold: a few minutes on 2 cores)"
CGO_ENABLED=0 go build -tags "$TAGS" -trimpath -ldflags "$LDFLAGS" -o "$WORK/bin/pulumi-tfgen-docker" ./cmd/pulumi-tfgen-docker ||
    die "building pulumi-tfgen-docker failed (a go.sum mismatch after a pin change: rerun with DOCKER_PROVIDER_TIDY=1)"
"$WORK/bin/pulumi-tfgen-docker" schema --out cmd/pulumi-resource-docker --skip-docs --skip-examples >"$WORK/tfgen.log" 2>&1 ||
    { tail -n 30 "$WORK/tfgen.log" >&2; die "tfgen failed (log: $WORK/tfgen.log)"; }
[[ -s cmd/pulumi-resource-docker/schema.json && -s cmd/pulumi-resource-docker/bridge-metadata.json ]] ||
    die "tfgen wrote no schema.json/bridge-metadata.json (log: $WORK/tfgen.log)"

# 4. The plugin, with both generated files embedded.
say "building pulumi-resource-docker $VERSION"
CGO_ENABLED=0 go build -tags "$TAGS" -trimpath -ldflags "-s -w $LDFLAGS" -o "$OUT/pulumi-resource-docker.partial" ./cmd/pulumi-resource-docker ||
    die "building pulumi-resource-docker failed"
got=$("$OUT/pulumi-resource-docker.partial" -version) || die "the built plugin does not run"
[[ $got == "$VERSION" ]] || die "the built plugin reports version '$got', expected '$VERSION'"
mv -f "$OUT/pulumi-resource-docker.partial" "$OUT/pulumi-resource-docker"
say "built $OUT/pulumi-resource-docker $VERSION in $((SECONDS - started))s"
