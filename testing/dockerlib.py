"""Small helpers for the engine tier and the image benchmark (bench/images.py): run Debian's
docker client, label and clean up what tests create, wait for health, and read images (config,
history, per-layer file lists). Standard library only."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCKER = shutil.which("docker") or "docker"  # any client >= 25 (machine/provision/docker-packages.sh)
PROJECT_DIR = Path(__file__).resolve().parents[1]
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TEST_LABEL = "dockyard.test"  # every container/volume/network a test makes carries it
SESSION = f"engine-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class DockerError(RuntimeError):
    pass


def docker(*args: str, check: bool = True, timeout: float = 600, input: str | None = None) -> str:
    """Run `docker ARGS`, return stdout; raise with the command and its stderr on failure."""
    proc = subprocess.run(  # nosec B603 -- argv list, no shell; docker found by shutil.which
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    if check and proc.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def docker_proc(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS` and hand back the process (for tests that expect a failure)."""
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)  # nosec B603 -- argv list, no shell; docker found by shutil.which


def label_args() -> list[str]:
    return ["--label", f"{TEST_LABEL}={SESSION}"]


def unique(name: str) -> str:
    return f"dockyard-test-{name}-{uuid.uuid4().hex[:8]}"


def cleanup_session(session: str = SESSION) -> None:
    """Remove every container (with its anonymous volumes), volume and network of a session."""
    flt = f"label={TEST_LABEL}={session}"
    ids = docker("ps", "-aq", "--filter", flt, check=False).split()
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
    vols = docker("volume", "ls", "-q", "--filter", flt, check=False).split()
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)
    nets = docker("network", "ls", "-q", "--filter", flt, check=False).split()
    if nets:
        docker("network", "rm", *nets, check=False)


def hardened_args(uid: str, tmpfs: tuple[str, ...] = ("/tmp",), memory: str = "512m") -> list[str]:  # nosec B108 -- /tmp inside the container: a tmpfs mount, not the host's /tmp
    """The flags every runtime container must tolerate (conventions: runtime images)."""
    args = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", uid, "--memory", memory]  # fmt: skip
    for path in tmpfs:
        args += ["--tmpfs", path]
    return args


def run_container(image: str, *args: str, name: str, run_args: Sequence[str] = ()) -> str:
    """Start a labelled container detached; returns its name."""
    docker("run", "-d", "--name", name, *label_args(), *run_args, image, *args)
    return name


def inspect(obj: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(docker("inspect", obj))
    return found[0]


def host_port(container: str, port: int) -> int:
    """The 127.0.0.1 port a container port was published on."""
    out = docker("port", container, f"{port}/tcp").split()
    for binding in out:
        host, _, p = binding.rpartition(":")
        if host == "127.0.0.1":
            return int(p)
    raise DockerError(f"{container}:{port} is not published on 127.0.0.1 (got {out})")


def wait_health(container: str, timeout: float = 120) -> str:
    """Poll the health status until healthy/unhealthy/exited or the bound; return the last state."""
    deadline = time.monotonic() + timeout
    status = "unknown"
    while time.monotonic() < deadline:
        state = inspect(container)["State"]
        if not state.get("Running"):
            return f"exited({state.get('ExitCode')})"
        status = str((state.get("Health") or {}).get("Status", "none"))
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(1)
    return f"timeout({status})"


def wait_exit(container: str, timeout: float = 120) -> int:
    out = docker("wait", container, timeout=timeout)
    return int(out.strip())


def logs(container: str) -> str:
    proc = subprocess.run([DOCKER, "logs", "--tail", "80", container], capture_output=True, text=True)  # nosec B603 -- argv list, no shell; docker found by shutil.which
    return proc.stdout + proc.stderr


def image_config(ref: str) -> dict[str, Any]:
    config: dict[str, Any] = inspect(ref)["Config"]
    return config


def image_size(ref: str) -> int:
    return int(inspect(ref)["Size"])


def image_layers(ref: str) -> list[str]:
    layers: list[str] = inspect(ref)["RootFS"]["Layers"]
    return layers


def build_image(context: Path, tag: str, *, target: str, build_args: dict[str, str], timeout: float = 1200) -> str:
    """BuildKit build with the machine CA bundle as secret `ca_bundle`; returns the build log."""
    cmd = ["build", "--progress=plain", "--target", target, "-t", tag, "-f", str(context / "Dockerfile")]
    for k, v in build_args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    if CA_BUNDLE.is_file():
        cmd += ["--secret", f"id=ca_bundle,src={CA_BUNDLE}"]
    proc = subprocess.run(  # nosec B603 -- argv list, no shell; docker found by shutil.which
        [DOCKER, *cmd, str(context)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise DockerError(f"building {context} (target {target}) failed:\n{out[-6000:]}")
    return out


@dataclass(frozen=True)
class LayerFile:
    layer: int  # index in RootFS.Layers
    path: str  # without leading "./" or "/"
    size: int
    is_file: bool


def layer_files(ref: str) -> list[LayerFile]:
    """Every entry of every layer, read from `docker save` (20.10 layout: <id>/layer.tar)."""
    files: list[LayerFile] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-save-") as tmp:
        tar_path = Path(tmp) / "image.tar"
        docker("save", "-o", str(tar_path), ref)
        with tarfile.open(tar_path) as outer:
            manifest_file = outer.extractfile("manifest.json")
            if manifest_file is None:
                raise DockerError(f"`docker save {ref}` wrote no manifest.json")
            manifest = json.load(manifest_file)
            for idx, layer_name in enumerate(manifest[0]["Layers"]):
                member = outer.extractfile(layer_name)
                with tarfile.open(fileobj=member, mode="r|*") as layer:
                    for entry in layer:
                        path = entry.name.removeprefix("./").lstrip("/")
                        files.append(LayerFile(idx, path, entry.size, entry.isfile()))
    return files


BIN_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin", "opt/venv/bin")
SHELLS_AND_PACKAGE_MANAGERS = frozenset(
    {"sh", "bash", "dash", "ash", "busybox", "apt", "apt-get", "dpkg", "apk", "pip", "pip3", "npm", "npx", "corepack"}
)


def programs_in_path(files: list[LayerFile], names: frozenset[str] = SHELLS_AND_PACKAGE_MANAGERS) -> list[str]:
    """Paths of entries named like a shell or package manager in a PATH directory."""
    return [f.path for f in files if f.path.rpartition("/")[0] in BIN_DIRS and f.path.rpartition("/")[2] in names]


def history_commands(ref: str) -> list[str]:
    return docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref).splitlines()


# Values that look like credentials: NAME=value where NAME mentions a secret and value is not
# empty or a file reference (the *_FILE convention is fine).
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Z0-9_]*(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)[A-Z0-9_]*)=(\S+)"
)
SECRET_MATERIAL = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,}")
URL_WITH_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]+:[^/\s@]+@")


def secret_looking(texts: list[str]) -> list[str]:
    """The texts that look like they hold a credential value."""
    bad = []
    for text in texts:
        for m in SECRET_ASSIGNMENT.finditer(text):
            name, value = m.group(1), m.group(3).strip("\"'")
            if name.upper().endswith("_FILE") or value in ("", '""', "''") or value.startswith("$"):
                continue
            bad.append(text)
        if SECRET_MATERIAL.search(text) or URL_WITH_PASSWORD.search(text):
            bad.append(text)
    return bad
