"""Compliant resources for every rule domain; tests break one field at a time."""

from __future__ import annotations

import copy
from typing import Any

DIGEST = "sha256:" + "a" * 64


def container(name: str = "backend", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "image": f"registry.example.test/dockyard/{name}:1.2.3@{DIGEST}",
        "ports": [{"containerPort": 8000}],
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {
                "name": "DATABASE_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
            },
            {"name": "DATABASE_URL_FILE", "value": "/run/secrets/database-url"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi", "ephemeral-storage": "128Mi"},
        },
        "livenessProbe": {"httpGet": {"path": "/livez", "port": 8000}},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8000}},
    }
    spec.update(overrides)
    return spec


def pod_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container()],
        "initContainers": [
            container("wait-for-db", livenessProbe=None, readinessProbe=None),
        ],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            {"name": "db-secret", "secret": {"secretName": "db"}},
        ],
    }
    spec.update(overrides)
    return spec


def deployment(
    name: str = "backend",
    replicas: int = 2,
    namespace: str = "dockyard",
    **spec_overrides: Any,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "api"}},
                "spec": pod_spec(**spec_overrides),
            },
        },
    }


def job(name: str = "migrate") -> dict[str, Any]:
    c = container(name)
    del c["livenessProbe"], c["readinessProbe"]
    return {
        "metadata": {"name": name, "namespace": "dockyard"},
        "spec": {"template": {"spec": pod_spec(containers=[c], restartPolicy="Never")}},
    }


def cron_job(name: str = "cleanup") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "dockyard"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": job(name)},
    }


def pod(name: str = "debug") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "dockyard"}, "spec": pod_spec()}


def docker_container(name: str = "backend", **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": name,
        "image": "dockyard/backend:dev",
        "user": "1000:1000",
        "readOnly": True,
        "capabilities": {"drops": ["ALL"]},
        "securityOpts": ["no-new-privileges:true"],
        "memory": 512,
        "healthcheck": {
            "tests": ["CMD", "python", "-m", "todo_api.healthcheck"],
            "interval": "5s",
        },
        "ports": [{"internal": 8000, "external": 8000, "ip": "127.0.0.1", "protocol": "tcp"}],
        "tmpfs": {"/tmp": "rw,noexec,nosuid,size=64m"},
        "labels": [{"label": "dockyard.dev/service", "value": name}],
    }
    props.update(overrides)
    return props


def image_build(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "tags": ["registry.example.test/dockyard/backend:1.2.3"],
        "push": True,
        "registries": [{"address": "registry.example.test", "username": "ci", "password": "s3cr3t"}],
        "buildArgs": {
            "APP_VERSION": "1.2.3",
            "BASE_IMAGE": "python:3.13-slim-bookworm",
        },
        "cacheFrom": [{"registry": {"ref": "registry.example.test/dockyard/backend:cache"}}],
        "cacheTo": [
            {
                "registry": {
                    "ref": "registry.example.test/dockyard/backend:cache",
                    "mode": "max",
                }
            }
        ],
        "secrets": {"ca_bundle": "-----BEGIN CERTIFICATE-----"},
    }
    props.update(overrides)
    return props


def namespace(name: str = "dockyard", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"pod-security.kubernetes.io/enforce": "restricted", **labels},
        }
    }


def default_deny(namespace_name: str = "dockyard") -> dict[str, Any]:
    return {
        "metadata": {"name": "default-deny", "namespace": namespace_name},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def pdb(app: str = "backend", namespace_name: str = "dockyard") -> dict[str, Any]:
    return {
        "metadata": {"name": f"{app}-pdb", "namespace": namespace_name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
    }


def deep(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value)
