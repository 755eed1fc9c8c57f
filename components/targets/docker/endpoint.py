"""Which Docker engine the program talks to, found as the docker CLI finds it.

The order (the first that is set wins), as `docker` resolves it:

1. the stack's `docker:host` (like `docker -H`), or its `docker:context` (like
   `docker --context`; both at once are refused, as the CLI refuses both flags);
2. `DOCKER_HOST`, with TLS from `DOCKER_TLS_VERIFY` / `DOCKER_TLS` and `DOCKER_CERT_PATH`
   (default: the Docker config directory);
3. `DOCKER_CONTEXT`;
4. `currentContext` in `config.json` of the Docker config directory (`DOCKER_CONFIG`,
   default `~/.docker`); a context's endpoint is `contexts/meta/<sha256 of its name>/meta.json`
   and its TLS material `contexts/tls/<sha256>/docker/{ca,cert,key}.pem`;
5. the default socket, `unix:///var/run/docker.sock`.

The context named `default` is the CLI's built-in one: `DOCKER_HOST`, else the default socket.
The same `DockerEndpoint` configures the Docker provider (`provider_args`) and `DockerEngine`,
so the preflight, the health checks and the provider talk to one engine.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
DEFAULT_CONTEXT = "default"  # the CLI's built-in context: DOCKER_HOST, else the default socket
SCHEMES = ("unix", "tcp", "ssh")
TIMEOUT_SECONDS = 10
API_VERSION = "1.44"  # Docker Engine 25: the oldest the stack runs on (health-check start intervals)
# The provider's TLS (terraform-provider-docker's buildHTTPClientFromBytes) needs the client
# certificate and key: with a CA alone it would speak plain HTTP to a TLS port.
CLIENT_CERT_NEEDED = "the Docker provider needs a client certificate and key for a TLS engine"


class EngineSelectionError(ValueError):
    """The Docker engine the settings select cannot be worked out: every problem at once."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS engine. `verify`: check the engine's certificate against `ca`."""

    ca: Path | None
    cert: Path | None
    key: Path | None
    verify: bool
    origin: str  # where the files were found, for messages

    def describe(self) -> str:
        check = "engine certificate checked against ca.pem" if self.verify else "engine certificate NOT checked"
        return f"TLS, client certificate from {self.origin}, {check}"


@dataclass(frozen=True)
class DockerEndpoint:
    """One Docker engine: its address, how it was chosen, and what it takes to reach it."""

    host: str
    source: str  # how it was chosen, in words: "DOCKER_HOST", "context 'x' (DOCKER_CONTEXT)", …
    tls: TlsFiles | None = None
    context: str | None = None
    ssh_opts: tuple[str, ...] = field(default_factory=tuple)

    @property
    def scheme(self) -> str:
        return urlsplit(self.host).scheme

    def describe(self) -> str:
        how = [self.source]
        if self.tls is not None:
            how.append(self.tls.describe())
        elif self.scheme == "ssh":
            how.append("over ssh (your ssh client and ~/.ssh/config)")
        return f"Docker engine {self.host} ({'; '.join(how)})"

    def provider_args(self) -> dict[str, Any]:
        """Inputs for an explicit `pulumi_docker.Provider` on this engine (PEM contents; the
        caller marks the key secret). Every input the provider would otherwise default from its
        own environment (DOCKER_CONTEXT, DOCKER_CERT_PATH, DOCKER_*_MATERIAL, DOCKER_SSH_OPTS)
        is given, so it cannot pick another engine than this one."""
        args: dict[str, Any] = {
            "host": self.host,
            "context": "",
            "cert_path": "",
            "ca_material": "",
            "cert_material": "",
            "key_material": "",
            "ssh_opts": list(self.ssh_opts),
        }
        if self.tls is not None:
            args["cert_material"] = _read(self.tls.cert)
            args["key_material"] = _read(self.tls.key)
            if self.tls.verify and self.tls.ca is not None:
                args["ca_material"] = _read(self.tls.ca)
        return args


def _read(path: Path | None) -> str:
    return path.read_text() if path is not None else ""


# --- resolution --------------------------------------------------------------------------------


def docker_config_dir(env: Mapping[str, str]) -> Path:
    """The Docker CLI's config directory: DOCKER_CONFIG, else ~/.docker."""
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]).expanduser()
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".docker"


def context_dir_name(name: str) -> str:
    """The directory the CLI keeps a context in: the hex SHA-256 of its name."""
    return hashlib.sha256(name.encode()).hexdigest()


