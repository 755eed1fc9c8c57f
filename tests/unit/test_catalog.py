"""The catalog on its own: one definition per workload, dependencies that make sense."""

from components.catalog import (
    CATALOG,
    by_name,
    catalog_problems,
    placeholders,
    render_template,
    start_order,
    talks_to_edges,
)


def test_catalog_is_valid():
    assert catalog_problems(CATALOG) == []


def test_start_order_puts_dependencies_first():
    order = start_order(CATALOG)
    for spec in CATALOG:
        for dependency in spec.depends_on:
            assert order.index(dependency) < order.index(spec.name), (dependency, spec.name)
    assert order.index("migrations") < order.index("backend")


def test_edges_are_exactly_the_declared_talks_to():
    assert talks_to_edges(CATALOG) == {
        ("frontend", "backend"), ("backend", "postgres"), ("backend", "redis"), ("migrations", "postgres"),
    }


def test_every_service_with_a_port_and_template_refers_to_known_services():
    names = set(by_name(CATALOG))
    for spec in CATALOG:
        for kind, target in placeholders(" ".join(spec.env.values())):
            if kind != "secret":
                assert target in names


def test_templates_render_hosts_and_ports_and_leave_secrets():
    rendered = render_template("redis://{host:redis}:{port:redis}/0 {secret:x}", {"redis": "cache"}, {"redis": 6379})
    assert rendered == "redis://cache:6379/0 {secret:x}"


def test_secret_env_is_marked_by_template():
    backend = by_name(CATALOG)["backend"]
    assert backend.secret_env_names() == ("DATABASE_URL",)
    assert "REDIS_URL" in backend.plain_env_names()


def test_weaker_defaults_are_named_opt_outs():
    for spec in CATALOG:
        if spec.user != "1000:1000":
            assert "upstream-uid" in spec.opt_outs, spec.name
            assert spec.opt_outs["upstream-uid"]


def test_upstream_images_are_pinned_by_tag():
    for spec in CATALOG:
        if spec.image:
            name, _, tag = spec.image.rpartition(":")
            assert name and tag and tag != "latest" and any(ch.isdigit() for ch in tag), spec.image
