"""`ImageDecisions`: where each kind of stack gets its images, decided once from its settings
(what `__main__.py` wires, with no per-kind branches of its own).

| kind | builds | loads into the daemon | Kubernetes runs | pods roll on |
| --- | --- | --- | --- | --- |
| dev | yes | on the docker target | the loaded tag (Minikube's daemon) | the loaded image's ID |
| staging | yes | no | repository@sha256 digest it pushed | the digest |
| prod | no | no | the digests promoted from promotion.fromStack | the digest |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from components.config.settings import Settings, StackKind


class KubernetesImages(Enum):
    """Which reference of a built image the Kubernetes workloads run."""

    PROMOTED = "promoted"  # read from the source stack's `images` output (prod)
    LOADED_TAG = "loaded tag"  # the tag loaded into Minikube's daemon (dev)
    PUSHED_DIGEST = "pushed digest"  # repository@sha256:… (staging)


@dataclass(frozen=True)
class ImageDecisions:
    builds: bool
    load_into_daemon: bool  # the docker target runs what the daemon holds
    kubernetes: KubernetesImages
    # Loaded tags do not change on a rebuild: the image ID does, and rolls the pods.
    rolls_on_image_id: bool
    # Only pushed images are exported for promotion: a loaded image exists on one machine.
    exports_digests: bool
    promotes_from: str | None
    registry_host: str | None  # where registry credentials apply (images.registry's host)


def image_decisions(settings: Settings) -> ImageDecisions:
    if settings.kind is StackKind.PROD:
        kubernetes = KubernetesImages.PROMOTED
    elif settings.kind is StackKind.DEV:
        kubernetes = KubernetesImages.LOADED_TAG
    else:
        kubernetes = KubernetesImages.PUSHED_DIGEST
    registry = settings.images.registry
    return ImageDecisions(
        builds=settings.builds_images,
        load_into_daemon=settings.runs_docker,
        kubernetes=kubernetes,
        rolls_on_image_id=kubernetes is KubernetesImages.LOADED_TAG,
        exports_digests=settings.images.push,
        promotes_from=settings.promotion.from_stack if kubernetes is KubernetesImages.PROMOTED else None,
        registry_host=registry.split("/", 1)[0] if registry else None,
    )
