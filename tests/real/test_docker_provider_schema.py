"""The bridged docker plugin (machine/toolchain/docker-provider/) speaks the pulumi_docker 5.2.0 SDK's language.

The schema comes from the built plugin itself (`pulumi package get-schema` on the binary that
machine/toolchain/pulumi-tools.sh built), and is compared with what the installed SDK's classes declare for
the four resources the program uses: every input (the `<Resource>Args` getters) and output (the
resource's getters), whether each is required, and the same for every object type they reach
(`<Type>Args` in the SDK's inputs, `outputs.<Type>`). A renamed, added, dropped or newly required
field fails here rather than at `pulumi up`.

Skips with the reason when the tools are not built; fails instead under CI=true.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import typing
from pathlib import Path

import pytest

from tests.tiers import require

PROJECT_DIR = Path(__file__).resolve().parents[2]
SDK_VERSION = "5.2.0"
# Schema token -> the SDK's resource class name.
RESOURCES = {
    "docker:index/container:Container": "Container",
    "docker:index/network:Network": "Network",
    "docker:index/volume:Volume": "Volume",
    "docker:index/remoteImage:RemoteImage": "RemoteImage",
}
TYPE_PREFIX = "#/types/"


def _tools_bin() -> Path:
    out = subprocess.run(["bash", str(PROJECT_DIR / "machine" / "toolchain" / "pulumi-tools.sh"), "--print"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


@pytest.fixture(scope="module")
def sdk():
    try:
        import pulumi_docker
        from pulumi_docker import outputs
    except ImportError as e:
        require(False, f"the pulumi_docker SDK is not installed ({e}): pip install -r requirements.txt")
    from importlib.metadata import version

    assert version("pulumi_docker") == SDK_VERSION, "the program pins pulumi-docker==5.2.0 (requirements.txt)"
    return pulumi_docker, outputs


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    bin_dir = _tools_bin()
    cli, plugin = bin_dir / "pulumi", bin_dir / "pulumi-resource-docker"
    for tool in (cli, plugin):
        require(os.access(tool, os.X_OK), f"{tool.name} is not built at {tool} (run machine/toolchain/pulumi-tools.sh)")
    home = tmp_path_factory.mktemp("pulumi-home")
    env = {**os.environ, "PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"}
    proc = subprocess.run([str(cli), "package", "get-schema", str(plugin)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"pulumi package get-schema failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


# --- what the SDK declares --------------------------------------------------------------------

def _getters(cls: type) -> dict[str, typing.Callable]:
    """Pulumi name -> getter, for the properties `cls` itself declares with @pulumi.getter."""
    found = {}
    for attr in vars(cls).values():
        fget = getattr(attr, "fget", None)
        if fget is not None and hasattr(fget, "_pulumi_name"):
            found[fget._pulumi_name] = fget
    return found


def _by_init(cls: type) -> tuple[set[str], set[str]]:
    """(names, required names) of an Args or output class: its getters, required when its
    __init__ parameter of the same Python name has no default."""
    params = inspect.signature(cls.__init__).parameters
    names, required = set(), set()
    for name, fget in _getters(cls).items():
        param = params.get(fget.__name__)
        assert param is not None, f"{cls.__name__}.{fget.__name__} is a getter but no __init__ parameter"
        names.add(name)
        if param.default is inspect.Parameter.empty:
            required.add(name)
    return names, required


def _is_optional(annotation) -> bool:
    if isinstance(annotation, str):  # postponed annotations: "pulumi.Output[Optional[T]]"
        return annotation.replace(" ", "").split("[", 1)[-1].startswith("Optional[")
    inner = typing.get_args(annotation)[0] if typing.get_args(annotation) else annotation  # Output[T] -> T
    return type(None) in typing.get_args(inner)


def _resource_outputs(cls: type) -> tuple[set[str], set[str]]:
    """(names, required names) of a resource's outputs: required when the getter's type is
    Output[T] rather than Output[Optional[T]]."""
    getters = _getters(cls)
    required = {n for n, f in getters.items() if not _is_optional(inspect.signature(f).return_annotation)}
    return set(getters), required


# --- what the plugin's schema declares --------------------------------------------------------

def _refs(props: dict) -> set[str]:
    """Object type tokens that properties reach (directly, in arrays or in maps)."""
    found = set()

    def walk(spec: dict) -> None:
        ref = spec.get("$ref", "")
        if ref.startswith(TYPE_PREFIX):
            found.add(ref[len(TYPE_PREFIX):])
        for key in ("items", "additionalProperties"):
            if isinstance(spec.get(key), dict):
                walk(spec[key])
        for alt in spec.get("oneOf", []):
            walk(alt)

    for spec in props.values():
        walk(spec)
    return found


def _type_name(token: str) -> str:
    return token.rsplit(":", 1)[-1]


def _diff(what: str, schema_names: set[str], schema_required: set[str], sdk: tuple[set[str], set[str]]) -> list[str]:
    sdk_names, sdk_required = sdk
    problems = []
    if only := sorted(schema_names - sdk_names):
        problems.append(f"{what}: only in the plugin's schema: {only}")
    if only := sorted(sdk_names - schema_names):
        problems.append(f"{what}: only in the SDK: {only}")
    if diff := sorted((schema_required ^ sdk_required) & schema_names & sdk_names):
        problems.append(f"{what}: required-ness differs for {diff} (the plugin requires "
                        f"{sorted(schema_required & set(diff))}, the SDK {sorted(sdk_required & set(diff))})")
    return problems


@pytest.mark.parametrize("token", sorted(RESOURCES))
def test_resource_matches_sdk(token: str, schema: dict, sdk) -> None:
    pulumi_docker, outputs = sdk
    assert token in schema["resources"], f"the plugin has no resource {token}"
    res = schema["resources"][token]
    cls = getattr(pulumi_docker, RESOURCES[token])
    args = getattr(pulumi_docker, RESOURCES[token] + "Args")
    problems = []

    inputs = res.get("inputProperties", {})
    problems += _diff(f"{token} inputs", set(inputs), set(res.get("requiredInputs", [])), _by_init(args))
    props = res.get("properties", {})
    problems += _diff(f"{token} outputs", set(props), set(res.get("required", [])), _resource_outputs(cls))

    # Every object type the resource reaches, transitively: inputs against <Type>Args,
    # outputs against outputs.<Type>.
    for side, start in (("input", inputs), ("output", props)):
        seen, todo = set(), _refs(start)
        while todo:
            tok = todo.pop()
            if tok in seen:
                continue
            seen.add(tok)
            spec = schema["types"].get(tok)
            assert spec is not None, f"{token}: the plugin's schema references {tok} but does not define it"
            if spec.get("type") != "object":  # enums
                continue
            name = _type_name(tok)
            sdk_cls = getattr(pulumi_docker, name + "Args", None) if side == "input" else getattr(outputs, name, None)
            if sdk_cls is None:
                problems.append(f"{token}: the SDK has no {side} class for {tok}")
                continue
            problems += _diff(f"{tok} ({side})", set(spec.get("properties", {})), set(spec.get("required", [])),
                              _by_init(sdk_cls))
            todo |= _refs(spec.get("properties", {}))

    assert not problems, "the bridged plugin differs from pulumi_docker 5.2.0:\n" + "\n".join(problems)


def test_schema_names_the_package_and_sdk_version(schema: dict) -> None:
    assert schema["name"] == "docker"
    # tfgen leaves the version out of schema.json; when the plugin serves one, it is the SDK's.
    assert schema.get("version") in (None, SDK_VERSION)
