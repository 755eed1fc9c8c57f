"""Runs the real `__main__.py` under Pulumi's mocks and records what it registers.

`run_program("dev")` reads `Pulumi.dev.yaml` (plus overrides), runs the program
in-process under `@pulumi.runtime.test` with `pulumi.runtime.set_mocks`, and returns every
registered resource with its inputs (secrets unwrapped, and which inputs were secret),
parent, dependencies and the stack's outputs. The provider SDKs still check
every argument, so a wrong argument name fails here as it would in `pulumi up`.

Pulumi's public API only (`set_mocks`, `runtime.test`, `MockMonitor`, `rpc`'s public
serialization), but for one read of the stack's exports: see `_record_stack_outputs`. The engine
client and kubeconfig reader are handed in with `using_host`, nothing is patched.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import Stack

from components.config.catalog import Catalog, ServiceSpec
from components.config.catalog_file import catalog_path, load_catalog
from components.plan.resolve import ResolvedStack, resolve
from components.plan.validate import validate
from components.targets.docker.endpoint import DEFAULT_DOCKER_HOST, DockerEndpoint
from components.targets.host import Host, using_host

PROJECT_DIR = Path(__file__).resolve().parent.parent
MAIN = PROJECT_DIR / "__main__.py"

# The catalog the program reads (catalog.yaml, or DOCKYARD_CATALOG's copy): tests derive
# which services, edges and ports to expect from it.
CATALOG: Catalog = load_catalog(catalog_path(PROJECT_DIR))
FAKE_DIGEST = "sha256:" + "ab" * 32
# The Docker config directory the program sees under run_program unless a test gives one: none.
NO_DOCKER_CONFIG = Path(__file__).resolve().parent / "no-docker-config"


@dataclass
class RegisteredResource:
    type: str
    name: str
    urn: str
    parent: str
    inputs: dict[str, Any]
    secret_inputs: set[str]  # top-level input names that held a secret anywhere inside
    dependencies: list[str]
    delete_before_replace: bool
    custom: bool
    replace_on_changes: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    provider: str = ""  # the provider reference ("urn::id") of a custom resource, when one is given


@dataclass
class ProgramRun:
    stack: str
    resources: list[RegisteredResource]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> RegisteredResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}; have: {[r.name for r in self.resources]}")
        return matches[0]

    def by_urn(self, urn: str) -> RegisteredResource:
        return next(r for r in self.resources if r.urn == urn)


def _contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def unwrap_secrets(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


class FakeEngine:
    """Stands in for the Docker Engine API the program queries (version, swap accounting,
    container health and state, published ports) and for the engine's machine (ports in use,
    free disk): the unit tier runs without an engine and whatever this machine runs. `endpoint`
    is the one the program resolved (set by run_program), as on the real DockerEngine."""

    def __init__(
        self,
        host: str = DEFAULT_DOCKER_HOST,
        *,
        api: str = "1.45",
        version: str = "26.1.5",
        swap_limit: bool = True,
        health: str = "healthy",
        states: list[dict[str, Any]] | None = None,
        logs: str = "",
        holders: Mapping[int, Any] | None = None,
        ports_in_use: set[int] | None = None,
        free: Mapping[str, int | None] | None = None,
    ):
        self.host, self.api, self.engine_version = host, api, version
        self.endpoint = DockerEndpoint(host, "given to FakeEngine")
        self.swap, self.status = swap_limit, health
        self.removed: list[str] = []
        self.stopped: list[str] = []
        # state(): each call takes the next of `states` (the last one repeats); default: running, `health`
        self.states, self.logs = list(states or []), logs
        self.holders, self.ports_in_use = dict(holders or {}), set(ports_in_use or ())
        self.free = dict(free or {})  # path -> free bytes; a path not listed has plenty

    def state(self, container_id: str) -> dict[str, Any]:
        if self.states:
            return self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"Status": "running", "Health": {"Status": self.status}, "RestartCount": 0, "ExitCode": 0}

    def log_tail(self, container_id: str, lines: int) -> str:
        return "\n".join(self.logs.splitlines()[-lines:])

    def stop_container(self, name: str, grace_seconds: int = 10) -> None:
        self.stopped.append(name)

    def published_ports(self) -> dict[int, Any]:
        return dict(self.holders)

    def port_in_use(self, port: int) -> bool | None:
        return port in self.ports_in_use

    def root_dir(self) -> str:
        return "/var/lib/docker"

    def free_bytes(self, path: str) -> int | None:
        return self.free.get(path, 1 << 50)

    def version(self) -> dict[str, Any]:
        return {"Version": self.engine_version, "ApiVersion": self.api}

    def swap_limit(self) -> bool:
        return self.swap

    def health(self, container_id: str) -> str:
        return self.status

    def remove_container(self, name: str) -> None:
        self.removed.append(name)


def _content_digest(inputs: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


# `new_resource_hook(args)`: (id, state) standing in for a provider, or None for the default mock.
ResourceHook = Callable[[pulumi.runtime.MockResourceArgs], "tuple[str | None, dict[str, Any]] | None"]


def _pulumi_test(fn: Callable[[], Any]) -> Callable[[], None]:
    """pulumi.runtime.test with its type: the SDK's decorator has no annotations (mypy.ini lets
    typed code call pulumi.runtime.mocks' untyped functions, untyped_calls_exclude)."""
    wrapped: Callable[[], None] = pulumi.runtime.test(fn)
    return wrapped


