"""The tools built from upstream source (machine/toolchain/upstream-plugins/build.sh, from the archives in
../shared/upstream) are the released ones: the docker-build and random plugins serve exactly the
schema their release checked in (the SDKs the program pins were generated from it), at the
version those SDKs ask the engine for; the Python language host sits beside the CLI binary,
where the CLI looks for it.

Skips with the reason when the tools are not built; fails instead under CI=true.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
UPSTREAM = Path(os.environ.get("DOCKYARD_UPSTREAM") or PROJECT_DIR.parent / "shared" / "upstream")
# plugin -> (its SDK package, the archive, the released schema inside it)
RELEASES = {
    "docker-build": (
        "pulumi-docker-build",
        "pulumi-docker-build-v0.0.22.tar.gz",
        "provider/cmd/pulumi-resource-docker-build/schema.json",
    ),
    "random": (
        "pulumi-random",
        "pulumi-random-v4.21.1.tar.gz",
        "provider/cmd/pulumi-resource-random/schema.json",
    ),
}


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    out = subprocess.run(["bash", str(PROJECT_DIR / "machine" / "toolchain" / "pulumi-tools.sh"), "--print"],
                         capture_output=True, text=True, check=True)
    found = Path(out.stdout.strip())
    require((found / "pulumi").exists(), f"the Pulumi tools are not built at {found} (run machine/toolchain/pulumi-tools.sh)")
    return found


def released_schema(archive: str, member: str) -> dict:
    require((UPSTREAM / archive).exists(), f"no {archive} in {UPSTREAM} (the upstream source archives)")
    with tarfile.open(UPSTREAM / archive) as tar:
        (path,) = [name for name in tar.getnames() if name.endswith("/" + member)]
        return json.load(tar.extractfile(path))


def served_schema(bin_dir: Path, plugin: str, home: Path) -> dict:
    binary = bin_dir / f"pulumi-resource-{plugin}"
    require(os.access(binary, os.X_OK), f"{binary.name} is not built (run machine/toolchain/pulumi-tools.sh)")
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    proc = subprocess.run([str(bin_dir / "pulumi"), "package", "get-schema", str(binary)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"pulumi package get-schema {binary.name} failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


@pytest.mark.parametrize("plugin", sorted(RELEASES))
def test_the_plugin_serves_its_released_schema_at_the_sdks_version(plugin, bin_dir, tmp_path):
    sdk, archive, member = RELEASES[plugin]
    served = served_schema(bin_dir, plugin, tmp_path)
    released = released_schema(archive, member)
    assert served.pop("version") == metadata.version(sdk), f"requirements.txt pins {sdk} at another release"
    released.pop("version", None)
    # The whole package: every resource, type, config key and language setting, as released.
    assert sorted(served) == sorted(released)
    for section in sorted(released):
        assert served[section] == released[section], f"{plugin}: schema section '{section}' differs"


def test_the_language_host_sits_beside_the_cli(bin_dir):
    # The CLI looks beside its own binary with symlinks resolved, then on PATH (with a warning).
    cli = (bin_dir / "pulumi").resolve()
    for name in ("pulumi-language-python", "pulumi-language-python-exec"):
        beside = cli.parent / name
        assert os.access(beside, os.X_OK), f"no executable {name} beside {cli}"
    assert not (bin_dir / "pulumi").is_symlink() and not (bin_dir / "pulumi-language-python").is_symlink()
