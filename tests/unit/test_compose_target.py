"""The compose target (components/targets/compose, `make compose`): the resolved dev stack as a
compose file that runs what the program runs.

Expectations come from the catalog (testing.harness.CATALOG) and the stack's settings, and are
checked against what the program itself registers under mocks (run_program), so a service added
to the catalog is checked by the same tests.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config.catalog_file import CatalogError
from components.config.settings import SettingsError
from components.core.problems import Refusal
from components.targets.compose.render import compose_document, compose_env, write_compose_file
from components.targets.compose.secrets import ALPHABET, ComposeRefusal, secret_values
from testing.harness import CATALOG, PROJECT_DIR, resolved_stack, run_program

SCRIPT = PROJECT_DIR / "scripts" / "compose.py"
CONTAINER = "docker:index/container:Container"
SPECS = CATALOG.by_name()
STACK = resolved_stack("dev")
PROJECT = "dockyard-compose-test"


@pytest.fixture(scope="module")
def values() -> dict[str, str]:
    return secret_values(STACK)


@pytest.fixture(scope="module")
def document(values) -> dict[str, Any]:
    return compose_document(STACK, PROJECT_DIR, PROJECT, secrets=values)


@pytest.fixture(scope="module")
def program():
    """The dev stack's containers as the program registers them, by service (config writers apart)."""
    run = run_program("dev")
    found = {}
    for resource in run.of_type(CONTAINER):
        labels = {item["label"]: item["value"] for item in resource.inputs["labels"]}
        if labels.get("dockyard.dev/config-writer") != "true":
            found[labels["dockyard.dev/service"]] = resource
    return found


def test_every_service_the_dev_stack_runs_is_a_compose_service(document, program):
    assert STACK.services and set(program) == set(STACK.services)
    assert list(document["services"]) == list(STACK.services)  # start order, as the program's
    assert set(document["volumes"]) == {f"{name}-data" for name, s in STACK.services.items() if s.spec.state}
    for name, service in document["services"].items():
        assert service["networks"] == {"stack": {"aliases": [name]}}
        assert service["labels"]["dockyard.dev/stack"] == PROJECT, name  # not the Pulumi stack's label
        assert service["labels"]["dockyard.dev/service"] == name


def test_containers_are_hardened_as_the_programs(document, program):
    for name, resource in program.items():
        service, inputs = document["services"][name], resource.inputs
        assert service["user"] == inputs["user"], name
        assert service["read_only"] == inputs["readOnly"], name
        assert service["cap_drop"] == ["ALL"] and service["security_opt"] == ["no-new-privileges:true"], name
        assert service["tmpfs"] == [f"{path}:{opts}" for path, opts in (inputs.get("tmpfs") or {}).items()], name
        assert service["mem_limit"] == f"{int(inputs['memory'])}m", name
        assert service["cpus"] == float(inputs["cpus"]), name
        # compose interpolates `$`: the file writes a literal one as `$$` (postgres's command is a script)
        command = [part.replace("$$", "$") for part in service["command"]] if "command" in service else None
        assert command == inputs.get("command"), name


def test_ports_are_the_programs_on_loopback(document, program):
    published = 0
    for name, resource in program.items():
        sent = [f"{p['ip']}:{int(p['external'])}:{int(p['internal'])}" for p in resource.inputs.get("ports") or []]
        assert document["services"][name].get("ports", []) == sent, name
        published += len(sent)
    assert published, "the dev stack publishes nothing: nothing checked"


def test_a_host_port_replaces_the_stacks():
    name = next(n for n, s in STACK.services.items() if s.published_port)
    moved = compose_document(STACK, PROJECT_DIR, PROJECT, host_ports={name: 41234}, secrets={})
    assert moved["services"][name]["ports"][0] == f"127.0.0.1:41234:{SPECS[name].port}"


def test_depends_on_follows_starts_after_and_talks_to(document):
    edges = 0
    for name, service in document["services"].items():
        spec = SPECS[name]
        expected = {peer for peer in (*spec.talks_to, *spec.starts_after) if peer in STACK.services}
        depends = service.get("depends_on", {})
        assert set(depends) == expected, name
        for peer, condition in depends.items():
            peer_spec = SPECS[peer]
            wanted = (
                "service_completed_successfully" if peer_spec.one_shot
                else "service_healthy" if peer_spec.health is not None
                else "service_started"
            )  # fmt: skip
            assert condition == {"condition": wanted}, (name, peer)
        edges += len(depends)
    assert edges, "no service depends on another: nothing checked"


