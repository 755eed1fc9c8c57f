"""The stack's preflight on a Docker engine that is not the default socket: a second dockerd on
127.0.0.1 with TLS (certificates made here), selected through a Docker context written by the real
docker CLI, through DOCKER_HOST + DOCKER_TLS_VERIFY, and reached over ssh:// through an sshd on
127.0.0.1 (a key made here). The program runs under Pulumi's mocks with its real DockerEngine (the
docker SDK); what the program's client reached is checked by the engine's data root, which only
the second engine has. The Docker provider (the bridged plugin built by machine/toolchain/pulumi-tools.sh)
is driven with the program's own provider inputs to create a volume on the same engine.

The machine's engine is never asked anything here."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from components.targets.docker.endpoint import resolve_endpoint
from components.targets.docker.engine import DockerEngine
from components.targets.docker.preflight import docker_provider_args
from components.targets.host import PreflightError
from testing.harness import run_program
from tests.engine.second_engine import SecondEngine, Sshd, docker_cli, make_pki, missing_tools, short_dir
from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
DOCKER_PROVIDER = "pulumi:providers:docker"


@pytest.fixture(scope="module")
def machine():
    missing = missing_tools()
    require(not missing, f"missing {', '.join(missing)} (Debian: docker.io, openssh-server, openssl)")
    require(os.geteuid() == 0, "a second dockerd and an sshd need root")


@pytest.fixture(scope="module")
def pki(machine):
    root = short_dir("dy-pki-")
    yield make_pki(root, "dockyard engine test")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def engine(pki) -> SecondEngine:
    second = SecondEngine(pki)
    try:
        second.start()
    except RuntimeError as error:
        second.stop()
        pytest.fail(str(error), pytrace=False)
    yield second
    second.stop()


@pytest.fixture(scope="module")
def docker_config(engine, pki, tmp_path_factory) -> Path:
    """A Docker config directory where `docker context create` made 'second' (TLS) and `docker
    context use second` made it current: the layout is the CLI's, not the test's."""
    config_dir = tmp_path_factory.mktemp("docker-config")
    client = pki.client
    docker_cli(config_dir, "context", "create", "second", "--docker",
               f"host={engine.tcp_host},ca={client / 'ca.pem'},cert={client / 'cert.pem'},key={client / 'key.pem'}")
    docker_cli(config_dir, "context", "use", "second")
    return config_dir


@pytest.fixture(scope="module")
def sshd(engine) -> Sshd:
    server = Sshd(engine)
    try:
        server.start()
    except RuntimeError as error:
        server.stop()
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


_MADE: list[DockerEngine] = []


class RecordingEngine(DockerEngine):
    """The real client, recorded: the program connects through it (run_program's `connect`)."""

    def __init__(self, endpoint):
        super().__init__(endpoint)
        _MADE.append(self)


@pytest.fixture
def recorded() -> list[DockerEngine]:
    """The DockerEngine(s) the program makes in this test."""
    _MADE.clear()
    return _MADE


def preflight_run(docker_env: dict[str, str], **kwargs):
    """The dev stack's program (a preview: nothing is created) on the engine docker_env selects."""
    return run_program("dev", preview=True, connect=RecordingEngine, docker_env=docker_env, **kwargs)


def refused_before_any_resource(docker_env: dict[str, str]) -> str:
    registered: list[str] = []
    with pytest.raises(PreflightError) as raised:
        preflight_run(docker_env, new_resource_hook=lambda args: registered.append(args.typ))
    assert registered == []
    return str(raised.value)


def copy_config(config_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "docker-config"
    shutil.copytree(config_dir, copy)
    return copy


# --- TLS, through a context ------------------------------------------------------------------------


def test_the_stack_preflight_reaches_the_tls_engine_of_the_current_context(engine, docker_config, pki, recorded, caplog):
    with caplog.at_level(logging.INFO):
        run = preflight_run({"DOCKER_CONFIG": str(docker_config)})
    (program_engine,) = recorded
    assert program_engine.host == engine.tcp_host
    assert program_engine.info()["DockerRootDir"] == str(engine.data_root)  # the second engine, over TLS
    (provider,) = run.of_type(DOCKER_PROVIDER)
    assert provider.inputs["host"] == engine.tcp_host
    assert provider.inputs["certMaterial"] == (pki.client / "cert.pem").read_text()
    assert provider.inputs["caMaterial"] == (pki.client / "ca.pem").read_text()
    assert "keyMaterial" in provider.secret_inputs
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Docker engine ")]
    assert said and f"Docker engine {engine.tcp_host} (context 'second' (currentContext in" in said[0]


def test_docker_context_selects_it_over_another_current_context(engine, docker_config, pki, recorded, tmp_path):
    config_dir = copy_config(docker_config, tmp_path)
    docker_cli(config_dir, "context", "use", "default")
    preflight_run({"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "second"})
    assert recorded[0].info()["DockerRootDir"] == str(engine.data_root)


def test_docker_host_with_docker_tls_verify_and_docker_cert_path(engine, pki, recorded):
    preflight_run({"DOCKER_HOST": engine.tcp_host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(pki.client)})
    assert recorded[0].info()["DockerRootDir"] == str(engine.data_root)


def test_a_context_whose_key_is_gone_is_refused_before_any_resource(engine, docker_config, tmp_path):
    config_dir = copy_config(docker_config, tmp_path)
    (key,) = config_dir.glob("contexts/tls/*/docker/key.pem")
    key.unlink()
    message = refused_before_any_resource({"DOCKER_CONFIG": str(config_dir)})
    assert f"the Docker context 'second' (currentContext in {config_dir / 'config.json'}) talks TLS" in message
    assert f"{key} is missing" in message


def test_a_context_that_does_not_exist_is_refused_before_any_resource(docker_config):
    message = refused_before_any_resource({"DOCKER_CONFIG": str(docker_config), "DOCKER_CONTEXT": "colima"})
    assert "the Docker context 'colima' (DOCKER_CONTEXT) does not exist" in message and "contexts there: second" in message


def test_an_engine_certificate_from_another_ca_is_refused(engine, tmp_path):
    other = make_pki(tmp_path / "other-pki", "another")
    config_dir = tmp_path / "docker-config"
    docker_cli(config_dir, "context", "create", "impostor", "--docker",
               f"host={engine.tcp_host},ca={other.client / 'ca.pem'},cert={other.client / 'cert.pem'},"
               f"key={other.client / 'key.pem'}")
    message = refused_before_any_resource({"DOCKER_CONFIG": str(config_dir), "DOCKER_CONTEXT": "impostor"})
    assert f"no Docker engine answers at {engine.tcp_host} (context 'impostor' (DOCKER_CONTEXT))" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


def test_the_tls_port_without_tls_material_is_refused_with_the_engines_answer(engine, tmp_path):
    message = refused_before_any_resource({"DOCKER_HOST": engine.tcp_host})
    assert "Client sent an HTTP request to an HTTPS server" in message


def test_an_engine_that_does_not_answer_is_refused(pki, tmp_path):
    closed = SecondEngine(pki)  # allocated, never started: nothing listens on its port
    try:
        message = refused_before_any_resource({
            "DOCKER_HOST": closed.tcp_host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(pki.client)})
    finally:
        closed.stop()
    assert f"no Docker engine answers at {closed.tcp_host} (DOCKER_HOST): [Errno 111] Connection refused" in message


# --- ssh ---------------------------------------------------------------------------------------------


def test_the_stack_preflight_reaches_the_engine_over_ssh(engine, sshd, recorded, monkeypatch):
    monkeypatch.setenv("PATH", sshd.path_with_ssh_wrapper())
    run = preflight_run({"DOCKER_HOST": sshd.host()})
    assert recorded[0].host == sshd.host()
    assert recorded[0].info()["DockerRootDir"] == str(engine.data_root)  # through sshd and `docker system dial-stdio`
    (provider,) = run.of_type(DOCKER_PROVIDER)
    assert provider.inputs["host"] == sshd.host() and provider.inputs["keyMaterial"] == ""


def test_an_ssh_context_made_by_the_cli(engine, sshd, recorded, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", sshd.path_with_ssh_wrapper())
    config_dir = tmp_path / "docker-config"
    docker_cli(config_dir, "context", "create", "buildbox", "--docker", f"host={sshd.host()}")
    docker_cli(config_dir, "context", "use", "buildbox")
    preflight_run({"DOCKER_CONFIG": str(config_dir)})
    assert recorded[0].info()["DockerRootDir"] == str(engine.data_root)


def test_an_ssh_login_that_fails_says_what_to_try(sshd, monkeypatch):
    monkeypatch.setenv("PATH", sshd.path_with_ssh_wrapper())
    message = refused_before_any_resource({"DOCKER_HOST": sshd.host("nobody")})
    assert f"no Docker engine answers at {sshd.host('nobody')} (DOCKER_HOST)" in message
    assert f"`ssh -p {sshd.port} nobody@127.0.0.1 docker system dial-stdio`" in message


# --- the Docker provider on the same endpoint ----------------------------------------------------------


def _tools() -> Path | None:
    """The built CLI and docker provider (built when missing, or waited for while CI builds them)."""
    printed = subprocess.run(["bash", str(PROJECT_DIR / "machine/toolchain/pulumi-tools.sh")],
                             capture_output=True, text=True, timeout=3600)
    bin_dir = Path(printed.stdout.strip().splitlines()[-1]) if printed.returncode == 0 and printed.stdout.strip() else None
    if bin_dir and (bin_dir / "pulumi").exists() and (bin_dir / "pulumi-resource-docker").exists():
        return bin_dir
    return None


@pytest.fixture(scope="module")
def pulumi_tools(machine) -> Path:
    bin_dir = _tools()
    require(bin_dir is not None, "the Pulumi CLI and docker provider are not built (machine/toolchain/pulumi-tools.sh)")
    return bin_dir


def provider_creates_a_volume(tools: Path, endpoint, engine: SecondEngine, work: Path, path: str) -> None:
    """Up and destroy, through the real CLI and the bridged docker provider, a program that makes the
    program's explicit provider on `endpoint` and one volume with it; the volume must appear on the
    second engine."""
    import pulumi
    import pulumi_docker as docker
    from pulumi import automation as auto

    name = f"dockyard-test-endpoint-{uuid.uuid4().hex[:8]}"

    def program():
        provider = docker.Provider("docker-engine", **docker_provider_args(endpoint))
        docker.Volume("probe", name=name, opts=pulumi.ResourceOptions(provider=provider))

    (work / "home").mkdir(parents=True)
    (work / "state").mkdir()
    (work / "project").mkdir()
    env = {"PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
           "PULUMI_CONFIG_PASSPHRASE": "", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
           "PATH": f"{tools}{os.pathsep}{path}",
           # What the explicit provider must not follow: left to their defaults these would win.
           "DOCKER_CONTEXT": "not-this-one", "DOCKER_CERT_PATH": str(work / "not-these-certs")}
    stack = auto.create_or_select_stack(
        stack_name="endpoint", project_name="dockyard-endpoint-test", program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work / "project"), pulumi_home=str(work / "home"), env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(tools.parent), skip_version_check=True)),
    )
    try:
        stack.up(on_output=lambda line: None)
        assert engine.docker("volume", "ls", "--quiet", "--filter", f"name={name}") == name
    finally:
        stack.destroy(on_output=lambda line: None)
    assert engine.docker("volume", "ls", "--quiet", "--filter", f"name={name}") == ""


def test_the_provider_reaches_the_tls_engine_of_the_context(pulumi_tools, engine, docker_config, tmp_path):
    endpoint = resolve_endpoint({}, {"DOCKER_CONFIG": str(docker_config)})
    provider_creates_a_volume(pulumi_tools, endpoint, engine, tmp_path, os.environ["PATH"])


def test_the_provider_reaches_the_engine_over_ssh(pulumi_tools, engine, sshd, tmp_path):
    endpoint = resolve_endpoint({}, {"DOCKER_HOST": sshd.host()})
    provider_creates_a_volume(pulumi_tools, endpoint, engine, tmp_path, sshd.path_with_ssh_wrapper())
