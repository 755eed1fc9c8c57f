"""Which Pulumi CLI and plugins dockyard's driver runs, and how they got there.

- The CLI: `pulumi` on PATH (the official one a user installs), else the one
  `engine/pulumi-tools.sh` builds from Go modules (built on first use when Go is there).
- The plugins: the versions the installed Python SDKs ask for. With the official CLI
  they are downloaded as usual. When that is impossible (no network, or our CLI), the
  driver uses a Pulumi home of its own, so nothing it installs reaches ~/.pulumi:
  docker (bridged from the Terraform provider pulumi-docker wraps) and kubernetes, built
  from Go modules, and stand-ins of our own for docker-build and random (engine/plugins/),
  whose providers cannot be built here. The first lines of every command say which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pulumi import automation as auto

# plugin name -> the Python SDK package whose version it must match
PLUGIN_SDKS = {"docker": "pulumi-docker", "kubernetes": "pulumi-kubernetes",
               "docker-build": "pulumi-docker-build", "random": "pulumi-random"}  # fmt: skip
BUILT_FROM_GO = {"docker": "pulumi-resource-docker", "kubernetes": "pulumi-resource-kubernetes"}
STAND_INS = ("docker-build", "random")  # engine/plugins/standin_<name>.py
DOWNLOAD_TIMEOUT_SECONDS = 120


class ToolingError(Exception):
    """The CLI or a plugin cannot be had: what was tried and what to do."""


@dataclass(frozen=True)
class Tools:
    command: auto.PulumiCommand
    pulumi_home: str | None  # None: the CLI's default (~/.pulumi)
    env: dict[str, str]


def plugin_versions() -> dict[str, str]:
    return {plugin: metadata.version(sdk) for plugin, sdk in PLUGIN_SDKS.items()}


def tools_bin(project_dir: Path) -> Path:
    printed = subprocess.run(
        ["bash", str(project_dir / "engine/pulumi-tools.sh"), "--print"], capture_output=True, text=True, check=True
    )
    return Path(printed.stdout.strip())


def build_tools(project_dir: Path, say: Callable[[str], None]) -> Path:
    if shutil.which("go") is None:
        raise ToolingError(
            "no Pulumi CLI: install it (https://www.pulumi.com/docs/iac/download-install/), "
            "or install Go so engine/pulumi-tools.sh can build it from Go modules"
        )
    say(
        "building the Pulumi CLI and the docker and kubernetes providers from Go modules "
        "(engine/pulumi-tools.sh; about 20 minutes the first time on 2 cores, seconds afterwards)"
    )
    built = subprocess.run(["bash", str(project_dir / "engine/pulumi-tools.sh")], stdout=subprocess.PIPE, text=True)
    if built.returncode != 0:
        raise ToolingError("engine/pulumi-tools.sh failed: see its messages above")
    return Path(built.stdout.strip().splitlines()[-1])


def _ours(project_dir: Path, say: Callable[[str], None]) -> Path:
    """The bin/ directory of the CLI and providers built here, building them when missing."""
    bin_dir = tools_bin(project_dir)
    wanted = ["pulumi", *BUILT_FROM_GO.values()]
    if all((bin_dir / name).exists() for name in wanted):
        return bin_dir
    return build_tools(project_dir, say)


def _run(pulumi: Path, env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
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


def _installed_in(home: Path, plugin: str, version: str) -> bool:
    """Whether the plugin sits in `home` as `pulumi plugin install` lays it out (a directory
    check: `pulumi plugin ls` costs a second on every command)."""
    return (home / "plugins" / f"resource-{plugin}-v{version}" / f"pulumi-resource-{plugin}").exists()


def _install_ours(
    project_dir: Path, pulumi: Path, env: dict[str, str], versions: dict[str, str], bin_dir: Path
) -> None:
    home = Path(env["PULUMI_HOME"])
    for plugin, binary in BUILT_FROM_GO.items():
        if not _installed_in(home, plugin, versions[plugin]):
            installed = _run(
                pulumi, env, "plugin", "install", "resource", plugin, versions[plugin], "--file", str(bin_dir / binary)
            )
            if installed.returncode != 0:
                raise ToolingError(
                    f"installing the {plugin} {versions[plugin]} plugin built here failed: {installed.stderr.strip()}"
                )
    # The stand-ins are small wrappers naming this checkout's interpreter: always reinstalled.
    stand_ins = subprocess.run(
        ["bash", str(project_dir / "engine/plugins/install.sh"), str(pulumi.parent), sys.executable],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if stand_ins.returncode != 0:
        raise ToolingError(f"installing the stand-in plugins failed: {(stand_ins.stdout + stand_ins.stderr).strip()}")


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
    # The policy pack (policy/run-pack) runs with this interpreter unless policy/venv exists.
    env = {"PULUMI_SKIP_UPDATE_CHECK": "true", "DOCKYARD_POLICY_PYTHON": sys.executable}
    ours_bin = tools_bin(project_dir)
    official = _official_cli(ours_bin)
    if official:
        pulumi = official
        if _downloaded(pulumi, env, versions):
            say(f"Pulumi CLI {pulumi} with the official plugins ({_listing(versions)})")
            return Tools(auto.PulumiCommand(root=str(pulumi.parent.parent), skip_version_check=True), None, env)
        say("the official plugins cannot be downloaded: using the ones built here, in a Pulumi home of their own")
    bin_dir = _ours(project_dir, say)
    pulumi = official or bin_dir / "pulumi"
    home = own_home()
    home.mkdir(parents=True, exist_ok=True)
    # Only the installed plugins, at the versions the SDKs ask for: not the binaries beside the CLI.
    env = {
        **env,
        "PULUMI_HOME": str(home),
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
    }
    _install_ours(project_dir, pulumi, env, versions, bin_dir)
    say(f"Pulumi CLI {pulumi} (home {home})")
    say(f"plugins built here from Go modules: {_listing({p: versions[p] for p in BUILT_FROM_GO})}")
    say(
        f"STAND-IN plugins (their providers cannot be built here; engine/plugins/): "
        f"{_listing({p: versions[p] for p in STAND_INS})}"
    )
    return Tools(auto.PulumiCommand(root=str(pulumi.parent.parent), skip_version_check=True), str(home), env)


def _listing(versions: dict[str, str]) -> str:
    return ", ".join(f"{plugin} {version}" for plugin, version in versions.items())
