"""A test-only stand-in for the Docker providers: it creates, on the real engine, the
networks, volumes, containers and images the program registers, from exactly the
inputs the program passed, so the program's own definitions are what runs.

Containers are created through the Engine API (a Unix socket, stdlib only) because
the CLI cannot express everything the provider sends (exec-form health checks).
Images are built with Debian's docker client and BuildKit, as the provider would.
Everything it makes also carries the engine tier's session label for clean-up.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from components.durations import duration_nanos
from components.model import ResolvedStack, Service
from tests.engine import dockerlib as dl
from tests.harness import CATALOG, unwrap_secrets

SOCKET = "/var/run/docker.sock"
NANOS = 1_000_000_000


class EngineError(RuntimeError):
    pass


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, timeout: float):
        super().__init__("localhost", timeout=timeout)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCKET)


def engine_api(method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
    connection = _UnixConnection(timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status >= 400:
        raise EngineError(f"{method} {path}: {response.status} {data.decode(errors='replace')}")
    return json.loads(data) if data else None


def _duration(text: str | None) -> int:
    """Go duration such as `10s` or `500ms` -> nanoseconds (what the Engine API takes)."""
    return duration_nanos(text) if text else 0


def _labels(items: list[dict] | None) -> dict[str, str]:
    labels = {item["label"]: str(item["value"]) for item in items or []}
    labels[dl.TEST_LABEL] = dl.SESSION
    return labels


def _mounts(volumes: list[dict] | None) -> list[dict]:
    mounts = []
    for volume in volumes or []:
        if "volumeName" in volume:
            mounts.append({"Type": "volume", "Source": volume["volumeName"], "Target": volume["containerPath"]})
        else:
            mounts.append(
                {
                    "Type": "bind",
                    "Source": volume["hostPath"],
                    "Target": volume["containerPath"],
                    "ReadOnly": bool(volume.get("readOnly")),
                }
            )
    return mounts


def container_body(inputs: dict[str, Any]) -> dict[str, Any]:
    """The Engine API's create-container body for a `docker:index/container:Container`'s inputs."""
    memory = int(inputs["memory"]) * 2**20 if inputs.get("memory") else 0
    ports = inputs.get("ports") or []
    health = inputs.get("healthcheck")
    networks = inputs.get("networksAdvanced") or []
    body = {
        "Image": inputs["image"],
        "Cmd": inputs.get("command"),
        "Env": inputs.get("envs") or [],
        "User": inputs.get("user", ""),
        "Labels": _labels(inputs.get("labels")),
        "ExposedPorts": {f"{int(p['internal'])}/tcp": {} for p in ports},
        "StopTimeout": int(inputs["stopTimeout"]) if inputs.get("stopTimeout") else None,
        "Healthcheck": {
            "Test": health["tests"],
            "Interval": _duration(health.get("interval")),
            "Timeout": _duration(health.get("timeout")),
            "Retries": int(health.get("retries", 0)),
            "StartPeriod": _duration(health.get("startPeriod")),
            "StartInterval": _duration(health.get("startInterval")),
        }
        if health
        else None,
        "HostConfig": {
            "ReadonlyRootfs": bool(inputs.get("readOnly")),
            "Tmpfs": inputs.get("tmpfs") or {},
            "CapDrop": (inputs.get("capabilities") or {}).get("drops"),
            "CapAdd": (inputs.get("capabilities") or {}).get("adds"),
            "SecurityOpt": inputs.get("securityOpts"),
            "Memory": memory,
            "MemorySwap": int(inputs["memorySwap"]) * 2**20 if inputs.get("memorySwap") else 0,
            "NanoCpus": int(float(inputs["cpus"]) * NANOS) if inputs.get("cpus") else 0,
            "PortBindings": {
                f"{int(p['internal'])}/tcp": [{"HostIp": p["ip"], "HostPort": str(int(p["external"]))}] for p in ports
            },
            "Mounts": _mounts(inputs.get("volumes")),
            "RestartPolicy": {"Name": inputs.get("restart", "no")},
            "LogConfig": {"Type": inputs.get("logDriver", "json-file"), "Config": inputs.get("logOpts") or {}},
            "NetworkMode": networks[0]["name"] if networks else "default",
        },
        "NetworkingConfig": {
            "EndpointsConfig": {n["name"]: {"Aliases": n.get("aliases") or []} for n in networks},
        },
    }
    return body


def _quoted(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def container_state(name: str) -> dict:
    return engine_api("GET", f"/containers/{_quoted(name)}/json")["State"]


def wait_healthy(name: str, timeout: float) -> float:
    """Seconds until healthy; raises with the container's logs when it is not."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        state = container_state(name)
        status = (state.get("Health") or {}).get("Status")
        if status == "healthy":
            return time.monotonic() - start
        if not state.get("Running") or status == "unhealthy":
            break
        time.sleep(0.5)
    raise EngineError(
        f"container {name} did not become healthy in {timeout:.0f} s: {container_state(name)}\n{dl.logs(name)}"
    )


