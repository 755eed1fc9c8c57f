"""Which Docker engine the program talks to: the docker CLI's order over a temporary Docker config
directory (contexts as `docker context create` writes them, environment variables, the stack's
`docker:` keys), the refusals, and the one endpoint handed to both the provider and the program's
own client. No engine is needed: tests/engine/test_engine_endpoints.py asks real ones."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from components.targets.docker.endpoint import (
    DEFAULT_DOCKER_HOST,
    DockerEndpoint,
    EngineSelectionError,
    context_dir_name,
    resolve_endpoint,
)
from components.targets.docker.engine import DockerEngine, engine_line
from components.targets.docker.preflight import docker_engine_problems
from components.targets.host import PreflightError
from testing.harness import FakeEngine, run_program

DOCKER_PROVIDER = "pulumi:providers:docker"


def write_context(config_dir: Path, name: str, host: str, *, tls: tuple[str, ...] = (),
                  skip_verify: bool = False) -> Path:
    """A context as `docker context create NAME --docker host=…,ca=…,cert=…,key=…` stores it;
    `tls` names the PEM files it keeps (ca, cert, key). Returns its TLS directory."""
    digest = context_dir_name(name)
    meta = config_dir / "contexts" / "meta" / digest / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({
        "Name": name, "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
    }))
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    for pem in tls:
        tls_dir.mkdir(parents=True, exist_ok=True)
        (tls_dir / f"{pem}.pem").write_text(f"-----BEGIN {pem.upper()} of {name}-----\n")
    return tls_dir


def use_context(config_dir: Path, name: str) -> None:
    """`docker context use NAME`: config.json's currentContext."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def cert_dir(path: Path, *pems: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for pem in pems:
        (path / f"{pem}.pem").write_text(f"-----BEGIN {pem.upper()}-----\n")
    return path


@pytest.fixture
def docker_dir(tmp_path) -> Path:
    """A Docker config directory with two contexts: 'remote' (tcp with TLS) and 'buildbox' (ssh)."""
    config_dir = tmp_path / "docker-config"
    write_context(config_dir, "remote", "tcp://127.0.0.1:2376", tls=("ca", "cert", "key"))
    write_context(config_dir, "buildbox", "ssh://builder@127.0.0.1:2222")
    return config_dir


def refused(config=None, env=None) -> str:
    with pytest.raises(EngineSelectionError) as raised:
        resolve_endpoint(config, env)
    return str(raised.value)


# --- the order ---------------------------------------------------------------------------------


def test_nothing_set_is_the_default_socket(tmp_path):
    endpoint = resolve_endpoint({}, {"DOCKER_CONFIG": str(tmp_path / "absent")})
    assert endpoint.host == DEFAULT_DOCKER_HOST and endpoint.tls is None
    assert endpoint.source.startswith("the default socket")


def test_the_current_context_of_the_config_file(docker_dir):
    use_context(docker_dir, "remote")
    endpoint = resolve_endpoint({}, {"DOCKER_CONFIG": str(docker_dir)})
    tls_dir = docker_dir / "contexts" / "tls" / context_dir_name("remote") / "docker"
    assert endpoint.host == "tcp://127.0.0.1:2376" and endpoint.context == "remote"
    assert endpoint.source == f"context 'remote' (currentContext in {docker_dir / 'config.json'})"
    assert (endpoint.tls.ca, endpoint.tls.cert, endpoint.tls.key) == (
        tls_dir / "ca.pem", tls_dir / "cert.pem", tls_dir / "key.pem")
    assert endpoint.tls.verify


def test_the_config_directory_defaults_to_dot_docker_in_home(tmp_path):
    write_context(tmp_path / ".docker", "buildbox", "ssh://builder@127.0.0.1:2222")
    use_context(tmp_path / ".docker", "buildbox")
    endpoint = resolve_endpoint({}, {"HOME": str(tmp_path)})
    assert endpoint.host == "ssh://builder@127.0.0.1:2222" and endpoint.tls is None
    assert "over ssh" in endpoint.describe()


