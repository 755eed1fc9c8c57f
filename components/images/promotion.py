"""Image digests promoted from another stack (prod deploys exactly what staging ran).

`check_promoted_images` is the pure rule: every built service must have an image
in the source stack's `images` output, pinned as `repository@sha256:<64 hex>`.
`PromotedImages` reads that output through a `pulumi.StackReference` and applies
the rule inside an `apply`, so `pulumi up` fails naming the stack and the service.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pulumi

from components.core.problems import Problem, Refusal
from components.core.references import is_digest_ref

IMAGES_OUTPUT = "images"  # what the source stack exports: service -> repository@sha256:…
class PromotionError(Refusal):
    """The source stack cannot be promoted: every problem, in one message."""

    def __init__(self, source_stack: str, problems: list[str]):
        super().__init__(f"cannot promote from stack '{source_stack}'", [Problem.sentence(p) for p in problems])


def check_promoted_images(source_stack: str, services: Iterable[str], exported: Any) -> dict[str, str]:
    """service -> digest reference for each of `services`, or a `PromotionError`."""
    services = sorted(services)
    if exported is None:
        raise PromotionError(source_stack, [
            f"it exports no '{IMAGES_OUTPUT}' output "
            f"(deploy it first with `pulumi up -s {source_stack}`; it must build and push "
            f"{', '.join(services)})"
        ])
    if not isinstance(exported, Mapping):
        raise PromotionError(source_stack, [
            f"its '{IMAGES_OUTPUT}' output must map "
            f"service -> repository@sha256:<digest>, got {type(exported).__name__}"
        ])
    problems = []
    for service in services:
        ref = exported.get(service)
        if ref in (None, ""):
            known = ", ".join(sorted(exported)) or "none"
            problems.append(f"service '{service}': stack '{source_stack}' exports no image for it (it exports: {known})")
        elif not is_digest_ref(ref):
            problems.append(
                f"service '{service}': image {ref!r} from stack '{source_stack}' is not pinned by digest; "
                "expected repository@sha256:<64 hex> (was the image pushed? staging needs images.push: true)"
            )
    if problems:
        raise PromotionError(source_stack, problems)
    return {service: exported[service] for service in services}


class PromotedImages(pulumi.ComponentResource):
    """The images another stack deployed, checked.

    Outputs: `images` (service -> Output of `repository@sha256:…`) and
    `promoted_from` (service -> source stack name).
    """

    images: dict[str, pulumi.Output[str]]
    promoted_from: dict[str, str]

    def __init__(
        self,
        name: str,
        *,
        source_stack: str,
        services: Iterable[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("dockyard:index:PromotedImages", name, None, opts)
        services = sorted(services)
        reference = pulumi.StackReference(f"{name}-source", stack_name=source_stack, opts=pulumi.ResourceOptions(parent=self))
        checked = reference.get_output(IMAGES_OUTPUT).apply(
            lambda exported: check_promoted_images(source_stack, services, exported)
        )
        self.images = {service: _image_of(checked, service) for service in services}
        self.promoted_from = {service: source_stack for service in services}
        self.register_outputs({"images": self.images, "promoted_from": self.promoted_from})


def _image_of(checked: pulumi.Output[dict[str, str]], service: str) -> pulumi.Output[str]:
    """`service`'s digest reference among the checked ones."""
    return checked.apply(lambda refs: refs[service])
