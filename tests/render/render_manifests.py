"""Writes every Kubernetes object a stack's program registers (under Pulumi mocks) as
YAML manifests, one file per object, for schema validation and security scanning.

    python -m tests.render.render_manifests STACK OUTDIR

The program runs through testing/harness.py with the same extra arguments the tests use
(`RUNS`): the harness's outside inputs per stack, dev with `kubernetes.enabled`. Pulumi-only data is stripped; Secret values are replaced by a marker.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

from components.plan.resolve import ResolvedStack
from testing.harness import (
    ProgramRun,
    RegisteredResource,
    outside_inputs,
    run_program,
)
from testing.harness import resolved_stack as harness_resolved_stack

KUBERNETES_PREFIX = "kubernetes:"
REDACTED = "redacted-by-render"
PROD_SOURCE_STACK = "organization/dockyard/staging"

# How each stack is run for rendering (and by the Kubernetes unit tests): the shared
# outside inputs (secrets, prod's source stack outputs), dev with Minikube enabled.
RUNS = {
    "dev": lambda: {**outside_inputs("dev"), "config": {"kubernetes": {"enabled": True}}},
    "staging": lambda: outside_inputs("staging"),
    "prod": lambda: outside_inputs("prod"),
}


def run_stack(stack: str) -> ProgramRun:
    if stack not in RUNS:
        raise SystemExit(f"unknown stack {stack!r}; known: {', '.join(RUNS)}")
    return run_program(stack, **RUNS[stack]())


def resolved_stack(stack: str) -> ResolvedStack:
    """What the program resolves for `stack` run as RUNS runs it."""
    inputs = RUNS[stack]()
    return harness_resolved_stack(stack, inputs.get("config"), secrets=inputs.get("secrets"))


def _plain(value: Any) -> Any:
    """Mocked inputs come back through protobuf: whole numbers arrive as floats."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _strip_pulumi(metadata: dict[str, Any]) -> dict[str, Any]:
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if not k.startswith("pulumi.com/")}
    stripped = {k: v for k, v in metadata.items() if k != "annotations"}
    if annotations:
        stripped["annotations"] = annotations
    return stripped


def manifest_of(resource: RegisteredResource) -> dict[str, Any]:
    body = _plain(dict(resource.inputs))
    manifest = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind")}
    metadata = _strip_pulumi(body.pop("metadata", {}) or {})
    metadata.setdefault("name", resource.name)  # auto-named objects: the provider adds a suffix
    manifest["metadata"] = metadata
    manifest.update(body)
    if manifest["kind"] == "Secret":
        for field in ("data", "stringData"):
            if field in manifest:
                manifest[field] = {key: REDACTED for key in manifest[field]}
    return manifest


def kubernetes_resources(run: ProgramRun) -> list[RegisteredResource]:
    return [r for r in run.resources if r.type.startswith(KUBERNETES_PREFIX) and r.custom]


def manifests(run: ProgramRun) -> list[dict[str, Any]]:
    return [manifest_of(r) for r in kubernetes_resources(run)]


def _file_name(index: int, manifest: dict[str, Any]) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", str(manifest["metadata"]["name"]).lower())
    return f"{index:02d}-{manifest['kind'].lower()}-{name}.yaml"


def write_manifests(items: list[dict[str, Any]], outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, manifest in enumerate(items):
        path = outdir / _file_name(index, manifest)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        paths.append(path)
    return paths


def render(stack: str, outdir: Path) -> list[Path]:
    return write_manifests(manifests(run_stack(stack)), outdir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", choices=sorted(RUNS))
    parser.add_argument("outdir", type=Path)
    args = parser.parse_args(argv)
    paths = render(args.stack, args.outdir)
    print(f"{len(paths)} manifests for stack {args.stack} in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