def test_docker_context_beats_the_current_context(docker_dir):
    use_context(docker_dir, "remote")
    endpoint = resolve_endpoint({}, {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "buildbox"})
    assert endpoint.host == "ssh://builder@127.0.0.1:2222"
    assert endpoint.source == "context 'buildbox' (DOCKER_CONTEXT)"


def test_docker_host_beats_docker_context_and_the_current_context(docker_dir):
    use_context(docker_dir, "remote")
    env = {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "buildbox", "DOCKER_HOST": "unix:///run/user/1000/docker.sock"}
    endpoint = resolve_endpoint({}, env)
    assert (endpoint.host, endpoint.source, endpoint.tls) == ("unix:///run/user/1000/docker.sock", "DOCKER_HOST", None)


def test_the_stacks_docker_host_beats_everything(docker_dir):
    use_context(docker_dir, "remote")
    env = {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "buildbox", "DOCKER_HOST": "unix:///elsewhere.sock"}
    endpoint = resolve_endpoint({"host": "ssh://me@127.0.0.1"}, env)
    assert (endpoint.host, endpoint.source) == ("ssh://me@127.0.0.1", "stack config docker:host")


def test_the_stacks_docker_context_beats_the_environment(docker_dir):
    env = {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "buildbox", "DOCKER_HOST": "unix:///elsewhere.sock"}
    endpoint = resolve_endpoint({"context": "remote"}, env)
    assert endpoint.host == "tcp://127.0.0.1:2376" and endpoint.tls is not None
    assert endpoint.source == "context 'remote' (stack config docker:context)"


@pytest.mark.parametrize("select", ["DOCKER_CONTEXT", "currentContext"])
def test_the_context_named_default_is_the_clis_own(docker_dir, select):
    env = {"DOCKER_CONFIG": str(docker_dir)}
    if select == "DOCKER_CONTEXT":
        env["DOCKER_CONTEXT"] = "default"
    else:
        use_context(docker_dir, "default")
    assert resolve_endpoint({}, env).host == DEFAULT_DOCKER_HOST


def test_empty_variables_count_as_unset(docker_dir):
    use_context(docker_dir, "remote")
    env = {"DOCKER_CONFIG": str(docker_dir), "DOCKER_HOST": "", "DOCKER_CONTEXT": ""}
    assert resolve_endpoint({"host": None, "context": ""}, env).context == "remote"


# --- TLS from the environment (DOCKER_HOST, docker:host) ----------------------------------------


