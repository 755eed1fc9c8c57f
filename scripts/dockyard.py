"""dockyard's driver: `make up|preview|down|refresh` run the program through the Pulumi
Automation API (an inline program), so they work with the official Pulumi CLI and with
one built here from Go modules (no language host needed); the real test tier runs the
same commands.

    python scripts/dockyard.py up [--stack dev] [--no-refresh] [--policy-pack [--policy-config FILE]]
    python scripts/dockyard.py preview [--stack dev] [--policy-pack [--policy-config FILE]] [--expect-no-changes]
    python scripts/dockyard.py down [--stack dev] [--purge]
    python scripts/dockyard.py refresh|outputs [--stack dev]

Which CLI and which plugins run is said in the first lines (see `tooling.py`). The
backend and the passphrase come from PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE
(the Makefile sets a local file backend and an empty passphrase for dev).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

from pulumi import automation as auto

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tooling  # noqa: E402  (scripts/ is not a package: the driver runs as a script)

PROJECT_DIR = Path(os.environ.get("DOCKYARD_PROJECT_DIR") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(PROJECT_DIR))  # the program's package: its label keys, and the program itself
from components.core.labels import STACK_LABEL  # noqa: E402

# What `down` keeps besides the data volumes: the generated credentials that open them.
# A new generated database password would not open a volume initialised with the old one.
KEPT_ON_DOWN_TYPES = ("random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes")


def say(message: str) -> None:
    print(f"dockyard: {message}", file=sys.stderr, flush=True)


def run_program() -> None:
    """The checked-in program, run inline in this process (no language host)."""
    sys.path.insert(0, str(PROJECT_DIR))
    runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")


def select_stack(stack_name: str, tools: tooling.Tools) -> auto.Stack:
    workspace = auto.LocalWorkspace(
        work_dir=str(PROJECT_DIR),
        program=run_program,
        pulumi_command=tools.command,
        pulumi_home=tools.pulumi_home,
        env_vars=tools.env,
    )
    return auto.Stack.create_or_select(stack_name, workspace)


def policy_pack_executable() -> str:
    """The policy pack as an analyzer executable: the CLI launches an executable file as a
    binary policy pack, so no Python language host is needed to run ours."""
    return str(PROJECT_DIR / "policy" / "run-pack")


def policy_config(stack_name: str, given: str | None) -> list[str]:
    """The pack's config: the file given, else policy/config/<stack>.json when there is one
    (what the workflows pass as policyPackConfigs)."""
    if given:
        return [given]
    config = PROJECT_DIR / "policy" / "config" / f"{stack_name}.json"
    return [str(config)] if config.is_file() else []


def urns_to_destroy(stack: auto.Stack) -> list[str]:
    """Every resource but the generated credentials (and what holds them): `down` keeps them
    beside the data volumes they open."""
    resources = stack.export_stack().deployment.get("resources", [])
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
    listed = subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"label={STACK_LABEL}={stack_name}"],
        capture_output=True,
        text=True,
        check=True,
    )
    volumes = listed.stdout.split()
    if volumes:
        subprocess.run(["docker", "volume", "rm", *volumes], check=True, capture_output=True)
    say(f"removed the data volumes: {', '.join(volumes) or 'none'}")


def print_urls(outputs: dict[str, auto.OutputValue]) -> None:
    urls = outputs.get("urls")
    for service, url in sorted((urls.value if urls else {}).items()):
        print(f"  {service:<10} {url}")


def up(stack: auto.Stack, args: argparse.Namespace) -> None:
    # Refresh first, as `compose up` looks at what runs: a container stopped or removed
    # outside Pulumi, or a one-shot that failed, is created again.
    result = stack.up(on_output=print, refresh=args.refresh, color=_color(), **policy_packs(stack.name, args))
    say(f"up: {result.summary.result}, {_changes(result.summary.resource_changes)}")
    print_urls(result.outputs)


def policy_packs(stack_name: str, args: argparse.Namespace) -> dict[str, list[str]]:
    """The pack and its config for `--policy-pack` (as the workflows' policyPacks/policyPackConfigs)."""
    if not args.policy_pack:
        return {}
    return {
        "policy_packs": [policy_pack_executable()],
        "policy_pack_configs": policy_config(stack_name, args.policy_config),
    }


def preview(stack: auto.Stack, args: argparse.Namespace) -> None:
    result = stack.preview(
        on_output=print,
        expect_no_changes=args.expect_no_changes,
        refresh=args.refresh,
        color=_color(),
        **policy_packs(stack.name, args),
    )
    say(f"preview: {_changes(result.change_summary)}")


def down(stack: auto.Stack, args: argparse.Namespace) -> None:
    if args.purge:
        stack.destroy(on_output=print)
        remove_stack_volumes(stack.name)
        return
    targets = urns_to_destroy(stack)
    if targets:
        stack.destroy(on_output=print, target=targets)
    say("kept the data volumes and the generated credentials that open them; `make down purge=1` removes both")


def refresh(stack: auto.Stack, args: argparse.Namespace) -> None:
    stack.refresh(on_output=print)


def outputs(stack: auto.Stack, args: argparse.Namespace) -> None:
    print(json.dumps({key: value.value for key, value in stack.outputs().items() if not value.secret}, indent=2))


def _color() -> str:
    """Colours on a terminal only: the CLI's output is printed through this process."""
    return "always" if sys.stdout.isatty() else "never"


def _changes(summary: dict[str, int] | None) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted((summary or {}).items())) or "no resources"


COMMANDS = {"up": up, "preview": preview, "down": down, "refresh": refresh, "outputs": outputs}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dockyard", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
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
    try:
        tools = tooling.prepare(PROJECT_DIR, say=say)
        stack = select_stack(args.stack, tools)
        COMMANDS[args.command](stack, args)
    except tooling.ToolingError as error:
        say(str(error))
        return 2
    except auto.CommandError as error:
        say(f"{args.command} of stack '{args.stack}' failed ({time.monotonic() - started:.1f}s): see the lines above")
        if os.environ.get("DOCKYARD_DEBUG"):
            say(str(error))
        return 1
    say(f"{args.command} of stack '{args.stack}' took {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
