"""`resolve`: the catalog under one stack's settings, computed once, as the renderers take it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.config.catalog import Catalog
from components.plan.resolve import resolve
from components.plan.stack_rules import kubernetes_problems
from components.plan.validate import validate
from components.plan.view import StackView
from testing.harness import CATALOG, PROJECT_DIR, merge, outside_inputs, stack_config


def settings_of(stack: str, overrides: dict | None = None, catalog: Catalog = CATALOG):
    secrets = set(outside_inputs(stack).get("secrets", {}))
    return validate(stack, merge(stack_config(stack), overrides or {}), secrets, PROJECT_DIR, catalog)


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def stack(request):
    return resolve(CATALOG, settings_of(request.param))


def test_services_come_in_start_order_and_only_enabled_ones(stack):
    names = list(stack.services)
    enabled = [spec.name for spec in CATALOG.services if stack.settings.service(spec.name).enabled]
    assert sorted(names) == sorted(enabled)
    for service in stack.services.values():
        for dependency in service.depends_on:
            assert names.index(dependency) < names.index(service.name)


def test_peers_carry_their_ports_and_clients_mirror_them(stack):
    for service in stack.services.values():
        for peer, port in service.peers.items():
            assert port == stack.services[peer].spec.port
            assert service.name in stack.services[peer].clients


def test_env_is_filled_except_secrets(stack):
    for service in stack.services.values():
        assert set(service.plain_env) | set(service.secret_env) == set(service.spec.env)
        for value in service.plain_env.values():
            assert "{host:" not in value and "{port:" not in value and "{secret:" not in value
        for value in service.secret_env.values():
            assert "{secret:" in value and "{host:" not in value


def test_every_secret_an_env_uses_is_resolved_with_one_source(stack):
    used = {part.split("}")[0] for s in stack.services.values() for v in s.secret_env.values() for part in v.split("{secret:")[1:]}
    assert used <= set(stack.secrets)
    for secret in stack.secrets.values():
        assert [secret.generate is not None, secret.template is not None, secret.config is not None].count(True) == 1


def test_a_disabled_owner_makes_its_secrets_come_from_config():
    owner, key = next((s.owner, s.config) for s in CATALOG.secrets.values() if s.owner and s.config and (s.generate or s.template))
    raw = merge(stack_config("staging"), {"services": {owner: {"enabled": False}}})
    settings = validate("staging", raw, {key, "registryPassword"}, PROJECT_DIR, CATALOG)
    stack = resolve(CATALOG, settings)
    from_config = {secret.name for secret in stack.secrets.values() if secret.config == key}
    assert from_config and owner not in stack.services
    # What only the owner's own value needed (its generated parts) is not created at all.
    assert all(secret.generate is None for secret in stack.secrets.values() if CATALOG.secrets[secret.name].owner == owner)


def test_images_come_from_the_built_service_or_upstream(stack):
    refs = stack.image_refs({name: f"built:{name}" for name in stack.built})
    for name, service in stack.services.items():
        expected = f"built:{service.built_from}" if service.built_from else service.spec.image
        assert refs[name] == expected
    assert set(stack.image_refs({n: "x" for n in stack.built}, built_only=True)) == set(stack.on_built_images)


def test_the_ingress_routes_the_only_public_service_unless_told():
    public = [spec for spec in CATALOG.services if spec.public and spec.port]
    assert len(public) >= 1
    single = Catalog(
        services=tuple(spec.model_copy(update={"public": spec is public[0]}) for spec in CATALOG.services),
        secrets=CATALOG.secrets,
    )
    settings = settings_of("staging", {"kubernetes": {"ingress": {"service": None}}}, catalog=single)
    assert StackView.of(single, settings).routed == public[0].name
    assert [s.name for s in resolve(single, settings).services.values() if s.routed] == [public[0].name]


def test_several_public_services_need_the_stack_to_name_the_routed_one():
    settings = settings_of("staging")
    public = [spec.name for spec in CATALOG.services if spec.public and spec.port and settings.service(spec.name).enabled]
    if len(public) < 2:
        pytest.skip("the catalog has one public service")
    unset = replace(settings, kubernetes=settings.kubernetes.model_copy(update={
        "ingress": settings.kubernetes.ingress.model_copy(update={"service": ""}),
    }))
    (problem,) = [p for p in kubernetes_problems(StackView.of(CATALOG, unset)) if p.key == "kubernetes.ingress.service"]
    assert all(name in problem.allowed for name in public)


def test_a_read_only_root_opt_out_reaches_both_targets():
    from components.plan.container import container_plan
    from components.targets.kubernetes.pod import container_security_context

    name = next(spec.name for spec in CATALOG.services if spec.long_running)
    opted = Catalog(
        services=tuple(
            spec.model_copy(update={"opt_outs": {**spec.opt_outs, "read-only-root": "writes its cache beside the code"}})
            if spec.name == name else spec
            for spec in CATALOG.services
        ),
        secrets=CATALOG.secrets,
    )
    settings = settings_of("dev", catalog=opted)
    plans = {s.name: container_plan(s, settings, PROJECT_DIR) for s in resolve(opted, settings).services.values()}
    assert plans[name].read_only is False
    assert plans[name].labels["opt-out.dockyard.dev/read-only-root"] == "writes its cache beside the code"
    assert all(plan.read_only for other, plan in plans.items() if other != name)
    assert container_security_context(opted.by_name()[name])["readOnlyRootFilesystem"] is False


def test_a_fact_the_rules_guarantee_fails_as_a_dockyard_bug_when_it_does_not_hold():
    """resolve() runs after the catalog's rules (talksTo needs a port). Were they skipped, the peer
    without a port is said as a bug in dockyard, naming it: not a NetworkPolicy rule without a port."""
    portless = next(spec for spec in CATALOG.services if spec.port is None)
    talker = next(spec for spec in CATALOG.services if spec.talks_to and spec.name != portless.name)
    broken = Catalog(
        services=tuple(
            spec.model_copy(update={"talks_to": (*spec.talks_to, portless.name)}) if spec.name == talker.name else spec
            for spec in CATALOG.services
        ),
        secrets=CATALOG.secrets,
    )
    with pytest.raises(RuntimeError, match=rf"^dockyard bug: expected service '{portless.name}', which others talk to, "):
        resolve(broken, settings_of("dev"))