def test_docker_tls_verify_reads_docker_cert_path(tmp_path):
    certs = cert_dir(tmp_path / "certs", "ca", "cert", "key")
    env = {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
    endpoint = resolve_endpoint({}, env)
    assert (endpoint.tls.ca, endpoint.tls.cert, endpoint.tls.key, endpoint.tls.verify) == (
        certs / "ca.pem", certs / "cert.pem", certs / "key.pem", True)


def test_without_docker_cert_path_the_files_are_in_the_config_directory(tmp_path):
    config_dir = cert_dir(tmp_path / "docker-config", "ca", "cert", "key")
    env = {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": str(config_dir)}
    assert resolve_endpoint({}, env).tls.ca == config_dir / "ca.pem"


def test_docker_tls_without_verify_needs_no_ca(tmp_path):
    certs = cert_dir(tmp_path / "certs", "cert", "key")
    endpoint = resolve_endpoint({}, {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(certs)})
    assert endpoint.tls.ca is None and not endpoint.tls.verify
    assert "NOT checked" in endpoint.describe()


def test_tcp_without_tls_settings_is_plain_and_gets_the_clis_default_port(tmp_path):
    certs = cert_dir(tmp_path / "certs", "ca", "cert", "key")
    plain = resolve_endpoint({}, {"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_CERT_PATH": str(certs)})
    assert (plain.host, plain.tls) == ("tcp://127.0.0.1:2375", None)  # DOCKER_CERT_PATH alone: no TLS (CLI)
    tls = resolve_endpoint({}, {"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)})
    assert tls.host == "tcp://127.0.0.1:2376"


def test_the_stacks_docker_host_takes_tls_from_docker_cert_path_config(tmp_path):
    certs = cert_dir(tmp_path / "certs", "ca", "cert", "key")
    endpoint = resolve_endpoint({"host": "tcp://127.0.0.1:2376", "certPath": str(certs)}, {})
    assert endpoint.tls.cert == certs / "cert.pem" and endpoint.tls.verify


def test_the_stacks_docker_host_takes_tls_from_the_environment_like_docker_h(tmp_path):
    certs = cert_dir(tmp_path / "certs", "ca", "cert", "key")
    endpoint = resolve_endpoint({"host": "tcp://127.0.0.1:2376"}, {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)})
    assert endpoint.tls.ca == certs / "ca.pem"


def test_tls_settings_do_not_apply_to_unix_or_ssh_engines(tmp_path):
    certs = cert_dir(tmp_path / "certs", "ca", "cert", "key")
    for host in ("unix:///var/run/docker.sock", "ssh://me@127.0.0.1"):
        env = {"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}
        assert resolve_endpoint({}, env).tls is None


def test_a_context_that_skips_verification(tmp_path):
    write_context(tmp_path, "lab", "tcp://127.0.0.1:2376", tls=("cert", "key"), skip_verify=True)
    endpoint = resolve_endpoint({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "lab"})
    assert endpoint.tls.verify is False and endpoint.tls.ca is None


def test_a_tcp_context_without_tls_files_is_plain(tmp_path):
    write_context(tmp_path, "plain", "tcp://127.0.0.1:2375")
    assert resolve_endpoint({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "plain"}).tls is None


# --- refusals, each with what was tried and how to fix it ----------------------------------------


def test_a_context_that_does_not_exist_lists_those_that_do(docker_dir):
    message = refused({}, {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "colima"})
    assert "the Docker context 'colima' (DOCKER_CONTEXT) does not exist in" in message
    assert str(docker_dir / "contexts") in message and "contexts there: buildbox, remote" in message
    assert "docker context create colima" in message and "docker context use" in message


def test_a_current_context_that_does_not_exist_names_the_config_file(tmp_path):
    use_context(tmp_path, "desktop-linux")
    message = refused({}, {"DOCKER_CONFIG": str(tmp_path)})
    assert f"'desktop-linux' (currentContext in {tmp_path / 'config.json'}) does not exist" in message
    assert "contexts there: none" in message


def test_docker_tls_verify_with_missing_files_names_them(tmp_path):
    certs = cert_dir(tmp_path / "certs", "cert")
    message = refused({}, {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)})
    assert f"DOCKER_TLS_VERIFY is set for tcp://127.0.0.1:2376, but {certs / 'ca.pem'}, {certs / 'key.pem'} are missing" in message
    assert "DOCKER_CERT_PATH" in message and "unset DOCKER_TLS_VERIFY" in message


def test_docker_tls_verify_without_cert_path_names_the_config_directory(tmp_path):
    message = refused({}, {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CONFIG": str(tmp_path)})
    assert f"the Docker config directory {tmp_path} (DOCKER_CERT_PATH is not set)" in message


def test_a_context_whose_tls_key_is_missing(tmp_path):
    write_context(tmp_path, "remote", "tcp://127.0.0.1:2376", tls=("ca", "cert"))
    message = refused({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "remote"})
    assert "the Docker context 'remote' (DOCKER_CONTEXT) talks TLS to tcp://127.0.0.1:2376" in message
    assert "key.pem is missing" in message and "docker context create remote --docker host=tcp://127.0.0.1:2376" in message


def test_a_context_without_its_ca_cannot_check_the_engine(tmp_path):
    write_context(tmp_path, "remote", "tcp://127.0.0.1:2376", tls=("cert", "key"))
    assert "ca.pem is missing" in refused({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "remote"})


def test_a_cert_path_in_config_without_its_files(tmp_path):
    message = refused({"host": "tcp://127.0.0.1:2376", "certPath": str(tmp_path)}, {})
    assert f"docker:certPath is {tmp_path}, but" in message and "ca.pem" in message


def test_docker_host_and_docker_context_in_config_at_once(tmp_path):
    message = refused({"host": "unix:///x.sock", "context": "remote"}, {})
    assert "both docker:host (unix:///x.sock) and docker:context (remote) are set" in message


def test_pem_text_in_config_is_refused_with_the_file_based_way(tmp_path):
    message = refused({"host": "tcp://127.0.0.1:2376", "keyMaterial": "set", "certMaterial": "set"}, {})
    assert "docker:certMaterial is set" in message and "docker:keyMaterial is set" in message
    assert "docker:certPath" in message


@pytest.mark.parametrize("host", ["http://127.0.0.1:2375", "npipe:////./pipe/docker_engine", "tcp://", "unix://"])
def test_addresses_no_transport_speaks(host):
    assert f"the Docker engine address {host!r}" in refused({}, {"DOCKER_HOST": host})


def test_an_unreadable_config_file(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    assert f"the Docker config file {tmp_path / 'config.json'} cannot be read" in refused({}, {"DOCKER_CONFIG": str(tmp_path)})


def test_a_context_without_a_docker_endpoint(tmp_path):
    meta = tmp_path / "contexts" / "meta" / context_dir_name("k8s-only") / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": "k8s-only", "Endpoints": {}}))
    assert "has no docker endpoint" in refused({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "k8s-only"})


# --- one endpoint for the provider and the program ------------------------------------------------


def test_provider_args_carry_the_tls_files_and_blank_what_the_provider_would_default(docker_dir):
    endpoint = resolve_endpoint({"context": "remote"}, {"DOCKER_CONFIG": str(docker_dir)})
    args = endpoint.provider_args()
    assert args["host"] == "tcp://127.0.0.1:2376"
    assert args["ca_material"].startswith("-----BEGIN CA of remote")
    assert args["cert_material"].startswith("-----BEGIN CERT of remote")
    assert args["key_material"].startswith("-----BEGIN KEY of remote")
    # Left to their defaults, DOCKER_CONTEXT would override host and DOCKER_CERT_PATH would clash with
    # the PEM inputs in the provider (terraform-provider-docker's configure and MakeClient).
    assert (args["context"], args["cert_path"], args["ssh_opts"]) == ("", "", [])


def test_provider_args_without_tls_blank_all_tls_inputs():
    args = DockerEndpoint("ssh://me@127.0.0.1", "DOCKER_HOST", ssh_opts=("-o", "ConnectTimeout=5")).provider_args()
    assert args == {"host": "ssh://me@127.0.0.1", "context": "", "cert_path": "", "ca_material": "",
                    "cert_material": "", "key_material": "", "ssh_opts": ["-o", "ConnectTimeout=5"]}


def test_an_unverified_engine_gets_no_ca_so_the_provider_skips_verification_too(tmp_path):
    write_context(tmp_path, "lab", "tcp://127.0.0.1:2376", tls=("ca", "cert", "key"), skip_verify=True)
    args = resolve_endpoint({}, {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "lab"}).provider_args()
    assert args["ca_material"] == "" and args["cert_material"] and args["key_material"]


def docker_resources(run):
    return [r for r in run.resources if r.type.startswith("docker:")]


def test_the_program_hands_the_current_context_to_the_provider_and_its_own_client(docker_dir, caplog):
    use_context(docker_dir, "remote")
    engine = FakeEngine()
    with caplog.at_level(logging.INFO):
        run = run_program("dev", engine=engine, docker_env={"DOCKER_CONFIG": str(docker_dir)})
    (provider,) = run.of_type(DOCKER_PROVIDER)
    assert provider.inputs["host"] == engine.host == "tcp://127.0.0.1:2376"
    assert engine.endpoint.context == "remote"
    assert provider.inputs["certMaterial"].startswith("-----BEGIN CERT of remote")
    assert "keyMaterial" in provider.secret_inputs and "certMaterial" not in provider.secret_inputs
    assert provider.inputs["context"] == "" and provider.inputs["certPath"] == ""
    # Every Docker resource (network, volumes, containers, the loaded images' reads) is on it.
    assert docker_resources(run)
    assert {r.provider.rsplit("::", 1)[0] for r in docker_resources(run)} == {provider.urn}
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Docker engine ")]
    assert said == [f"Docker engine tcp://127.0.0.1:2376 (context 'remote' (currentContext in "
                    f"{docker_dir / 'config.json'}); {engine.endpoint.tls.describe()})"]


def test_the_stacks_docker_host_reaches_the_provider(docker_dir):
    run = run_program("dev", docker_config={"host": "ssh://deploy@127.0.0.1:2222", "sshOpts": ["-o", "Port=2222"]},
                      docker_env={"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "remote"})
    (provider,) = run.of_type(DOCKER_PROVIDER)
    assert provider.inputs["host"] == "ssh://deploy@127.0.0.1:2222"
    assert json.loads(provider.inputs["sshOpts"]) == ["-o", "Port=2222"]  # a provider's list input goes as JSON
    assert provider.inputs["keyMaterial"] == ""


def test_the_unit_tier_ignores_the_machines_docker_settings(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")  # the harness resolves from its own variables
    monkeypatch.setenv("DOCKER_CONTEXT", "absent")
    engine = FakeEngine()
    run_program("dev", engine=engine)
    assert engine.host == DEFAULT_DOCKER_HOST


def test_a_missing_context_stops_the_program_before_any_resource(tmp_path):
    registered = []
    with pytest.raises(PreflightError) as raised:
        run_program("dev", docker_env={"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "colima"},
                    new_resource_hook=lambda args: registered.append(args.typ))
    assert "the Docker context 'colima' (DOCKER_CONTEXT) does not exist" in str(raised.value)
    assert "nothing was created" in str(raised.value) and registered == []


def test_stacks_without_docker_have_no_docker_provider():
    from testing.harness import outside_inputs

    run = run_program("staging", **outside_inputs("staging"))
    assert run.of_type(DOCKER_PROVIDER) == [] and docker_resources(run) == []


def test_an_unreachable_engine_is_named_with_where_it_came_from(tmp_path):
    engine = DockerEngine(resolve_endpoint({}, {"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}))
    (problem,) = docker_engine_problems(engine)
    assert f"no Docker engine answers at unix://{tmp_path}/absent.sock (DOCKER_HOST): No such file or directory" in problem
    assert "docker context use" in problem


def test_engine_line_says_the_engine_or_why_there_is_none(docker_dir):
    assert engine_line({}, {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "buildbox"}) == (
        "Docker engine ssh://builder@127.0.0.1:2222 (context 'buildbox' (DOCKER_CONTEXT); "
        "over ssh (your ssh client and ~/.ssh/config))")
    assert engine_line({}, {"DOCKER_CONFIG": str(docker_dir), "DOCKER_CONTEXT": "gone"}).startswith(
        "no Docker engine: the Docker context 'gone' (DOCKER_CONTEXT) does not exist")


def test_the_stacks_docker_context_default_is_docker_host_like_docker_context_default():
    endpoint = resolve_endpoint({"context": "default"}, {"DOCKER_HOST": "ssh://me@127.0.0.1"})
    assert endpoint.host == "ssh://me@127.0.0.1" and "DOCKER_HOST" in endpoint.source


def test_ssh_opts_that_are_not_a_list_are_refused():
    assert "docker:sshOpts is '-oPort=22': it must be a list" in refused({"sshOpts": "-oPort=22"}, {})
    with pytest.raises(PreflightError) as raised:
        run_program("dev", docker_config={"sshOpts": "-oPort=22"})
    assert "docker:sshOpts" in str(raised.value)
