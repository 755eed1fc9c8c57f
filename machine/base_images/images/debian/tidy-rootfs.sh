#!/bin/sh
# Turn a fresh debootstrap tree ($1) into a small container rootfs, the way Debian's official
# container images do: no daemons started by package scripts, no docs/man/locales, no apt lists,
# and no mirror host written into the image (apt sources come in as a build secret).
set -eu
root="$1"
[ -d "$root/etc/apt" ] || { echo "tidy-rootfs: $root is not a debootstrap tree" >&2; exit 2; }

# Package scripts must not try to start services inside a build.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# Keep images small: dpkg skips docs, man pages and translations (copyright files stay).
cat > "$root/etc/dpkg/dpkg.cfg.d/dockyard-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* "$root/usr/share/lintian"

cat > "$root/etc/apt/apt.conf.d/dockyard-docker" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG

# Mirror host names stay out of the image; builds mount their sources list as a secret.
: > "$root/etc/apt/sources.list"
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb
rm -f "$root/var/log/"*.log "$root/var/log/apt/"* "$root/etc/machine-id" "$root/var/lib/dbus/machine-id"
: > "$root/etc/hostname"
: > "$root/etc/resolv.conf"
find "$root/var/cache/debconf" -name '*-old' -delete 2>/dev/null || true

install -m 755 "$(dirname "$0")/dockyard-apt-install" "$root/usr/local/sbin/dockyard-apt-install"