def remove_container(name: str) -> None:
    engine_api("DELETE", f"/containers/{_quoted(name)}?force=true&v=false", timeout=120)


def stop_container(name: str, seconds: int = 30) -> None:
    engine_api("POST", f"/containers/{_quoted(name)}/stop?t={seconds}", timeout=seconds + 30)


def start_container(name: str) -> None:
    engine_api("POST", f"/containers/{_quoted(name)}/start")


def run_container(inputs: dict[str, Any]) -> int | None:
    """Create and start a container as the provider does; wait for health or for exit.

    Returns the exit code of an attached (one-shot) container, else None.
    """
    name = inputs["name"]
    engine_api("POST", f"/containers/create?name={_quoted(name)}", container_body(inputs))
    start_container(name)
    if inputs.get("attach"):
        result = engine_api("POST", f"/containers/{_quoted(name)}/wait", timeout=600)
        return int(result["StatusCode"])
    if inputs.get("wait"):
        wait_healthy(name, float(inputs.get("waitTimeout", 60)))
    return None


def build_image(inputs: dict[str, Any]) -> str:
    """`docker build` (BuildKit) from a `docker-build:index:Image`'s inputs; returns its first tag."""
    args = ["build", "--file", inputs["dockerfile"]["location"]]
    if inputs.get("target"):
        args += ["--target", inputs["target"]]
    for key, value in (inputs.get("buildArgs") or {}).items():
        args += ["--build-arg", f"{key}={value}"]
    for key, value in (inputs.get("labels") or {}).items():
        args += ["--label", f"{key}={value}"]
    for tag in inputs.get("tags") or []:
        args += ["--tag", tag]
    if {"inline": {}} in (inputs.get("cacheTo") or []):
        args += ["--build-arg", "BUILDKIT_INLINE_CACHE=1"]
    with tempfile.TemporaryDirectory() as secret_dir:
        for secret_id, value in (inputs.get("secrets") or {}).items():
            path = os.path.join(secret_dir, secret_id)
            with open(path, "w") as handle:
                handle.write(value)
            args += ["--secret", f"id={secret_id},src={path}"]
        result = subprocess.run(
            [dl.DOCKER, *args, inputs["context"]["location"]],
            capture_output=True,
            text=True,
            timeout=1200,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        )
    if result.returncode != 0:
        raise EngineError(f"build failed:\n{result.stderr[-4000:]}")
    return inputs["tags"][0]