def resolve_endpoint(
    stack_config: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> DockerEndpoint:
    """The engine the docker CLI would talk to, unless the stack names one (`docker:host` or
    `docker:context`). `stack_config` holds the stack's `docker:` keys without the namespace
    (host, context, certPath, sshOpts). Raises EngineSelectionError naming what to fix."""
    config = {k: v for k, v in (stack_config or {}).items() if v not in (None, "", [])}
    env = os.environ if env is None else env
    config_dir = docker_config_dir(env)
    ssh_opts = config.get("sshOpts") or ()
    problems = (
        []
        if isinstance(ssh_opts, (list, tuple))
        else [
            f"docker:sshOpts is {ssh_opts!r}: it must be a list of ssh arguments, "
            "e.g. `pulumi config set --path 'docker:sshOpts[0]' -oConnectTimeout=10`"
        ]
    )
    ssh_opts = tuple(str(opt) for opt in ssh_opts) if not problems else ()
    problems += [
        f"docker:{key} is set: dockyard reads TLS files, not PEM text, so that its own checks and the provider "
        "use the same ones; put ca.pem, cert.pem and key.pem in one directory and set docker:certPath to it "
        "(or use a Docker context: `docker context create NAME --docker host=…,ca=…,cert=…,key=…`)"
        for key in ("caMaterial", "certMaterial", "keyMaterial")
        if key in config
    ]
    if "host" in config and "context" in config:
        problems.append(
            f"both docker:host ({config['host']}) and docker:context ({config['context']}) are set: "
            "set one of them (`pulumi config rm docker:context` or `pulumi config rm docker:host`)"
        )
    if problems:
        raise EngineSelectionError(problems)

    if "host" in config:
        host = str(config["host"])
        if "certPath" in config:
            tls = _cert_path_tls(Path(str(config["certPath"])).expanduser(), "docker:certPath")
            return _endpoint(host, "stack config docker:host", tls if _takes_tls(host) else None, ssh_opts=ssh_opts)
        return _endpoint(host, "stack config docker:host", _env_tls(host, env, config_dir), ssh_opts=ssh_opts)
    if "context" in config:
        return _from_context(str(config["context"]), "stack config docker:context", env, config_dir, ssh_opts)
    if env.get("DOCKER_HOST"):
        host = env["DOCKER_HOST"]
        return _endpoint(host, "DOCKER_HOST", _env_tls(host, env, config_dir), ssh_opts=ssh_opts)
    if env.get("DOCKER_CONTEXT"):
        return _from_context(env["DOCKER_CONTEXT"], "DOCKER_CONTEXT", env, config_dir, ssh_opts)
    current = _current_context(config_dir)
    if current:
        return _from_context(current, f"currentContext in {config_dir / 'config.json'}", env, config_dir, ssh_opts)
    return DockerEndpoint(
        DEFAULT_DOCKER_HOST,
        "the default socket: no docker:host, DOCKER_HOST, DOCKER_CONTEXT or current context",
        ssh_opts=ssh_opts,
    )


def _takes_tls(host: str) -> bool:
    return urlsplit(host).scheme == "tcp"


def _endpoint(
    host: str, source: str, tls: TlsFiles | None, *, context: str | None = None, ssh_opts: tuple[str, ...] = ()
) -> DockerEndpoint:
    parts = urlsplit(host)
    if (
        parts.scheme not in SCHEMES
        or (parts.scheme != "unix" and not parts.hostname)
        or (parts.scheme == "unix" and not parts.path)
    ):
        raise EngineSelectionError(
            [
                f"{source} gives the Docker engine address {host!r}: dockyard (and its Docker provider) speak "
                "unix:///path/docker.sock, tcp://host:port (with or without TLS) and ssh://[user@]host[:port]"
            ]
        )
    if parts.scheme == "tcp" and parts.port is None:
        host = f"{host.rstrip('/')}:{2376 if tls is not None else 2375}"  # the CLI's default ports
    return DockerEndpoint(host, source, tls, context=context, ssh_opts=ssh_opts)


def _env_tls(host: str, env: Mapping[str, str], config_dir: Path) -> TlsFiles | None:
    """TLS as the CLI reads it from the environment: DOCKER_TLS_VERIFY (verified) or DOCKER_TLS
    (not verified) turn it on; the files are in DOCKER_CERT_PATH, else the config directory."""
    verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not (verify or env.get("DOCKER_TLS")) or not _takes_tls(host):
        return None
    switch = "DOCKER_TLS_VERIFY" if verify else "DOCKER_TLS"
    if env.get("DOCKER_CERT_PATH"):
        where, origin = Path(env["DOCKER_CERT_PATH"]).expanduser(), f"DOCKER_CERT_PATH={env['DOCKER_CERT_PATH']}"
    else:
        where, origin = config_dir, f"the Docker config directory {config_dir} (DOCKER_CERT_PATH is not set)"
    files = {name: where / f"{name}.pem" for name in ("ca", "cert", "key")}
    needed = ("ca", "cert", "key") if verify else ("cert", "key")
    missing = [str(files[name]) for name in needed if not files[name].is_file()]
    if missing:
        raise EngineSelectionError(
            [
                f"{switch} is set for {host}, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
                f"(TLS files are read from {origin}; {CLIENT_CERT_NEEDED}): point DOCKER_CERT_PATH at the directory "
                f"that holds ca.pem, cert.pem and key.pem, or unset {switch} for an engine without TLS"
            ]
        )
    return TlsFiles(files["ca"] if verify else None, files["cert"], files["key"], verify, str(where))


def _cert_path_tls(where: Path, key: str) -> TlsFiles:
    files = {name: where / f"{name}.pem" for name in ("ca", "cert", "key")}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise EngineSelectionError(
            [
                f"{key} is {where}, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing: "
                f"it must hold ca.pem, cert.pem and key.pem ({CLIENT_CERT_NEEDED})"
            ]
        )
    return TlsFiles(files["ca"], files["cert"], files["key"], True, str(where))


def _current_context(config_dir: Path) -> str | None:
    path = config_dir / "config.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise EngineSelectionError(
            [
                f"the Docker config file {path} cannot be read ({error}): fix or remove it, "
                "or select an engine with DOCKER_HOST or DOCKER_CONTEXT"
            ]
        ) from None
    current = document.get("currentContext") if isinstance(document, dict) else None
    return str(current) if current else None


