"""The kubeconfig context a Kubernetes stack names, checked before any resource is registered:
without it the provider falls back to warnings at preview and fails at `up`, after images
were built and pushed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import yaml


def kubeconfig_paths() -> list[Path]:
    """The files kubectl and the Kubernetes provider read, in order (KUBECONFIG, else ~/.kube/config)."""
    listed = os.environ.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def kubeconfig_contexts(paths: Iterable[Path]) -> set[str]:
    contexts: set[str] = set()
    for path in paths:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name"):
                contexts.add(str(entry["name"]))
    return contexts


def kube_context_problems(
    context: str,
    read_contexts: Callable[[Iterable[Path]], set[str]] | None = None,
    paths: list[Path] | None = None,
) -> list[str]:
    """Why the kubeconfig context `context` cannot be used, or []. An empty context means
    the kubeconfig's current context, which the provider resolves itself. The contexts are read
    with `read_contexts` (a test's `Host.kube_contexts`), else from the files themselves."""
    if not context:
        return []
    paths = kubeconfig_paths() if paths is None else paths
    known = (read_contexts or kubeconfig_contexts)(paths)
    if context in known:
        return []
    searched = ", ".join(str(p) for p in paths)
    return [
        f"kubeconfig context '{context}' (kubernetes.context) is not in {searched} "
        f"(contexts found: {', '.join(sorted(known)) or 'none'}). Write it first, e.g. "
        f"`aws eks update-kubeconfig --name <cluster> --alias {context}` (the deploy workflow does), "
        "or render manifests without a cluster with kubernetes.renderYamlToDirectory."
    ]
