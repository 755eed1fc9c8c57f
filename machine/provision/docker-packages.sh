#!/usr/bin/env bash
# Install a current Docker engine on Debian 12 from Debian 13 ("trixie") packages.
#
# Debian 12's docker.io is 20.10 (API 1.41); the Docker providers need API 1.44
# (Docker Engine 25+). Debian 13's packages come from the same mirror and their
# binaries run on Debian 12 with its own runc. They are unpacked (dpkg -x) into
# one versioned prefix instead of installed, so this machine's apt sources and
# libc stay untouched, and linked into /usr/local:
#   /opt/dockyard/docker-<version>/   dockerd, containerd, docker-proxy, docker-init,
#                                     docker-buildx, docker-compose, docker-registry, docker
# A second run with the same pins takes well under a second.
#
# Usage: machine/provision/docker-packages.sh            install (idempotent)
#        machine/provision/docker-packages.sh --print    print the prefix it installs into
set -euo pipefail

# Pinned upstream versions; the Debian revision may move with security updates,
# which keep the upstream version (a different upstream version is refused).
declare -A PINS=(
    [docker.io]=26.1.5
    [docker-cli]=26.1.5
    [containerd]=1.7.24
    [docker-buildx]=0.13.1
    [docker-compose]=2.26.1
    [docker-registry]=2.8.3
    [tini]=0.19.0
)
SUITE=trixie
PREFIX="/opt/dockyard/docker-${PINS[docker.io]}"
APT_DIR=/var/cache/dockyard/apt-$SUITE
PLUGIN_DIR=/usr/local/libexec/docker/cli-plugins

say() { echo "machine/provision/docker-packages.sh: $*" >&2; }

if [[ "${1:-}" == --print ]]; then echo "$PREFIX"; exit 0; fi

# The mirror this machine already uses, read from apt's own sources (never written here).
debian_mirror() {
    local uri
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    if [[ -z "$uri" ]]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
    fi
    [[ -n "$uri" ]] || { say "no Debian mirror found in /etc/apt/sources.list{,.d}"; exit 1; }
    echo "$uri"
}

# apt options that read only our private trixie source list and keep their own state.
apt_opts() {
    echo "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$APT_DIR/sources.list.d" \
         "-o Dir::State::Lists=$APT_DIR/lists -o Dir::Cache::Archives=$APT_DIR/archives" \
         "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root"
}

fetch_packages() {
    mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$(debian_mirror)" "$SUITE" >"$APT_DIR/sources.list.d/$SUITE.sources"
    # shellcheck disable=SC2046  # apt_opts is a list of words on purpose
    apt-get $(apt_opts) update -qq
    local package candidate
    for package in "${!PINS[@]}"; do
        # shellcheck disable=SC2046
        candidate=$(apt-cache $(apt_opts) policy "$package" | awk '/Candidate:/ { print $2 }')
        if [[ "$candidate" != "${PINS[$package]}"* && "$candidate" != *":${PINS[$package]}"* ]]; then
            say "$SUITE offers $package '$candidate', pinned ${PINS[$package]}: update PINS in $0"
            exit 1
        fi
    done
    rm -f "$APT_DIR"/archives/*.deb  # only this run's packages get unpacked
    # shellcheck disable=SC2046
    (cd "$APT_DIR/archives" && apt-get $(apt_opts) download -qq "${!PINS[@]}")
}

unpack() {
    local staging="$PREFIX.partial" deb
    rm -rf "$staging"
    mkdir -p "$staging/root" "$staging/bin"
    for deb in "$APT_DIR"/archives/*.deb; do dpkg -x "$deb" "$staging/root"; done
    local r="$staging/root"
    # One flat bin/ so dockerd finds containerd, docker-proxy and docker-init on PATH.
    ln -s ../root/usr/sbin/dockerd ../root/usr/sbin/docker-proxy "$staging/bin/"
    ln -s ../root/usr/bin/containerd ../root/usr/bin/containerd-shim-runc-v2 ../root/usr/bin/ctr "$staging/bin/"
    ln -s ../root/usr/bin/tini-static "$staging/bin/docker-init"
    ln -s ../root/usr/bin/docker-registry ../root/usr/bin/docker "$staging/bin/"
    [[ -x "$r/usr/libexec/docker/cli-plugins/docker-buildx" ]] || { say "docker-buildx missing from the packages"; exit 1; }
    rm -rf "$PREFIX"
    mv "$staging" "$PREFIX"
}

# Debian 12's own docker.io (20.10) would fight ours over the docker0 bridge.
remove_old_engine() {
    if dpkg-query -W -f='${Status} ${Version}' docker.io 2>/dev/null | grep -q '^install ok installed 20\.'; then
        say "removing Debian 12's docker.io 20.10 (too old; replaced by ${PINS[docker.io]})"
        pkill -x dockerd 2>/dev/null && sleep 2 || true
        apt-get remove -y -qq docker.io >/dev/null
    fi
}

link_into_usr_local() {
    mkdir -p /usr/local/sbin /usr/local/bin "$PLUGIN_DIR"
    local tool
    for tool in dockerd docker-proxy containerd containerd-shim-runc-v2 ctr docker-init; do
        ln -sfn "$PREFIX/bin/$tool" "/usr/local/sbin/$tool"
    done
    ln -sfn "$PREFIX/bin/docker-registry" /usr/local/bin/docker-registry
    # Keep a newer client the machine already has; any client >= 25 talks to this engine.
    if ! command -v docker >/dev/null 2>&1; then ln -sfn "$PREFIX/bin/docker" /usr/local/bin/docker; fi
    ln -sfn "$PREFIX/root/usr/libexec/docker/cli-plugins/docker-buildx" "$PLUGIN_DIR/docker-buildx"
    ln -sfn "$PREFIX/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
}

main() {
    [[ $(id -u) -eq 0 ]] || { say "must run as root (installs into /opt and /usr/local)"; exit 1; }
    remove_old_engine
    if [[ ! -x "$PREFIX/bin/dockerd" ]]; then
        local started=$SECONDS
        # runc and iptables come from Debian 12 itself (trixie's runc needs a newer glibc).
        apt-get install -y -qq --no-install-recommends runc iptables ca-certificates >/dev/null
        fetch_packages
        unpack
        say "installed Docker ${PINS[docker.io]} into $PREFIX in $((SECONDS - started))s"
    fi
    link_into_usr_local
}

main "$@"
