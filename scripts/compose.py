"""`make compose`: the resolved stack as a docker compose file, for teams that run the same stack
without Pulumi (components/targets/compose renders it).

The stack is read as the program reads it, without Pulumi: the catalog (catalog.yaml, or
DOCKYARD_CATALOG's copy) and the stack's `dockyard:` settings from Pulumi.<stack>.yaml, checked
by the program's own rules (components/plan/validate.py), so a bad catalog or setting stops here
with the program's own message. The stack's generated secrets (dev's database password) are
generated once, into the file: it is written readable by its owner only and git-ignored.

    python scripts/compose.py [--stack dev] [--output compose.yaml] [--project-name NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

CHECKOUT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CHECKOUT))  # the program's packages (scripts/ is not one)
# The catalog, stack files and build contexts: this checkout, or DOCKYARD_PROJECT_DIR's (a trial copy).
PROJECT_DIR = Path(os.environ.get("DOCKYARD_PROJECT_DIR") or CHECKOUT)
from components.config.catalog_file import catalog_path, load_catalog  # noqa: E402
from components.config.settings import NAMESPACE  # noqa: E402
from components.config.text_file import TextFileError, read_text  # noqa: E402
from components.config.yaml_document import FILE_KEY, YamlRefused  # noqa: E402
from components.config.yaml_document import load as load_yaml  # noqa: E402
from components.core.problems import OMITTED, Problem, Refusal  # noqa: E402
from components.plan.resolve import ResolvedStack, resolve_view  # noqa: E402
from components.plan.validate import checked_view  # noqa: E402
from components.targets.compose.render import compose_document, write_compose_file  # noqa: E402

DEFAULT_OUTPUT = "compose.yaml"


class StackFileError(Refusal):
    """Pulumi.<stack>.yaml is missing or is not a stack file."""

    def __init__(self, stack: str, problems: list[Problem]):
        # A problem of the whole file is a sentence: one problem of it, one line.
        problems = [Problem.sentence(p.allowed) if p.key == FILE_KEY else p for p in problems]
        super().__init__(f"stack '{stack}' cannot be read from Pulumi.{stack}.yaml", problems, f"Pulumi.{stack}.yaml: ")


def known_stacks(project_dir: Path) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml"))


def stack_settings(stack: str, project_dir: Path) -> tuple[dict[str, Any], set[str]]:
    """The stack file's `dockyard:` values (keys without the namespace) and the names of the
    secrets it sets (`pulumi config set --secret`: encrypted, so only their presence is read)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = ", ".join(known_stacks(project_dir)) or "none"
        sentence = f"no stack '{stack}': {path.name} does not exist in {project_dir} (stacks here: {stacks})"
        raise Refusal(f"stack '{stack}' cannot be written as a compose file", [Problem.sentence(sentence)])
    try:
        document, problems = load_yaml(read_text(path))
    except OSError as error:
        raise StackFileError(stack, [Problem(FILE_KEY, OMITTED, f"cannot be read: {error.strerror}")]) from None
    except TextFileError as error:
        raise StackFileError(stack, [Problem(FILE_KEY, OMITTED, str(error))]) from None
    except YamlRefused as refused:
        raise StackFileError(stack, refused.problems) from None
    if problems:
        raise StackFileError(stack, problems)
    if document is not None and not isinstance(document, dict):
        raise StackFileError(stack, [Problem(FILE_KEY, OMITTED, "must be a mapping (a stack file: `config:` ...)")])
    config = (document or {}).get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(stack, [Problem("config", OMITTED, "must be a mapping of `<namespace>:<key>: value`")])
    raw, secret_names = {}, set()
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if namespace != NAMESPACE:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_names.add(name)
        else:
            raw[name] = value
    return raw, secret_names


def resolved(stack: str, project_dir: Path) -> ResolvedStack:
    """What the program resolves for `stack`, or the program's own refusal (CatalogError,
    SettingsError) listing every problem."""
    catalog = load_catalog(catalog_path(project_dir))
    raw, secret_names = stack_settings(stack, project_dir)
    return resolve_view(checked_view(stack, raw, secret_names, project_dir, catalog))


def shown_path(path: Path) -> str:
    """`path` relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/compose.py", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="the stack (Pulumi.<stack>.yaml); default dev")
    parser.add_argument("--output", type=Path, help=f"the file to write; default {DEFAULT_OUTPUT} in the project")
    parser.add_argument("--project-name", help="the compose project's name; default dockyard-compose-<stack>")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    output = args.output or PROJECT_DIR / DEFAULT_OUTPUT
    project = args.project_name or f"dockyard-compose-{args.stack}"
    try:
        stack = resolved(args.stack, PROJECT_DIR)
        document = compose_document(stack, PROJECT_DIR, project)
        header = (
            f"Generated by `make compose` (scripts/compose.py) from the catalog and Pulumi.{args.stack}.yaml.\n"
            "It holds the stack's generated secrets in plain text: keep it private, do not commit it.\n"
            f"Run it: docker compose -f {output.name} up --wait"
        )
        write_compose_file(output, document, header)
    except Refusal as refusal:
        print(f"dockyard: {refusal}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"dockyard: cannot write {output}: {error.strerror}", file=sys.stderr)
        return 1
    shown = shown_path(output)
    print(f"dockyard: wrote {shown}: stack '{args.stack}' as compose project '{project}', "
          f"services {', '.join(document['services'])}")  # fmt: skip
    if stack.secrets:
        print(f"dockyard: the stack's secrets ({', '.join(stack.secrets)}) were generated once, into the file "
              "(readable by you only; keep it out of git). Writing it again generates new ones, which data "
              "already initialised with the old ones (a kept database volume) will not accept")  # fmt: skip
    print(f"dockyard: run it with: docker compose -f {shown} up --wait")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
