"""A trial stack on this machine: a copy of the checkout with a dev stack of its own (unique
stack, image tag, containers, network and volumes), dockyard's air-gapped images
(machine/base_images/bases.sh), free loopback ports and a local file backend. Its commands run as a user
types them: plain `pulumi` in the copy (`Project.pulumi`, with the CLI, language host and plugins
the driver prepares), or `make up`'s driver (`Project.drive`). The real test tier and
bench/stack.py use it."""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from components.config.catalog_file import catalog_path, load_catalog
from components.core.labels import STACK_LABEL
from machine.base_images import air_gapped

if TYPE_CHECKING:
    import tooling  # scripts/tooling.py: imported from scripts/ at run time, as make up's driver does

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # the project's virtualenv, which runs the driver
# The virtualenvs a copy shares with this checkout (Pulumi.yaml's and PulumiPolicy.yaml's
# `virtualenv`): the language host runs the program and the policy pack with them.
SHARED_VIRTUALENVS = (".venv", "policy/venv")
def _run(args: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # nosec B603 -- argv list, no shell: the literal pulumi/make commands a test runs


# Host ports for trial stacks are written into the config long before Docker binds them (after the
# builds). One from the kernel's ephemeral range (what a bind to port 0 gets) could meanwhile be
# handed to anything binding port 0, as the Pulumi engine's and plugins' gRPC servers do: a CI run
# failed on "bind: address already in use". So they come from below that range, above the fixed
# ports this machine's services use (the cluster's 22379-22380 and 26443, the registry's 5000).
TRIAL_PORTS_FLOOR = 27000
_handed_out: set[int] = set()  # never the same port twice in one process


def ephemeral_ports() -> range:
    """The ports the kernel picks from for a bind to port 0 (net.ipv4.ip_local_port_range)."""
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return range(int(low), int(high) + 1)


def free_port() -> int:
    """A loopback port nothing listens on now, that no bind to port 0 can take before it is used."""
    candidates = [p for p in range(TRIAL_PORTS_FLOOR, ephemeral_ports().start) if p not in _handed_out]
    if not candidates:  # an ephemeral range reaching below the floor: take the kernel's pick
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            return port
    for port in random.sample(candidates, len(candidates)):  # nosec B311 -- shuffles candidate ports, not a secret
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # in use
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free 127.0.0.1 port in {TRIAL_PORTS_FLOOR}-{ephemeral_ports().start - 1}")


def copy_checkout(destination: Path) -> Path:
    """The checkout as it is (tracked and new files, nothing ignored): a fresh clone of the
    working tree, which the tests may edit."""
    listed = _run(
        ["git", "-C", str(PROJECT_DIR), "ls-files", "-z", "--cached", "--others", "--exclude-standard"], timeout=60
    )
    for relative in filter(None, listed.stdout.split("\0")):
        source = PROJECT_DIR / relative
        if not source.is_file():
            continue  # deleted in the working tree
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The copy is a git checkout too: the program tags images with the commit they come from.
    _run(["git", "init", "-q", str(destination)], timeout=60)
    _run(["git", "-C", str(destination), "add", "-A"], timeout=60)
    _run(
        [
            "git",
            "-C",
            str(destination),
            "-c",
            "user.name=real tier",
            "-c",
            "user.email=real@tier.invalid",
            "commit",
            "-qm",
            "copy",
        ],
        timeout=60,
    )
    return destination


def link_virtualenvs(copy: Path) -> None:
    """The copy runs with this checkout's virtualenvs (git ignores them, so they are not copied)."""
    for relative in SHARED_VIRTUALENVS:
        source = PROJECT_DIR / relative
        if not (source / "bin" / "python").exists():
            raise RuntimeError(f"no virtualenv at {source}: run `make deps policy/venv/.installed`")
        (copy / relative).symlink_to(source, target_is_directory=True)


@cache
def cli_tools() -> tooling.Tools:
    """The CLI and the environment `make up` runs it with (scripts/tooling.py), prepared once."""
    sys.path.insert(0, str(PROJECT_DIR / "scripts"))
    import tooling

    return tooling.prepare(PROJECT_DIR, say=lambda message: print(f"trial_stack: {message}", file=sys.stderr))


def air_gapped_stack_config(stack: str) -> dict[str, Any]:
    """The checked-in dev settings (Pulumi.dev.yaml) with the air-gapped settings `make up` uses on
    a machine that cannot pull public images (machine/base_images/air_gapped.py), a tag unique to the run and
    free loopback ports: the program itself does not change."""
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    bases, runs = air_gapped.wanted_images(PROJECT_DIR, config)
    config = air_gapped.merged(config, air_gapped.settings(PROJECT_DIR, stack, bases, runs))
    ports = {
        spec.name: {"hostPort": free_port()}
        for spec in load_catalog(catalog_path(PROJECT_DIR)).services
        if spec.public and spec.port
    }
    return air_gapped.merged(config, {"dockyard:images": {"tag": tag_of(stack)}, "dockyard:services": ports})


@dataclass
class Driven:
    """One run of the driver: its exit code, what it printed, how long it took."""

    returncode: int
    output: str  # stdout and stderr
    seconds: float
    stdout: str = ""


@dataclass
class Project:
    """A copy of the checkout with a stack of its own and a local file backend."""

    dir: Path
    stack: str
    state: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"dockyard-{self.stack}"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load((self.dir / f"Pulumi.{self.stack}.yaml").read_text())["config"]
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        """The stack file's config becomes `config`; its secrets (set with `pulumi config set
        --secret`) and their encryption salt stay."""
        path = self.dir / f"Pulumi.{self.stack}.yaml"
        document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        secrets = {k: v for k, v in (document.get("config") or {}).items() if isinstance(v, dict) and "secure" in v}
        document["config"] = {**config, **{k: v for k, v in secrets.items() if k not in config}}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def pulumi(self, *args: str, timeout: float = 1800) -> Driven:
        """`pulumi ARGS --stack STACK`, as a user types it in the copy."""
        tools = cli_tools()
        started = time.monotonic()
        proc = _run(
            [str(tools.pulumi), *args, "--stack", self.stack],
            timeout=timeout,
            env={**os.environ, **tools.env, **self.env},
            cwd=self.dir,
        )
        return Driven(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started, proc.stdout)

    def last_changes(self) -> dict[str, int]:
        """The resource changes of the stack's latest update, refresh or destroy (`pulumi stack history`)."""
        driven = self.pulumi("stack", "history", "--json", "--page-size", "1")
        if driven.returncode != 0:  # not an assert: python -O must not skip it
            raise AssertionError(driven.output[-3000:])
        history = json.loads(driven.stdout)
        return history[0].get("resourceChanges") or {}

    def drive(self, *args: str, timeout: float = 1800) -> Driven:
        started = time.monotonic()
        proc = _run(
            [PYTHON, str(self.dir / "scripts/dockyard.py"), *args, "--stack", self.stack],
            timeout=timeout,
            env={**os.environ, **self.env},
            cwd=self.dir,
        )
        return Driven(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs (`pulumi stack output --json`), secret ones left out."""
        driven = self.pulumi("stack", "output", "--json")
        if driven.returncode != 0:  # not an assert: python -O must not skip it
            raise AssertionError(driven.output[-3000:])
        return {key: value for key, value in json.loads(driven.stdout).items() if value != "[secret]"}


def tag_of(stack: str) -> str:
    """The image tag (and APP_VERSION) of a trial stack's builds."""
    return f"0.0.0-{stack}"


def copied_project(tmp: Path, stack: str, share_virtualenvs: bool = True) -> Project:
    """A copy of the checkout under `tmp` with a file backend of its own, driving `stack`; with
    this checkout's virtualenvs unless `make` is to make its own."""
    project = Project(copy_checkout(tmp / "project"), stack, tmp / "state")
    if share_virtualenvs:
        link_virtualenvs(project.dir)
    project.state.mkdir()
    project.env = {
        "PULUMI_BACKEND_URL": f"file://{project.state}",
        "PULUMI_CONFIG_PASSPHRASE": "real-tier",  # nosec B105 -- the passphrase of a throwaway local test backend, deleted with it
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    return project


def new_project(tmp: Path, share_virtualenvs: bool = True) -> Project:
    stack = f"real{secrets.token_hex(3)}"
    project = copied_project(tmp, stack, share_virtualenvs)
    project.write_config(air_gapped_stack_config(stack))
    return project


@contextmanager
def initialised_stack(tmp: Path) -> Iterator[Project]:
    """A new trial dev stack made with a plain `pulumi stack init`; afterwards `make down purge=1`'s
    driver and whatever the stack left on the engine remove it all."""
    project = new_project(tmp)
    initialised = project.pulumi("stack", "init")
    if initialised.returncode != 0:
        raise RuntimeError(f"pulumi stack init {project.stack}: {initialised.output[-2000:]}")
    try:
        yield project
    finally:
        project.drive("down", "--purge", timeout=600)
        remove_leftovers(project.stack)


def remove_leftovers(stack: str) -> None:
    """Whatever the stack left on the engine, by its label and names: only what this run made."""
    label = f"label={STACK_LABEL}={stack}"
    for kind, listing in (
        ("container", ["ps", "-aq"]),
        ("network", ["network", "ls", "-q"]),
        ("volume", ["volume", "ls", "-q"]),
    ):
        found = _run(["docker", *listing, "--filter", label], timeout=60).stdout.split()
        if found:
            remove = ["rm", "-f", "-v"] if kind == "container" else [kind, "rm"]  # -v: their anonymous volumes too
            _run(["docker", *remove, *found], timeout=120)
    # By the version label (the run's own tag): also takes the `git-<rev>` tags of the copy's commits.
    images = _run(
        ["docker", "images", "-q", "--filter", f"label=org.opencontainers.image.version={tag_of(stack)}"], timeout=60
    ).stdout.split()
    if images:
        _run(["docker", "rmi", "-f", *set(images)], timeout=120)
    # What the stack pushed to the loopback registry (its bases, its build cache).
    from testing.trial_cluster import delete_repository_tags, registry_repositories

    for repository in registry_repositories(f"dockyard-{stack}/"):
        delete_repository_tags(repository)
