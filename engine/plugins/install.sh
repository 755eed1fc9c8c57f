#!/usr/bin/env bash
# Idempotently install the STAND-IN docker-build and random provider plugins (Python
# programs in this directory, not Pulumi's providers: those cannot be built or downloaded
# here) with the real CLI, as `pulumi-resource-docker-build` / `pulumi-resource-random` at
# the versions requirements.txt pins for their SDKs, into $PULUMI_HOME (default ~/.pulumi).
#
# `pulumi plugin install --file` takes any executable file that is not a tarball, so each
# plugin is a two-line /bin/sh wrapper that execs PYTHON (which needs the pulumi SDK, e.g.
# the project's .venv/bin/python) on the module. A wrapper already installed as-is is kept.
#
# Usage: engine/plugins/install.sh PULUMI_BIN_DIR PYTHON
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

say() { echo "engine/plugins/install.sh: $*" >&2; }
die() { say "$*"; exit 1; }

[[ $# -eq 2 ]] || die "usage: engine/plugins/install.sh PULUMI_BIN_DIR PYTHON"
PULUMI="$1/pulumi"
[[ -x "$PULUMI" ]] || die "no pulumi CLI at $PULUMI"

# An absolute path to PYTHON without resolving symlinks: a venv's python is a symlink, and
# resolving it would lose the venv's site-packages.
absolute_python() {
    if [[ "$1" == */* ]]; then
        echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    else
        command -v "$1" || die "no $1 on PATH"
    fi
}
PYTHON="$(absolute_python "$2")"
"$PYTHON" -c 'import pulumi.provider.experimental.server' 2>/dev/null ||
    die "$PYTHON cannot import the pulumi SDK (pulumi.provider.experimental); use the project's .venv/bin/python"

# The version the program's SDK asks the engine for, which the stand-in must also report.
pinned_version() {
    local sdk="$1" module="$2" pinned declared
    pinned="$(sed -n "s/^${sdk}==\([^ ]*\).*/\1/p" "$ROOT/requirements.txt")"
    declared="$(sed -n 's/^VERSION = "\(.*\)"$/\1/p' "$module")"
    [[ -n "$pinned" ]] || die "requirements.txt pins no $sdk"
    [[ "$pinned" == "$declared" ]] || die "$module reports $declared but requirements.txt pins $sdk==$pinned"
    echo "$pinned"
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

install_plugin() {
    local name="$1" module="$HERE/$2" sdk="$3" version wrapper installed
    version="$(pinned_version "$sdk" "$module")"
    wrapper="$WORK/pulumi-resource-$name"
    printf '#!/bin/sh\nexec %q %q "$@"\n' "$PYTHON" "$module" >"$wrapper"
    chmod 755 "$wrapper"
    installed="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$version/pulumi-resource-$name"
    if cmp -s "$wrapper" "$installed"; then
        say "stand-in $name $version already installed ($installed)"
        return 0
    fi
    PULUMI_SKIP_UPDATE_CHECK=true "$PULUMI" plugin install resource "$name" "$version" --file "$wrapper" --reinstall
    cmp -s "$wrapper" "$installed" || die "stand-in $name $version did not land at $installed"
    say "installed stand-in $name $version -> $module"
}

install_plugin docker-build standin_docker_build.py pulumi-docker-build
install_plugin random standin_random.py pulumi-random
