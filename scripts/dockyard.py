"""dockyard's driver: `make up|preview|down|refresh|urls|env` run the plain `pulumi` commands a
user would type, each printed before it runs, after doing what plain `pulumi` cannot:

- find the CLI and the plugins, or build them here when they cannot be downloaded (tooling.py),
  and install the plugins at the versions the program's SDKs ask for;
- on a machine that cannot pull a dev stack's public images, build dockyard's air-gapped ones
  and pass `--config-file` with settings that use them (air_gapped.py);
- `down` keeps the data volumes *and* the generated credentials that open them (a targeted
  `pulumi destroy`); `down --purge` destroys everything and removes the volumes too.

    python scripts/dockyard.py up [--stack dev] [--no-refresh] [--policy-pack [--policy-config FILE]]
    python scripts/dockyard.py preview [--stack dev] [--policy-pack [--policy-config FILE]] [--expect-no-changes]
    python scripts/dockyard.py down [--stack dev] [--purge]
    python scripts/dockyard.py refresh|outputs [--stack dev]
    python scripts/dockyard.py env      # export lines: plain `pulumi` then runs what `make up` runs

The backend and the passphrase come from PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE (the
Makefile sets a local file backend and an empty passphrase for dev).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tooling  # noqa: E402  (scripts/ is not a package: the driver runs as a script)
from build_failures import BuildFailures  # noqa: E402

PROJECT_DIR = Path(os.environ.get("DOCKYARD_PROJECT_DIR") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(PROJECT_DIR))  # the program's package: its label keys
from components.core.labels import STACK_LABEL  # noqa: E402
from machine.base_images import air_gapped  # noqa: E402

# What `down` keeps besides the data volumes: the generated credentials that open them.
# A new generated database password would not open a volume initialised with the old one.
KEPT_ON_DOWN_TYPES = ("random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes")
POLICY_PACK = "policy"  # the pack's folder, as `pulumi preview --policy-pack policy` takes it


class CommandFailed(Exception):
    """A pulumi command exited non-zero (its own output says why)."""


def say(message: str) -> None:
    print(f"dockyard: {message}", file=sys.stderr, flush=True)


class Pulumi:
    """The CLI as a user types it, in the project directory, with the tools' environment."""

    def __init__(self, tools: tooling.Tools, stack: str) -> None:
        self.tools, self.stack = tools, stack

    def run(self, *args: str, capture: bool = False) -> str:
        """Run `pulumi ARGS -s STACK`; printed first unless captured. Returns stdout when captured."""
        argv = ["pulumi", *args, "--stack", self.stack]
        if not capture:
            print(f"$ {shlex.join(argv)}", flush=True)
            return self._passed_through(argv)
        done = subprocess.run(  # nosec B603 -- argv list, no shell: the pulumi CLI tooling.py resolved
            [str(self.tools.pulumi), *argv[1:]],
            cwd=PROJECT_DIR,
            env={**os.environ, **self.tools.env},
            stdout=subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            raise CommandFailed(shlex.join(argv))
        return done.stdout or ""

    def _passed_through(self, argv: list[str]) -> str:
        """Its output, passed on line by line as it comes (pulumi's line display, as in CI), and read
        for failed image builds, which are then said once more, condensed (build_failures.py): the
        failing step and its last lines, which the provider's one-line error leaves out."""
        failures = BuildFailures()
        proc = subprocess.Popen(  # nosec B603 -- argv list, no shell: the pulumi CLI tooling.py resolved
            [str(self.tools.pulumi), *argv[1:]],
            cwd=PROJECT_DIR,
            env={**os.environ, **self.tools.env},
            stdout=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        output = proc.stdout
        if output is None:  # stdout=PIPE always opens it: this only tells the type checker
            raise RuntimeError("pulumi's output pipe was not opened")
        while True:
            try:  # Ctrl-C reaches pulumi too, which cancels cleanly: keep passing its output on
                line = output.readline()
            except KeyboardInterrupt:
                continue
            if not line:
                break
            sys.stdout.write(line)
            sys.stdout.flush()
            failures.feed(line.rstrip("\n"))
        if proc.wait() != 0:
            for summary in failures.summary():
                say(summary)
            raise CommandFailed(shlex.join(argv))
        return ""


def select_stack(pulumi: Pulumi) -> None:
    """The stack, created when new (`pulumi stack select --create`): later plain commands use it."""
    argv = ["stack", "select", "--create", pulumi.stack]
    done = subprocess.run(  # nosec B603 -- argv list, no shell: the pulumi CLI tooling.py resolved
        [str(pulumi.tools.pulumi), *argv], cwd=PROJECT_DIR, env={**os.environ, **pulumi.tools.env},
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise CommandFailed(shlex.join(["pulumi", *argv]))


def policy_args(stack_name: str, args: argparse.Namespace) -> list[str]:
    """`--policy-pack policy` and its config: the file given, else policy/config/<stack>.json when
    there is one (what the workflows pass as policyPacks/policyPackConfigs)."""
    if not args.policy_pack:
        return []
    config = args.policy_config or f"policy/config/{stack_name}.json"
    if args.policy_config is None and not (PROJECT_DIR / config).is_file():
        return ["--policy-pack", POLICY_PACK]
    return ["--policy-pack", POLICY_PACK, "--policy-pack-config", config]


def urns_to_destroy(pulumi: Pulumi) -> list[str]:
    """Every resource but the generated credentials (and what holds them): `down` keeps them
    beside the data volumes they open."""
    resources = json.loads(pulumi.run("stack", "export", capture=True)).get("deployment", {}).get("resources") or []
    kept = {r["urn"] for r in resources if r["type"] in KEPT_ON_DOWN_TYPES}
    parents = {r["urn"]: r.get("parent") for r in resources}
    for urn in list(kept):
        while parents.get(urn):
            urn = parents[urn]
            kept.add(urn)
    return [
        r["urn"]
        for r in resources
        if r["urn"] not in kept and r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    ]


def remove_stack_volumes(stack_name: str) -> None:
    listed = subprocess.run(  # nosec B603 B607 -- argv list, no shell; docker from PATH, as the user's shell finds it
        ["docker", "volume", "ls", "-q", "--filter", f"label={STACK_LABEL}={stack_name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    volumes = listed.stdout.split()
    if volumes:
        subprocess.run(["docker", "volume", "rm", *volumes], check=True, capture_output=True)  # nosec B603 B607 -- argv list, no shell; docker from PATH, as the user's shell finds it
    say(f"removed the data volumes: {', '.join(volumes) or 'none'}")


def stack_outputs(pulumi: Pulumi) -> dict[str, Any]:
    """The stack's outputs, secret ones left out (the CLI prints them as "[secret]"). Any: each
    output is whatever JSON the program exported."""
    outputs: dict[str, Any] = json.loads(pulumi.run("stack", "output", "--json", capture=True) or "{}")
    return {key: value for key, value in outputs.items() if value != "[secret]"}


def machine_config(pulumi: Pulumi) -> list[str]:
    """`--config-file` of the air-gapped settings when a dev stack's public images cannot be
    pulled here (air_gapped.py), else nothing: the stack file as it is."""
    overlay = air_gapped.config_file(PROJECT_DIR, pulumi.stack, say)
    return ["--config-file", str(overlay.relative_to(PROJECT_DIR))] if overlay else []


def stale_locks(stack_name: str) -> list[Path]:
    """Lock files of a local file backend left by a `pulumi` process of this machine that is gone
    (killed: SIGKILL, a closed terminal). Each holds {"pid", "hostname", …}. A live process's lock,
    or another machine's, is not stale: that command may still be running."""
    backend = os.environ.get("PULUMI_BACKEND_URL", "")
    if not backend.startswith("file://"):
        return []  # a service backend's lease expires by itself
    root = Path(backend.removeprefix("file://").split("?", 1)[0]) / ".pulumi" / "locks"
    stale = []
    for lock in sorted(root.glob(f"organization/*/{stack_name}/*.json")):
        try:
            holder = json.loads(lock.read_text())
            pid, host = int(holder["pid"]), str(holder["hostname"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if host == socket.gethostname() and not Path(f"/proc/{pid}").exists():
            stale.append(lock)
    return stale


def recover_interrupted(pulumi: Pulumi) -> None:
    """What an interrupted `up` leaves, handled with the CLI's own commands before the next one:
    the lock of a killed `pulumi` (`pulumi cancel`), and pending creates (`pulumi refresh
    --clear-pending-creates`): resources whose creation was under way when the CLI died, which
    plain `pulumi up` only warns about, every time. An object such a create did make is removed by
    the program when it is created again (components/targets/docker/leftovers.py); a volume is
    simply found again by its name."""
    if stale_locks(pulumi.stack):
        say("the stack's lock was left by a `pulumi` process that is gone (interrupted); removing it")
        pulumi.run("cancel", "--yes")
    deployment = json.loads(pulumi.run("stack", "export", capture=True) or "{}").get("deployment") or {}
    pending = [op for op in deployment.get("pending_operations") or [] if op.get("type") == "creating"]
    if pending:
        names = ", ".join(sorted(op["resource"]["urn"].rsplit("::", 1)[-1] for op in pending))
        say(f"an interrupted `up` left {len(pending)} pending create(s) ({names}); clearing them")
        pulumi.run("refresh", "--yes", "--skip-preview", "--clear-pending-creates", *machine_config(pulumi))


def up(pulumi: Pulumi, args: argparse.Namespace) -> None:
    recover_interrupted(pulumi)
    # --refresh: read what runs first, as `compose up` looks: a container stopped or removed outside
    # Pulumi, or a one-shot that failed, is created again. --skip-preview: `make up` is `--yes`.
    refresh = ["--refresh"] if args.refresh else []
    policy = policy_args(pulumi.stack, args)
    pulumi.run("up", "--yes", "--skip-preview", *refresh, *policy, *machine_config(pulumi))
    for service, url in sorted((stack_outputs(pulumi).get("urls") or {}).items()):
        print(f"  {service:<10} {url}")


def preview(pulumi: Pulumi, args: argparse.Namespace) -> None:
    flags = (["--expect-no-changes"] if args.expect_no_changes else []) + (["--refresh"] if args.refresh else [])
    pulumi.run("preview", *flags, *policy_args(pulumi.stack, args), *machine_config(pulumi))


def down(pulumi: Pulumi, args: argparse.Namespace) -> None:
    if args.purge:
        pulumi.run("destroy", "--yes", "--skip-preview")
        remove_stack_volumes(pulumi.stack)
        return
    targets = urns_to_destroy(pulumi)
    if targets:
        pulumi.run("destroy", "--yes", "--skip-preview", *(f"--target={urn}" for urn in targets))
    say("kept the data volumes and the generated credentials that open them; `make down purge=1` removes both")


def refresh(pulumi: Pulumi, args: argparse.Namespace) -> None:
    recover_interrupted(pulumi)
    pulumi.run("refresh", "--yes", "--skip-preview")


CONTAINER_TYPE = "docker:index/container:Container"
RUNNING_OUTPUTS = ("urls", "debug")  # addresses of containers: stale once `down` removed them


def outputs(pulumi: Pulumi, args: argparse.Namespace) -> None:
    """The stack's outputs; the containers' addresses only while the state holds containers (a
    targeted `destroy`, as `make down` runs, leaves the last `up`'s outputs in place)."""
    found = stack_outputs(pulumi)
    if any(key in found for key in RUNNING_OUTPUTS):
        resources = json.loads(pulumi.run("stack", "export", capture=True) or "{}").get("deployment", {})
        if not any(r.get("type") == CONTAINER_TYPE for r in resources.get("resources") or []):
            found = {key: value for key, value in found.items() if key not in RUNNING_OUTPUTS}
            say(f"stack '{pulumi.stack}' runs no containers now (after `make down`): `make up` starts them")
    print(json.dumps(found, indent=2))


def env(tools: tooling.Tools) -> None:
    """Export lines for a shell: `eval "$(make -s env)"`, then plain `pulumi` is what `make` runs."""
    names = ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE")
    for name, value in {**{n: os.environ[n] for n in names if n in os.environ}, **tools.env}.items():
        print(f"export {name}={shlex.quote(value)}")


def _changes(summary: dict[str, int] | None) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted((summary or {}).items())) or "no resources"


COMMANDS = {"up": up, "preview": preview, "down": down, "refresh": refresh, "outputs": outputs}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dockyard", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=sorted([*COMMANDS, "env"]))
    parser.add_argument("--stack", "-s", default=os.environ.get("STACK", "dev"))
    parser.add_argument("--purge", action="store_true", help="down: also remove the data volumes and credentials")
    parser.add_argument("--policy-pack", action="store_true", help="up/preview: with the policy pack")
    parser.add_argument(
        "--policy-config", metavar="FILE", help="up/preview: the pack's config (default policy/config/<stack>.json)"
    )
    parser.add_argument("--expect-no-changes", action="store_true", help="preview: fail on any change")
    parser.add_argument(
        "--no-refresh",
        dest="refresh",
        action="store_false",
        help="up/preview: do not read the resources' real state first",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    quiet = args.command in ("env", "outputs")  # what they print is read by programs
    try:
        tools = tooling.prepare(PROJECT_DIR, say=(lambda _: None) if quiet else say)
        if args.command == "env":
            env(tools)
            return 0
        pulumi = Pulumi(tools, args.stack)
        select_stack(pulumi)
        COMMANDS[args.command](pulumi, args)
    except (tooling.ToolingError, air_gapped.AirGapError) as error:
        say(str(error))
        return 2
    except CommandFailed as error:
        say(f"`{error}` failed ({time.monotonic() - started:.1f}s): see the lines above")
        return 1
    if not quiet:
        say(f"{args.command} of stack '{args.stack}' took {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
