"""Which Pulumi CLI and plugins dockyard's driver runs, and how they got there.

- The CLI: `pulumi` on PATH (the official one a user installs), else the one
  `machine/toolchain/pulumi-tools.sh` builds from Go modules (built on first use when Go is there),
  with the Python language host beside it (built from its upstream source).
- The plugins: the versions the installed Python SDKs ask for. With the official CLI
  they are downloaded as usual. When that is impossible (no network, or our CLI), the
  driver uses a Pulumi home of its own, so nothing it installs reaches ~/.pulumi, with
  the plugins machine/toolchain/pulumi-tools.sh builds: docker (bridged from the Terraform provider
  pulumi-docker wraps) and kubernetes from Go modules, docker-build and random from their
  upstream source (../shared/upstream). The first lines of every command say which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# plugin name -> the Python SDK package whose version it must match
PLUGIN_SDKS = {"docker": "pulumi-docker", "kubernetes": "pulumi-kubernetes",
               "docker-build": "pulumi-docker-build", "random": "pulumi-random"}  # fmt: skip
# plugin name -> the binary machine/toolchain/pulumi-tools.sh builds for it
BUILT_HERE = {plugin: f"pulumi-resource-{plugin}" for plugin in PLUGIN_SDKS}
LANGUAGE_HOST = "pulumi-language-python"  # found by the CLI beside its own binary
DOWNLOAD_TIMEOUT_SECONDS = 120


class ToolingError(Exception):
    """The CLI or a plugin cannot be had: what was tried and what to do."""


@dataclass(frozen=True)
class Tools:
    pulumi: Path  # the CLI binary
    env: dict[str, str]  # what every pulumi command runs with, on top of the caller's environment


def plugin_versions() -> dict[str, str]:
    return {plugin: metadata.version(sdk) for plugin, sdk in PLUGIN_SDKS.items()}


def tools_bin(project_dir: Path) -> Path:
    printed = subprocess.run(  # nosec B603 B607 -- argv list, no shell; bash runs this checkout's own script
        ["bash", str(project_dir / "machine/toolchain/pulumi-tools.sh"), "--print"], capture_output=True, text=True, check=True
    )
    return Path(printed.stdout.strip())


def build_tools(project_dir: Path, say: Callable[[str], None]) -> Path:
    if shutil.which("go") is None:
        raise ToolingError(
            "no Pulumi CLI: install it (https://www.pulumi.com/docs/iac/download-install/), "
            "or install Go so machine/toolchain/pulumi-tools.sh can build it from Go modules"
        )
    say(
        "building the Pulumi CLI, its Python language host and the providers from Go modules and "
        "../shared/upstream (machine/toolchain/pulumi-tools.sh; about 30 minutes the first time on 2 cores, "
        "seconds afterwards)"
    )
    built = subprocess.run(["bash", str(project_dir / "machine/toolchain/pulumi-tools.sh")], stdout=subprocess.PIPE, text=True)  # nosec B603 B607 -- argv list, no shell; bash runs this checkout's own script
    if built.returncode != 0:
        raise ToolingError("machine/toolchain/pulumi-tools.sh failed: see its messages above")
    return Path(built.stdout.strip().splitlines()[-1])


def _ours(project_dir: Path, say: Callable[[str], None]) -> Path:
    """The bin/ directory of the CLI and providers built here, building them when missing."""
    bin_dir = tools_bin(project_dir)
    wanted = ["pulumi", LANGUAGE_HOST, *BUILT_HERE.values()]
    if all((bin_dir / name).exists() for name in wanted):
        return bin_dir
    return build_tools(project_dir, say)


def _run(pulumi: Path, env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603 -- argv list, no shell; the CLI this module chose
        [str(pulumi), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout
    )


def _installed(pulumi: Path, env: dict[str, str]) -> set[tuple[str, str]]:
    listed = _run(pulumi, env, "plugin", "ls", "--json")
    if listed.returncode != 0:
        return set()
    return {(p["name"], p["version"]) for p in json.loads(listed.stdout or "[]") if p.get("kind") == "resource"}


def _downloaded(pulumi: Path, env: dict[str, str], versions: dict[str, str]) -> bool:
    """Whether every plugin is installed in the default home, downloading what is missing."""
    have = _installed(pulumi, env)
    for plugin, version in versions.items():
        if (plugin, version) in have:
            continue
        try:
            result = _run(
                pulumi, env, "plugin", "install", "resource", plugin, version, timeout=DOWNLOAD_TIMEOUT_SECONDS
            )
        except subprocess.TimeoutExpired:
            return False
        if result.returncode != 0:
            return False
    return True


def _built_mark(binary: Path) -> str:
    """What identifies one build of a plugin binary (a rebuild changes it) without reading it."""
    stat = binary.stat()
    return f"{binary.resolve()} {stat.st_size} {stat.st_mtime_ns}\n"


def _plugin_dir(home: Path, plugin: str, version: str) -> Path:
    return home / "plugins" / f"resource-{plugin}-v{version}"


def _install_ours(pulumi: Path, env: dict[str, str], versions: dict[str, str], bin_dir: Path) -> None:
    """Install each plugin built here at the version its SDK asks for, unless that very build is
    installed already (a mark beside it: `pulumi plugin ls` costs a second on every command)."""
    home = Path(env["PULUMI_HOME"])
    for plugin, binary in BUILT_HERE.items():
        installed = _plugin_dir(home, plugin, versions[plugin])
        mark = installed / ".dockyard-built"
        wanted = _built_mark(bin_dir / binary)
        if (installed / binary).exists() and mark.exists() and mark.read_text() == wanted:
            continue
        done = _run(
            pulumi, env, "plugin", "install", "resource", plugin, versions[plugin], "--reinstall",
            "--file", str(bin_dir / binary),
        )  # fmt: skip
        if done.returncode != 0:
            raise ToolingError(f"installing the {plugin} {versions[plugin]} plugin built here failed: {done.stderr.strip()}")
        mark.write_text(wanted)


def own_home() -> Path:
    root = (
        Path("/var/cache/dockyard")
        if os.geteuid() == 0
        else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dockyard"
    )
    return root / "pulumi-home"


def _official_cli(ours_bin: Path) -> Path | None:
    """`pulumi` on PATH unless it is the one built here."""
    found = shutil.which("pulumi")
    if found is None or Path(found).resolve() == (ours_bin / "pulumi").resolve():
        return None
    return Path(found)


def prepare(project_dir: Path, say: Callable[[str], None]) -> Tools:
    """The CLI and plugins for this run, saying which ones run and why."""
    versions = plugin_versions()
    env = {"PULUMI_SKIP_UPDATE_CHECK": "true"}
    ours_bin = tools_bin(project_dir)
    official = _official_cli(ours_bin)
    if official:
        if _downloaded(official, env, versions):
            say(f"Pulumi CLI {official} with the official plugins ({_listing(versions)})")
            return Tools(official, env)
        say("the official plugins cannot be downloaded: using the ones built here, in a Pulumi home of their own")
    bin_dir = _ours(project_dir, say)
    pulumi = official or bin_dir / "pulumi"
    home = own_home()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **env,
        "PULUMI_HOME": str(home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        # Only the installed plugins, at the versions the SDKs ask for: not the binaries beside the CLI.
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        # `pulumi` in anything the CLI starts (and in `make env`) is this one.
        "PATH": f"{pulumi.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    _install_ours(pulumi, env, versions, bin_dir)
    say(f"Pulumi CLI {pulumi} (home {home}), Python language host beside it")
    say(f"plugins built here (machine/toolchain/pulumi-tools.sh): {_listing(versions)}")
    return Tools(pulumi, env)


def _listing(versions: dict[str, str]) -> str:
    return ", ".join(f"{plugin} {version}" for plugin, version in versions.items())