class _Mocks(pulumi.runtime.Mocks):
    """Gives each resource a plausible id and state, like the providers would."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]], new_resource_hook: ResourceHook | None):
        self.stack_outputs = stack_outputs
        self.new_resource_hook = new_resource_hook

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        if self.new_resource_hook is not None:
            result = self.new_resource_hook(args)
            if result is not None:
                return result
        state = dict(args.inputs)
        if args.typ == "docker-build:index:Image":
            tags = state.get("tags") or []
            pushed = bool(state.get("push"))
            # Like the real provider: a digest for a loaded build too, changing with what is built.
            digest = FAKE_DIGEST if pushed else _content_digest(state)
            state["digest"] = digest
            # The real provider's `ref` is the first tag at the build's digest, loaded builds too
            # (provider/internal/image.go: addDigest whenever the exporter returned a digest).
            state["ref"] = f"{tags[0]}@{digest}" if tags else ""
        elif args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = "p" * int(state.get("length", 16))
        elif args.typ == "docker:index/remoteImage:RemoteImage":
            # A new pull (another build's digest among the triggers) finds another image.
            state["imageId"] = _content_digest({"name": state.get("name"), "triggers": state.get("pullTriggers")})
        elif args.typ == "random:index/randomBytes:RandomBytes":
            state["hex"] = "5a" * int(state.get("length", 32))
            state["base64"] = ""
        elif args.typ == "docker:index/container:Container":
            state["exitCode"] = 0 if state.get("attach") else None
        elif args.typ == "pulumi:pulumi:StackReference":
            name = state.get("name", args.name)
            if name not in self.stack_outputs:
                raise Exception(f"unknown stack {name!r}")
            state["outputs"] = dict(self.stack_outputs[name])
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(MockMonitor):
    """The mock monitor `set_mocks` takes, recording each registration as the engine receives it."""

    def __init__(self, mocks: _Mocks):
        super().__init__(mocks)
        self.registered: list[RegisteredResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        response = MockMonitor.RegisterResource(self, request)  # (also gives this thread an event loop to deserialize on)
        if request.type != "pulumi:pulumi:Stack":
            raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
            timeouts = request.customTimeouts
            self.registered.append(
                RegisteredResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    inputs=unwrap_secrets(raw),
                    secret_inputs={k for k, v in raw.items() if _contains_secret(v)},
                    dependencies=list(request.dependencies),
                    delete_before_replace=request.deleteBeforeReplace,
                    custom=request.custom,
                    replace_on_changes=list(request.replaceOnChanges),
                    retain_on_delete=request.retainOnDelete,
                    custom_timeouts={k: v for k, v in (("create", timeouts.create), ("update", timeouts.update)) if v},
                    provider=request.provider,
                )
            )
        return response


async def _record_stack_outputs(into: dict[str, Any]) -> None:
    """The stack's outputs (what the program exported) into `into`, serialized as the engine
    receives them (secrets unwrapped; unknown in a preview: rpc.UNKNOWN).

    The one internal the harness uses: no public API reads a stack's exports under mocks. The
    root stack `set_mocks` makes registers its outputs as soon as it is made (none yet), so the
    exports are read from that stack's `outputs` (`pulumi.runtime.stack.Stack.outputs`, an
    attribute of the SDK's internal Stack class, which `pulumi.export` fills) and serialized with
    the public `rpc.serialize_properties`."""
    root = pulumi.runtime.get_root_resource()
    if not isinstance(root, Stack):
        raise RuntimeError(f"the root resource under mocks is {root!r}, not the SDK's Stack: its exports cannot be read")
    exports = root.outputs
    serialized = await rpc.serialize_properties(exports, {})
    into.update(unwrap_secrets(rpc.deserialize_properties(serialized, keep_unknowns=True)))


def _cancel_leftover_tasks() -> None:
    """A failed run leaves registrations pending on the event loop; left alone they would
    run (and fail) inside the next program run of the same test process. (The Outputs a failed
    run leaves tracked are forgotten by `pulumi.runtime.test` when the next run starts.)"""
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def talks_to_edges(services: Iterable[ServiceSpec]) -> set[tuple[str, str]]:
    """(client, server) pairs: exactly the network paths the catalog declares."""
    return {(spec.name, server) for spec in services for server in spec.talks_to}


def stack_config(stack: str) -> dict[str, Any]:
    """The `dockyard:` config of Pulumi.<stack>.yaml, keys without the namespace."""
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text()) if path.exists() else {}
    config = (document or {}).get("config") or {}
    result = {}
    for key, value in config.items():
        namespace, _, name = key.partition(":")
        if namespace == "dockyard":
            result[name] = value
    return result


def resolved_stack(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | set[str] | None = None,
    config_stack: str | None = None,
    catalog: Catalog = CATALOG,
) -> ResolvedStack:
    """What the program resolves for `stack` (as run_program runs it with the same config and
    secrets): tests derive what to expect from it rather than from service names."""
    raw = merge(stack_config(config_stack or stack), config or {})
    return resolve(catalog, validate(stack, raw, set(secrets or ()), PROJECT_DIR, catalog))


def merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides into a copy of base; a value of None deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def run_program(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    secrets: Mapping[str, str] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
    base_config: bool = True,
    config_stack: str | None = None,
    new_resource_hook: ResourceHook | None = None,
    engine: Any = None,
    catalog: Path | None = None,
    docker_config: Mapping[str, Any] | None = None,
    docker_env: Mapping[str, str] | None = None,
    connect: Callable[[DockerEndpoint], Any] | None = None,
) -> ProgramRun:
    """Run __main__.py for `stack` under mocks.

    `config` deep-merges into Pulumi.<stack>.yaml's `dockyard:` values;
    `secrets` are set as secret config; `stack_outputs` answers StackReferences;
    `config_stack` reads another stack's file (a throwaway stack with dev's settings);
    `new_resource_hook(args)` may return (id, state) to stand in for a provider;
    `engine` answers the program's Docker Engine API questions (default: a current, healthy one);
    `catalog` is another catalog file for the program (DOCKYARD_CATALOG);
    `docker_config` are the stack's `docker:` keys (host, context, certPath, sshOpts);
    `docker_env` are the only variables the engine resolution sees (DOCKER_HOST, DOCKER_CONTEXT,
    DOCKER_CONFIG, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH…; os.environ is left alone): by default none
    and no Docker config directory, so the engine resolves to the default socket whatever the
    machine running the tests has;
    `connect(endpoint)` makes the client for the engine the program resolves (engine tier: the real
    DockerEngine or a subclass); by default `engine` answers, whatever the endpoint.
    """
    values = merge(stack_config(config_stack or stack) if base_config else {}, config or {})
    all_config = {f"dockyard:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in values.items()}
    all_config.update({f"dockyard:{k}": v for k, v in (secrets or {}).items()})
    all_config.update(
        {f"docker:{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in (docker_config or {}).items()}
    )
    mocks = _Mocks(stack_outputs or {}, new_resource_hook)
    monitor = _RecordingMonitor(mocks)
    outputs: dict[str, Any] = {}

    @_pulumi_test
    def run() -> Any:
        # This runs in the test's own asyncio task, so its context is a copy of the caller's: the
        # stack set_mocks makes here and the config set here are this run's alone, as in a
        # `pulumi up` process of its own, and the next run starts from none.
        if pulumi.runtime.get_root_resource() is not None:
            raise RuntimeError("a Pulumi stack is already the root here: run_program runs each program in a fresh one")
        pulumi.runtime.set_mocks(mocks, project="dockyard", stack=stack, preview=preview, monitor=monitor)
        pulumi.runtime.set_all_config(all_config, [f"dockyard:{k}" for k in (secrets or {})])
        runpy.run_path(str(MAIN), run_name="__main__")
        return _record_stack_outputs(outputs)  # awaited by runtime.test

    saved_env = os.environ.pop("PULUMI_CONFIG", None)
    saved_catalog = os.environ.get("DOCKYARD_CATALOG")
    if catalog is not None:
        os.environ["DOCKYARD_CATALOG"] = str(catalog)
    sys.path.insert(0, str(PROJECT_DIR))
    fake_engine = engine or FakeEngine()
    host = Host(
        # The engine is resolved from these variables only (no Docker config directory unless given).
        environ=lambda: {"DOCKER_CONFIG": str(NO_DOCKER_CONFIG), **(docker_env or {})},
        connect=connect or (lambda endpoint: _with_endpoint(fake_engine, endpoint)),
        kube_contexts=lambda paths: {"minikube", "staging", "prod"},
    )
    try:
        with using_host(host):
            run()  # returns once every registration and output of the program has resolved
    except BaseException:
        _cancel_leftover_tasks()
        raise
    finally:
        sys.path.remove(str(PROJECT_DIR))
        if saved_env is not None:
            os.environ["PULUMI_CONFIG"] = saved_env
        os.environ.pop("DOCKYARD_CATALOG", None)
        if saved_catalog is not None:
            os.environ["DOCKYARD_CATALOG"] = saved_catalog
    return ProgramRun(stack=stack, resources=monitor.registered, outputs=outputs)


def _with_endpoint(engine: FakeEngine, endpoint: DockerEndpoint) -> FakeEngine:
    engine.endpoint, engine.host = endpoint, endpoint.host
    return engine


STAGING_DIGEST_REFS = {
    spec.name: f"registry.example.com/dockyard/{spec.name}@{FAKE_DIGEST}" for spec in CATALOG.services if spec.build
}


def outside_inputs(stack: str) -> dict[str, Any]:
    """What a stack needs from outside its config file to evaluate: the secrets an operator
    sets and, for prod, the outputs of the stack it promotes from. Keyword args for run_program."""
    if stack == "prod":
        source = (stack_config("prod").get("promotion") or {}).get("fromStack", "")
        return {
            "secrets": {"databaseUrl": "postgresql+psycopg://todo:secret@db.example.com:5432/todo"},
            "stack_outputs": {source: {"images": STAGING_DIGEST_REFS}},
        }
    if stack == "staging":
        return {"secrets": {"registryPassword": "registry-token"}}
    return {}