def test_health_checks_are_the_catalogs(document, program):
    checked = 0
    for name, service in document["services"].items():
        health = SPECS[name].health
        if health is None:
            assert "healthcheck" not in service, name
            continue
        check = service["healthcheck"]
        assert check["test"] == ["CMD", *health.command], name
        assert check["retries"] == health.retries, name
        if not SPECS[name].one_shot:  # the program's own (a one-shot's is NONE there)
            sent = program[name].inputs["healthcheck"]
            assert {k: check[k] for k in ("interval", "timeout", "start_period", "start_interval")} == {
                "interval": sent["interval"], "timeout": sent["timeout"],
                "start_period": sent["startPeriod"], "start_interval": sent["startInterval"],
            }, name  # fmt: skip
        checked += 1
    assert checked, "no service has a health check: nothing checked"


def places(value: Any, secret: str, path: tuple = ()) -> Iterator[tuple]:
    """Every path in the document where `secret` appears, keys included."""
    if isinstance(value, dict):
        for key, item in value.items():
            if secret in str(key):
                yield (*path, key, "(key)")
            yield from places(item, secret, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from places(item, secret, (*path, index))
    elif secret in str(value):
        yield path


def test_secrets_appear_only_in_the_env_the_program_sends_as_a_secret(document, values, program):
    assert values, "the dev stack has no secret: nothing checked"
    allowed = {
        ("services", name, "environment", key) for name, service in STACK.services.items() for key in service.secret_env
    }
    for name, value in values.items():
        found = set(places(document, value))
        assert found and found <= allowed, (name, sorted(found - allowed))
    holding = {path[1] for value in values.values() for path in places(document, value)}
    assert holding == {name for name, resource in program.items() if "envs" in resource.secret_inputs}


def test_generated_secrets_are_generated_once_as_the_programs():
    first, second = secret_values(STACK), secret_values(STACK)
    for name, secret in STACK.secrets.items():
        if secret.generate is not None:
            assert len(first[name]) == secret.generate.length and set(first[name]) <= set(ALPHABET), name
            assert first[name] != second[name], name
        else:
            assert "{secret:" not in first[name], name


def test_a_dollar_is_written_for_compose_not_interpolated():
    service = next(s for s in STACK.services.values() if s.plain_env)
    key = next(iter(service.plain_env))
    dollared = dataclasses.replace(service, plain_env={**service.plain_env, key: "a$b${c}"})
    assert compose_env(dollared, {})[key] == "a$$b$${c}"


def test_each_built_service_has_a_build_section(document):
    assert STACK.built, "the dev stack builds nothing: nothing checked"
    for name, service in document["services"].items():
        built_from = STACK.services[name].built_from
        if built_from == name:
            build, spec = service["build"], SPECS[name].build
            assert Path(build["context"]) == PROJECT_DIR / spec.context, name
            assert (Path(build["context"]) / build["dockerfile"]).is_file(), name
            assert build["target"] == spec.target, name
            assert service["image"] == f"dockyard/{name}:{STACK.settings.images.tag}-compose", name
        else:
            assert "build" not in service, name
        if built_from and built_from != name:  # imageOf: the builder's image, never pulled
            assert service["image"] == document["services"][built_from]["image"], name
            assert service["pull_policy"] == "never", name
        if not built_from:
            assert service["image"] == STACK.services[name].upstream_image, name


def test_a_stack_that_reads_a_secret_from_config_is_refused_naming_it():
    prod = resolved_stack("prod", secrets={"databaseUrl"})
    with pytest.raises(ComposeRefusal) as refused:
        compose_document(prod, PROJECT_DIR, PROJECT)
    message = str(refused.value)
    assert message.startswith("stack 'prod' cannot be written as a compose file")
    assert "dockyard:databaseUrl" in message and "dockyard:kind = 'prod'" in message


# --- scripts/compose.py: `make compose` ----------------------------------------------------------


def load_script():
    spec = importlib.util.spec_from_file_location("dockyard_compose", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=PROJECT_DIR, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_compose_runs_the_script_for_the_stack():
    made = subprocess.run(["make", "-s", "-n", "compose", "STACK=staging"], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert made.stdout.rstrip().splitlines()[-1].endswith("scripts/compose.py --stack staging")


def test_the_script_writes_a_compose_file_of_the_stack(tmp_path):
    output = tmp_path / "out" / "compose.yaml"
    done = run_script("--stack", "dev", "--output", str(output))
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load(output.read_text())
    assert written["name"] == "dockyard-compose-dev"
    assert list(written["services"]) == list(STACK.services)
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # it holds the generated secrets
    assert "generated once, into the file" in done.stdout
    assert output.read_text().startswith("# Generated by `make compose`")


def test_an_unknown_stack_fails_in_one_line(tmp_path):
    done = run_script("--stack", "nosuchstack", "--output", str(tmp_path / "compose.yaml"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "no stack 'nosuchstack': Pulumi.nosuchstack.yaml does not exist" in done.stderr
    assert "(stacks here: " in done.stderr and "dev" in done.stderr.rsplit("stacks here: ", 1)[1]
    assert not (tmp_path / "compose.yaml").exists()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory of its own for the script: the catalog, and stack files a test writes."""
    shutil.copy(PROJECT_DIR / "catalog.yaml", tmp_path / "catalog.yaml")
    script = load_script()
    monkeypatch.setattr(script, "PROJECT_DIR", tmp_path)
    return script, tmp_path


READ = "cannot be read from Pulumi.bad.yaml"


@pytest.mark.parametrize(("text", "error", "said", "lines"), [
    ("config:\n  dockyard:kind: [dev\n", f"{READ}: is not valid YAML at line 3", "did not find expected", 1),
    ("- a list\n", f"{READ}: must be a mapping", "config:", 1),
    ("config:\n  dockyard:kind: dev\n  dockyard:kind: prod\n", READ, "config.dockyard:kind: is written twice", 2),
    ("config: [1]\n", READ, "Pulumi.bad.yaml: config: must be a mapping", 2),
    ("config:\n  dockyard:kind: nonsense\n  dockyard:target: docker\n", "has 1 invalid setting(s) in Pulumi.bad.yaml",
     "dockyard:kind = 'nonsense'", 2),
])  # fmt: skip
def test_a_bad_stack_file_fails_with_the_programs_message(project, capsys, text, error, said, lines):
    script, directory = project
    (directory / "Pulumi.bad.yaml").write_text(text)
    assert script.main(["--stack", "bad"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("dockyard: stack 'bad' ") and error in captured.err and said in captured.err
    assert captured.err.count("\n") == lines, captured.err  # a problem of the whole file: one line
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (directory / "compose.yaml").exists()


def test_a_bad_catalog_fails_with_the_programs_message(project, capsys, monkeypatch):
    script, directory = project
    monkeypatch.delenv("DOCKYARD_CATALOG", raising=False)
    (directory / "catalog.yaml").write_text("services: {}\n")
    shutil.copy(PROJECT_DIR / "Pulumi.dev.yaml", directory / "Pulumi.dev.yaml")
    assert script.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dockyard: the service catalog") and "Traceback" not in err


def test_the_script_reads_config_secrets_as_set_not_as_values(project):
    script, directory = project
    text = (PROJECT_DIR / "Pulumi.prod.yaml").read_text() + "  dockyard:databaseUrl:\n    secure: v1:AAAA\n"
    (directory / "Pulumi.prod.yaml").write_text(text)
    raw, secret_names = script.stack_settings("prod", directory)
    assert secret_names == {"databaseUrl"} and "databaseUrl" not in raw
    with pytest.raises(Refusal) as refused:  # past the settings (the secret is set): compose refuses
        compose_document(script.resolved("prod", directory), directory, PROJECT)
    assert not isinstance(refused.value, (SettingsError, CatalogError)), str(refused.value)


def test_write_compose_file_keeps_an_existing_file_private(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text("old")
    path.chmod(0o644)
    write_compose_file(path, {"name": "x", "services": {}}, "a header\n\nover lines")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[:3] == ["# a header", "#", "# over lines"]
    assert yaml.safe_load(path.read_text()) == {"name": "x", "services": {}}
