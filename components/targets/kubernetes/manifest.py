"""`Manifest`: a Kubernetes object, or a part of one, as pod.py, objects.py and network.py build it:
the API's JSON (camelCase keys) with pulumi Outputs where a value is not known yet (an image, a
Secret's name). `KubernetesEnvironment` hands an object's top-level fields to the SDK's resource
classes as keyword arguments and the nested dicts pass through as they are. The SDK's own types
for those fields (snake_case `*Args` classes and `*ArgsDict` TypedDicts) do not describe the API's
camelCase dicts, so the values are `Any`: what checks them is the unit tier's manifest tests and
kubernetes-validate in the render tier."""

from __future__ import annotations

from typing import Any

Manifest = dict[str, Any]
