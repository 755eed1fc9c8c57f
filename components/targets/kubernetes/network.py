"""NetworkPolicies: default deny, DNS, and per service exactly the catalog's edges that
touch it (its clients in, its peers out, on their ports), the ingress controller for the
routed service, and external peers (a config-replaced database) by CIDR and port."""

from __future__ import annotations

from typing import Any

from components.config.catalog import ServiceSpec
from components.config.settings import Settings
from components.core.invariants import ensured
from components.core.labels import PART_OF, PART_OF_LABEL
from components.core.names import DEFAULT_DENY_POLICY, DNS_POLICY, service_policy_name
from components.plan.resolve import Service
from components.targets.kubernetes.manifest import Manifest
from components.targets.kubernetes.objects import metadata
from components.targets.kubernetes.pod import selector_labels

DNS_NAMESPACE = "kube-system"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace


def _pod_peer(service: str) -> Manifest:
    return {"podSelector": {"matchLabels": selector_labels(service)}}


def _tcp(port: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port}]


def _port(spec: ServiceSpec) -> int:
    """The port of a service others reach (its clients, the ingress controller)."""
    return ensured(spec.port, f"service {spec.name!r}, which others reach, to have a port (talksTo, public need one)")


def default_deny_manifest(settings: Settings) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": DEFAULT_DENY_POLICY,
            "namespace": settings.kubernetes.namespace,
            "labels": {PART_OF_LABEL: PART_OF},
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def dns_egress_manifest(settings: Settings) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": DNS_POLICY,
            "namespace": settings.kubernetes.namespace,
            "labels": {PART_OF_LABEL: PART_OF},
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: DNS_NAMESPACE}}}],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            ],
        },
    }


def network_policy_manifest(service: Service, settings: Settings) -> Manifest:
    """Exactly the catalog's edges touching this service: ingress from its clients and
    egress to its peers on their ports; the ingress controller for the routed service;
    external peers (replaced from config) by CIDR on their ports."""
    spec = service.spec
    ingress = [{"from": [_pod_peer(client)], "ports": _tcp(_port(spec))} for client in sorted(service.clients)]
    if service.routed:
        ingress.append(
            {
                "from": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {NAMESPACE_NAME_LABEL: settings.kubernetes.ingress_namespace}
                        }
                    }
                ],
                "ports": _tcp(_port(spec)),
            }
        )
    egress = [{"to": [_pod_peer(peer)], "ports": _tcp(port)} for peer, port in sorted(service.peers.items())]
    egress += [
        {"to": [{"ipBlock": {"cidr": settings.kubernetes.external_database_cidr}}], "ports": _tcp(external.port)}
        for external in sorted(service.external_peers, key=lambda peer: peer.service)
    ]
    body: dict[str, Any] = {
        "podSelector": {"matchLabels": selector_labels(spec.name)},
        "policyTypes": ["Ingress", "Egress"],
    }
    if ingress:
        body["ingress"] = ingress
    if egress:
        body["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(service_policy_name(spec.name), spec.name, settings),
        "spec": body,
    }