@dataclass
class RealDocker:
    """The `new_resource_hook` for tests.harness.run_program; remembers what it made."""

    containers: dict[str, dict] = field(default_factory=dict)  # container name -> inputs
    timings: dict[str, float] = field(default_factory=dict)
    # container name -> health-check timing that replaces the program's (a what-if for benchmarks)
    first_create: float | None = None  # monotonic time the first container was created
    last_ready: float | None = None  # ... and the last one was healthy (or had exited, one-shot)

    @property
    def containers_up_seconds(self) -> float | None:
        """From the first container create to the last one healthy: what `pulumi up` spends on
        the containers once images are built."""
        if self.first_create is None or self.last_ready is None:
            return None
        return self.last_ready - self.first_create

    def __call__(self, args) -> tuple[str, dict] | None:
        inputs = unwrap_secrets(args.inputs)
        start = time.monotonic()
        if args.typ == "docker:index/network:Network":
            engine_api(
                "POST",
                "/networks/create",
                {
                    "Name": inputs["name"],
                    "Driver": inputs.get("driver", "bridge"),
                    "Labels": _labels(inputs.get("labels")),
                },
            )
            return inputs["name"], dict(inputs)
        if args.typ == "docker:index/volume:Volume":
            engine_api("POST", "/volumes/create", {"Name": inputs["name"], "Labels": _labels(inputs.get("labels"))})
            return inputs["name"], dict(inputs)
        if args.typ == "docker-build:index:Image":
            ref = build_image(inputs)
            self.timings[f"build {args.name}"] = time.monotonic() - start
            # As the provider reports a load: a digest of what was built (the image ID here).
            image_id = engine_api("GET", f"/images/{ref}/json")["Id"]
            return ref, {**inputs, "ref": ref, "digest": image_id}
        if args.typ == "docker:index/remoteImage:RemoteImage":
            # keep_locally on an image that exists: the provider reads its ID, pulls nothing.
            image_id = engine_api("GET", f"/images/{inputs['name']}/json")["Id"]
            return image_id, {**inputs, "imageId": image_id}
        if args.typ == "docker:index/container:Container":
            self.containers[inputs["name"]] = inputs
            if self.first_create is None:
                self.first_create = start
            exit_code = run_container(inputs)
            self.last_ready = max(self.last_ready or 0.0, time.monotonic())
            self.timings[f"start {inputs['name']}"] = time.monotonic() - start
            return inputs["name"], {**inputs, "exitCode": exit_code}
        if args.typ == "random:index/randomPassword:RandomPassword":
            return args.name, {**inputs, "result": secrets.token_hex(16)}
        return None

    def replace(self, name: str) -> None:
        """Replace a container as `pulumi up` does on a change: remove it, create it anew."""
        remove_container(name)
        run_container(self.containers[name])


def air_gapped_dev_config(
    *, tag: str, bases: dict[str, str], runtime_bases: dict[str, str] | None = None,
    host_ports: dict[str, int] | None = None,
) -> dict:
    """Dev settings that select dockyard's air-gapped images and free loopback ports; the
    program itself is unchanged. `bases`: service -> image, a built service's BASE_IMAGE
    (images.baseImages) or an upstream service's image (services.<name>.image);
    `runtime_bases`: built service -> its runtime stage's (distroless) base. Each public
    service is published on a free 127.0.0.1 port (`host_ports` chooses some)."""
    specs = CATALOG.by_name()
    services: dict[str, dict] = {}
    for name, image in bases.items():
        if specs[name].build is None:
            services.setdefault(name, {})["image"] = image
    for spec in CATALOG.services:
        if spec.public and spec.port:
            services.setdefault(spec.name, {})["hostPort"] = (host_ports or {}).get(spec.name) or free_port()
    images = {
        "tag": tag,
        "caBundle": str(dl.CA_BUNDLE),
        "baseImages": {name: image for name, image in bases.items() if specs[name].build is not None},
    }
    if runtime_bases:
        images["runtimeBaseImages"] = dict(runtime_bases)
    return {"images": images, "services": services}


_SECRET = re.compile(r"\{secret:([a-z0-9-]+)\}")


def service_env(service: Service, stack: ResolvedStack, values: dict[str, str]) -> dict[str, str]:
    """The env the program gives `service`, in the catalog's order: hosts and ports filled,
    each secret from `values` (a generated or config secret) or its template."""

    def filled(template: str) -> str:
        def secret(match: re.Match) -> str:
            name = match[1]
            if name in values:
                return values[name]
            if stack.secrets[name].template is None:
                raise KeyError(f"secret {name!r} needs a value")
            return filled(stack.secrets[name].template)

        return _SECRET.sub(secret, template)

    return {
        key: service.plain_env[key] if key in service.plain_env else filled(service.secret_env[key])
        for key in service.spec.env
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stack_filter(stack: str) -> str:
    return urllib.parse.quote(json.dumps({"label": [f"dockyard.dev/stack={stack}"]}))


def destroy(docker: RealDocker, stack: str) -> None:
    """What `pulumi destroy` does: containers, then volumes and the network."""
    for name in reversed(list(docker.containers)):
        try:
            remove_container(name)
        except EngineError:
            pass  # already gone; the session finalizer sweeps by label anyway
    for kind in ("volumes", "networks"):
        listing = engine_api("GET", f"/{kind}?filters={stack_filter(stack)}")
        items = listing["Volumes"] if kind == "volumes" else listing
        for item in items or []:
            engine_api("DELETE", f"/{kind}/{item['Name']}")
