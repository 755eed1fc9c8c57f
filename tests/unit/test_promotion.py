"""Promotion: prod deploys exactly the digests its source stack exports, or fails naming
the stack and the service."""

from __future__ import annotations

import asyncio

import pytest

from components.core.references import is_digest_ref
from components.images.promotion import PromotionError, check_promoted_images
from testing.harness import CATALOG, run_program
from tests.render.render_manifests import PROD_SOURCE_STACK, RUNS

DIGEST = "sha256:" + "0123456789abcdef" * 4
BACKEND = f"registry.example.com:5000/team/backend@{DIGEST}"
FRONTEND = f"registry.example.com/team/frontend@{DIGEST}"
SECRETS = RUNS["prod"]()["secrets"]
# Cancelling a failed run's leftover registrations leaves never-awaited coroutines behind.
pytestmark = pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")


def run_prod(images=None, *, outputs=None, config=None):
    stack_outputs = outputs if outputs is not None else {PROD_SOURCE_STACK: {"images": images}}
    _quiet_expected_failures_once()
    return run_program("prod", config, secrets=SECRETS, stack_outputs=stack_outputs)


def _quiet_expected_failures_once() -> None:
    loop = asyncio.get_event_loop()
    if not getattr(loop, "_dockyard_quiet", False):
        loop.set_exception_handler(_quiet_expected_failures(loop.get_exception_handler()))
        loop._dockyard_quiet = True


EXPECTED_FAILURES = ("cannot promote from stack", "unknown stack")


def _quiet_expected_failures(previous):
    """Futures of a deliberately failed run are garbage-collected with their exception
    unread; asyncio would log each one. Drop only those, report anything else."""

    def handler(loop, context):
        exception = context.get("exception")
        if exception is not None and any(text in str(exception) for text in EXPECTED_FAILURES):
            return
        (previous or (lambda lp, ctx: lp.default_exception_handler(ctx)))(loop, context)

    return handler


@pytest.mark.parametrize("ref", [BACKEND, FRONTEND, f"backend@{DIGEST}"])
def test_digest_refs_are_accepted(ref):
    assert is_digest_ref(ref)


@pytest.mark.parametrize("ref", [
    "registry.example.com/team/backend:1.0.0",
    f"registry.example.com/team/backend:1.0.0@{DIGEST}",  # a tag beside the digest is ambiguous to readers
    "registry.example.com/team/backend@sha256:abc",
    f"registry.example.com/team/backend@{DIGEST.upper()}",
    "",
    None,
])
def test_anything_else_is_not_a_digest_ref(ref):
    assert not is_digest_ref(ref)


def test_check_returns_the_services_it_was_asked_for():
    exported = {"backend": BACKEND, "frontend": FRONTEND, "extra": "whatever:1"}
    assert check_promoted_images("org/dockyard/staging", ["frontend", "backend"], exported) == {"backend": BACKEND, "frontend": FRONTEND}


def test_a_stack_without_images_output_is_named():
    with pytest.raises(PromotionError, match="stack 'org/dockyard/staging': it exports no 'images' output"):
        check_promoted_images("org/dockyard/staging", ["backend"], None)


def test_every_missing_or_unpinned_image_is_listed_at_once():
    with pytest.raises(PromotionError) as caught:
        check_promoted_images("org/dockyard/staging", ["backend", "frontend"], {"frontend": "r/frontend:1.0"})
    message = str(caught.value)
    assert "service 'backend': stack 'org/dockyard/staging' exports no image for it (it exports: frontend)" in message
    assert "service 'frontend': image 'r/frontend:1.0' from stack 'org/dockyard/staging' is not pinned by digest" in message


def test_an_images_output_of_the_wrong_shape_is_rejected():
    with pytest.raises(PromotionError, match="must map service -> repository@sha256"):
        check_promoted_images("s", ["backend"], ["backend"])


# --- the program -------------------------------------------------------------------------

def test_prod_deploys_exactly_the_promoted_digests_and_records_their_source():
    built = [spec for spec in CATALOG.services if spec.build]
    promoted = {spec.name: f"registry.example.com/team/{spec.name}@{DIGEST}" for spec in built}
    run = run_prod(promoted)
    images, sources = {}, {}
    for resource in run.resources:
        if resource.type in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
            name = resource.inputs["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
            images[name] = resource.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
            sources[name] = resource.inputs["metadata"].get("annotations", {}).get("dockyard.dev/promoted-from")
    on_built = {spec.name: spec.image_of or spec.name for spec in CATALOG.services if spec.build or spec.image_of}
    for name, source in sources.items():
        if name in on_built:
            assert images[name] == promoted[on_built[name]] and source == PROD_SOURCE_STACK, name
        else:  # an upstream image: pinned by the catalog, not promoted
            assert images[name] == CATALOG.by_name()[name].image and source is None, name
    assert run.outputs["promotedFrom"] == {spec.name: PROD_SOURCE_STACK for spec in built}


def test_prod_builds_nothing():
    run = run_prod({"backend": BACKEND, "frontend": FRONTEND})
    assert not run.of_type("docker-build:index:Image")
    assert not [r for r in run.resources if r.type.startswith("docker:")]


def test_prod_reads_the_stack_promotion_from_stack_names():
    other = "organization/dockyard/staging-eu"
    run = run_prod(outputs={other: {"images": {"backend": BACKEND, "frontend": FRONTEND}}},
                   config={"promotion": {"fromStack": other}})
    assert set(run.outputs["promotedFrom"].values()) == {other}


def test_missing_source_stack_fails_naming_it():
    with pytest.raises(Exception, match="organization/dockyard/staging"):
        run_prod(outputs={})


def test_source_stack_without_images_fails_naming_it():
    with pytest.raises(Exception, match="cannot promote from stack 'organization/dockyard/staging': it exports no 'images'"):
        run_prod(outputs={PROD_SOURCE_STACK: {"other": 1}})


def test_missing_image_fails_naming_stack_and_service():
    with pytest.raises(Exception, match="service 'frontend': stack 'organization/dockyard/staging' exports no image"):
        run_prod({"backend": BACKEND})


def test_tag_only_image_fails_naming_stack_and_service():
    with pytest.raises(Exception, match="service 'backend': image 'r/backend:1.0.0' from stack 'organization/dockyard/staging' is not pinned"):
        run_prod({"backend": "r/backend:1.0.0", "frontend": FRONTEND})


def test_prod_without_a_source_stack_fails_before_any_resource():
    from components.config.settings import SettingsError

    with pytest.raises(SettingsError, match="promotion.fromStack"):
        run_prod({"backend": BACKEND, "frontend": FRONTEND}, config={"promotion": {"fromStack": ""}})


def test_prod_with_one_frontend_replica_fails_before_any_resource():
    from components.config.settings import SettingsError

    with pytest.raises(SettingsError, match="services.frontend.replicas = 1: prod runs public services with at least 2"):
        run_prod({"backend": BACKEND, "frontend": FRONTEND}, config={"services": {"frontend": {"replicas": 1}}})