def known_contexts(config_dir: Path) -> list[str]:
    names = []
    for meta in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        try:
            names.append(str(json.loads(meta.read_text())["Name"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(names)


def _from_context(
    name: str, how: str, env: Mapping[str, str], config_dir: Path, ssh_opts: tuple[str, ...]
) -> DockerEndpoint:
    source = f"context '{name}' ({how})"
    if name == DEFAULT_CONTEXT:
        # The CLI's built-in context: DOCKER_HOST (set here only when docker:context names it), else the socket.
        if env.get("DOCKER_HOST"):
            host = env["DOCKER_HOST"]
            return _endpoint(host, f"{source}: DOCKER_HOST", _env_tls(host, env, config_dir), ssh_opts=ssh_opts)
        return DockerEndpoint(DEFAULT_DOCKER_HOST, f"{source}: the default socket", ssh_opts=ssh_opts)
    digest = context_dir_name(name)
    meta_path = config_dir / "contexts" / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        found = ", ".join(known_contexts(config_dir)) or "none"
        raise EngineSelectionError(
            [
                f"the Docker context '{name}' ({how}) does not exist in {config_dir / 'contexts'} "
                f"(contexts there: {found}): create it (`docker context create {name} --docker host=…`), "
                f"select one that exists (`docker context use NAME`), or name the engine with DOCKER_HOST"
            ]
        ) from None
    except (OSError, ValueError) as error:
        raise EngineSelectionError(
            [f"the Docker context '{name}' ({how}): {meta_path} cannot be read ({error})"]
        ) from None
    endpoint = ((meta.get("Endpoints") or {}).get("docker") or {}) if isinstance(meta, dict) else {}
    host = str(endpoint.get("Host") or "")  # the CLI writes a string; anything else is refused below as one
    if not host:
        raise EngineSelectionError(
            [
                f"the Docker context '{name}' ({how}) has no docker endpoint in {meta_path}: "
                f"recreate it with `docker context create {name} --docker host=…`"
            ]
        )
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    files = {n: tls_dir / f"{n}.pem" for n in ("ca", "cert", "key")}
    present = {n for n, p in files.items() if p.is_file()}
    skip_verify = bool(endpoint.get("SkipTLSVerify"))
    tls = None
    if _takes_tls(host) and (present or skip_verify):
        if {"cert", "key"} - present:
            raise EngineSelectionError(
                [
                    f"the Docker context '{name}' ({how}) talks TLS to {host} but "
                    f"{', '.join(str(files[n]) for n in ('cert', 'key') if n not in present)} is missing "
                    f"({CLIENT_CERT_NEEDED}): recreate the context with "
                    f"`docker context create {name} --docker host={host},ca=…,cert=…,key=…`"
                ]
            )
        verify = not skip_verify
        if verify and "ca" not in present:
            raise EngineSelectionError(
                [
                    f"the Docker context '{name}' ({how}) talks TLS to {host} but {files['ca']} is missing, so the "
                    f"engine's certificate cannot be checked: recreate the context with ca=…"
                ]
            )
        tls = TlsFiles(
            files["ca"] if verify else None, files["cert"], files["key"], verify, f"context '{name}' ({tls_dir})"
        )
    return _endpoint(host, source, tls, context=name, ssh_opts=ssh_opts)


def given_endpoint(host: str) -> DockerEndpoint:
    """An address given directly (a test, a script), with TLS as DOCKER_TLS_VERIFY/DOCKER_CERT_PATH say."""
    return _endpoint(host, "given", _env_tls(host, os.environ, docker_config_dir(os.environ)))
