"""Render tier: every Kubernetes object each stack registers passes
`kubernetes-validate --strict` for every Kubernetes version from 1.31 to the newest
the tool bundles, and checkov's Kubernetes checks with no failed check beyond the
reasoned, stack-scoped entries of tests/render/checkov-skips.yaml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml

from components.plan.resolve import ResolvedStack
from testing.harness import CATALOG
from tests.render.render_manifests import RUNS, render, resolved_stack
from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
VALIDATOR = PROJECT_DIR / ".venv" / "bin" / "kubernetes-validate"
CHECKOV = PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = Path(__file__).with_name("checkov-skips.yaml")
OLDEST_VERSION = (1, 31)
STACKS = sorted(RUNS)


def bundled_versions() -> list[str]:
    """Kubernetes versions kubernetes-validate has strict schemas for, from 1.31 on."""
    try:
        import kubernetes_validate
    except ImportError:
        return []
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    versions = []
    for entry in schemas.iterdir():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local-strict", entry.name)
        if match and (int(match[1]), int(match[2])) >= OLDEST_VERSION:
            versions.append(tuple(int(part) for part in match.groups()))
    return [".".join(map(str, version)) for version in sorted(versions)]


VERSIONS = bundled_versions() or ["1.31.0"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("manifests")
    return {stack: render(stack, root / stack) for stack in STACKS}


def _validate(paths: list[Path], version: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VALIDATOR), "--strict", "-k", version, "--quiet", *map(str, paths)],
        capture_output=True, text=True, timeout=300,
    )


def test_versions_cover_1_31_to_the_newest_bundled():
    require(VALIDATOR.exists(), "kubernetes-validate is not installed (pip install -r tests/render/requirements.txt)")
    assert VERSIONS[0].startswith("1.31."), VERSIONS
    assert len(VERSIONS) >= 7, f"kubernetes-validate 1.37.0 bundles 1.31 to 1.37, found {VERSIONS}"


def expected_kinds(resolved: ResolvedStack) -> Counter:
    """The objects a stack renders, counted from what it resolves (the catalog under its settings):
    per service a ServiceAccount, a NetworkPolicy, and a Job (one-shot), a StatefulSet (state) or a
    Deployment (with an autoscaler and a disruption budget when replicated); a Service when it
    listens (and a headless one governing a StatefulSet); its env as a ConfigMap and its secret
    env as a Secret. Per stack: the namespace, the
    default-deny and DNS NetworkPolicies, the Ingress."""
    services = list(resolved.services.values())
    deployments = [s for s in services if not s.spec.one_shot and s.spec.state is None]
    return Counter({
        "Namespace": 1,
        "NetworkPolicy": 2 + len(services),
        "Ingress": 1,
        "ServiceAccount": len(services),
        "Job": sum(s.spec.one_shot for s in services),
        "StatefulSet": sum(s.spec.state is not None for s in services),
        "Deployment": len(deployments),
        "HorizontalPodAutoscaler": sum(s.replicas > 1 for s in deployments),
        "PodDisruptionBudget": sum(s.replicas > 1 for s in deployments),
        # Each listening service's ClusterIP Service, and each StatefulSet's headless governing one.
        "Service": sum(s.spec.port is not None and not s.spec.one_shot for s in services)
        + sum(s.spec.state is not None for s in services),
        "ConfigMap": sum(bool(s.plain_env) for s in services),
        "Secret": sum(bool(s.secret_env) for s in services),
    })


def _documents(paths: list[Path]) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in paths]


def test_every_stack_renders_the_whole_environment(rendered):
    for stack, paths in rendered.items():
        resolved = resolved_stack(stack)
        assert resolved.services, f"{stack} runs no service: the render proves nothing"
        documents = _documents(paths)
        kinds = Counter(document["kind"] for document in documents)
        assert +kinds == +expected_kinds(resolved), stack
        workloads = {
            document["metadata"]["name"]: document["kind"]
            for document in documents if document["kind"] in ("Deployment", "StatefulSet")
        }
        assert workloads == {
            name: "StatefulSet" if service.spec.state else "Deployment"
            for name, service in resolved.services.items() if not service.spec.one_shot
        }, stack
        jobs = [document["metadata"]["name"] for document in documents if document["kind"] == "Job"]
        # A Job is named after its service and image (each new image runs it again).
        assert sorted(name.rsplit("-", 1)[0] for name in jobs) == sorted(
            name for name, service in resolved.services.items() if service.spec.one_shot
        ), (stack, jobs)
        (ingress,) = [document for document in documents if document["kind"] == "Ingress"]
        routed = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert routed["name"] in resolved.services and resolved.services[routed["name"]].spec.public, (stack, routed)


def test_secret_values_are_not_written(rendered):
    generated = {"p" * secret.generate.length for secret in CATALOG.secrets.values() if secret.generate}
    checked = 0
    for stack, paths in rendered.items():
        text = "\n".join(path.read_text() for path in paths)
        configured = RUNS[stack]().get("secrets") or {}
        for value in (*generated, *configured.values()):
            # The mocked generated secrets; the secrets set in config (prod: the external database URL).
            assert value not in text, stack
            checked += 1
        if any(service.secret_env for service in resolved_stack(stack).services.values()):
            assert "redacted-by-render" in text, stack
            checked += 1
    if not checked:
        pytest.skip("no stack has a secret: nothing to keep out of the manifests")


def test_strict_validation_rejects_an_unknown_field(tmp_path):
    require(VALIDATOR.exists(), "kubernetes-validate is not installed (pip install -r tests/render/requirements.txt)")
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\nautomountServiceAccountTokens: false\n")
    assert _validate([bad], VERSIONS[0]).returncode != 0


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("stack", STACKS)
def test_manifests_pass_strict_schema_validation(rendered, stack, version):
    require(VALIDATOR.exists(), "kubernetes-validate is not installed (pip install -r tests/render/requirements.txt)")
    result = _validate(rendered[stack], version)
    assert result.returncode == 0, result.stdout + result.stderr


@cache
def skips() -> list[dict]:
    entries = yaml.safe_load(SKIPS_FILE.read_text())
    for entry in entries:
        assert set(entry) == {"check", "stacks", "reason"}, entry
        assert len(entry["reason"].split()) >= 8, f"{entry['check']}: give a real reason"
        assert set(entry["stacks"]) <= set(STACKS), entry
    return entries


def _skipped(check_id: str, stack: str) -> bool:
    return any(entry["check"] == check_id and stack in entry["stacks"] for entry in skips())


@cache
def _checkov_report(directory: str) -> tuple[list[dict], int]:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(
        [str(CHECKOV), "--framework", "kubernetes", "-d", directory, "--output", "json", "--compact",
         "--quiet", "--skip-download"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    report = json.loads(result.stdout or "[]")
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return failed, passed


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_finds_nothing_unexplained(rendered, stack):
    require(CHECKOV.exists(), "checkov is not installed (make tools: .venv-checkov)")
    failed, passed = _checkov_report(str(rendered[stack][0].parent))
    assert passed > 100, f"checkov ran only {passed} passing checks on {stack}"
    unexplained = [c for c in failed if not _skipped(c["check_id"], stack)]
    assert unexplained == [], "\n".join(f"{c['check_id']} {c['check_name']}: {c['resource']}" for c in unexplained)


def test_every_skip_is_still_needed(rendered):
    require(CHECKOV.exists(), "checkov is not installed (make tools: .venv-checkov)")
    seen = {
        (c["check_id"], stack)
        for stack in STACKS
        for c in _checkov_report(str(rendered[stack][0].parent))[0]
    }
    stale = [
        f"{entry['check']} on {stack}"
        for entry in skips() for stack in entry["stacks"]
        if (entry["check"], stack) not in seen
    ]
    assert stale == [], f"checkov-skips.yaml lists checks that no longer fail: {stale}"


def test_rendered_objects_answer_the_platform_review(rendered):
    """Issue 37's four classes on the files the provider writes: StatefulSets governed by a
    headless Service, liveness apart from readiness, ephemeral storage and sized emptyDirs,
    replicated Deployments spread over nodes (hard) and zones (soft)."""
    spread_checked = 0
    for stack, paths in rendered.items():
        documents = _documents(paths)
        headless = {d["metadata"]["name"] for d in documents if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"}
        for document in documents:
            if document["kind"] not in ("Deployment", "StatefulSet", "Job"):
                continue
            name, pod = document["metadata"]["name"], document["spec"]["template"]["spec"]
            if document["kind"] == "StatefulSet":
                assert document["spec"]["serviceName"] in headless, (stack, name)
            for container in pod["containers"]:
                for kind in ("requests", "limits"):
                    assert container["resources"][kind].get("ephemeral-storage"), (stack, name, kind)
                if "livenessProbe" in container:
                    handler = {k: v for k, v in container["livenessProbe"].items() if k in ("httpGet", "exec")}
                    assert handler != {k: v for k, v in container["readinessProbe"].items() if k in ("httpGet", "exec")}
            assert all(v["emptyDir"].get("sizeLimit") for v in pod.get("volumes", []) if "emptyDir" in v), (stack, name)
            if document["kind"] == "Deployment" and "replicas" not in document["spec"]:  # an HPA scales it: >= 2
                rules = {c["topologyKey"]: c["whenUnsatisfiable"] for c in pod["topologySpreadConstraints"]}
                assert rules == {"kubernetes.io/hostname": "DoNotSchedule", "topology.kubernetes.io/zone": "ScheduleAnyway"}
                spread_checked += 1
    assert spread_checked  # staging and prod replicate their public services
