"""What both stand-in plugins need from the experimental provider SDK: property values as
plain Python and back, the resource's own token, and diagnostics marked as a stand-in's.
(Imported as a sibling: the plugins run as scripts from this directory.)"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

# The engine's wire form of an unknown value. The SDK cannot marshal `Computed`, but a
# string holding this sentinel is read back as unknown by the engine in previews.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def plain(value: PropertyValue) -> Any:
    """A PropertyValue as dict/list/str/float/bool/None, secrets unwrapped, unknowns as UNKNOWN.
    (The SDK's maps are read-only mappingproxies and its lists tuples.)"""
    inner = value.value
    if isinstance(inner, Computed):
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {key: plain(item) for key, item in inner.items()}
    if isinstance(inner, Sequence) and not isinstance(inner, str):
        return [plain(item) for item in inner]
    return inner


def without_dependencies(value: PropertyValue) -> PropertyValue:
    """The same value, secretness kept, without the dependency URNs a create must not return."""
    inner = value.value
    if isinstance(inner, Mapping):
        inner = {key: without_dependencies(item) for key, item in inner.items()}
    elif isinstance(inner, Sequence) and not isinstance(inner, str):
        inner = [without_dependencies(item) for item in inner]
    return PropertyValue(inner, is_secret=value.is_secret)


def resource_token(qualified_type: str) -> str:
    """The resource's own token: the SDK derives `type` from the URN, whose type part is
    qualified by the parents' types (`dockyard:index:StackSecrets$random:index/…`)."""
    return qualified_type.rsplit("$", 1)[-1]


class EngineLog:
    """Diagnostics through the engine's Log RPC, attached to the resource, always marked as
    coming from the stand-in; stderr when no engine answers."""

    def __init__(self, address: str | None, prefix: str):
        self._address = address
        self._prefix = prefix
        self._stub: engine_pb2_grpc.EngineStub | None = None

    async def send(self, severity: int, message: str, urn: str = "", ephemeral: bool = False) -> None:
        text = message if ephemeral else f"{self._prefix} {message}"
        if not self._address:
            print(f"{self._prefix} {message}", file=sys.stderr)
            return
        try:
            if self._stub is None:
                self._stub = engine_pb2_grpc.EngineStub(grpc.aio.insecure_channel(self._address or ""))
            await self._stub.Log(engine_pb2.LogRequest(severity=severity, message=text, urn=urn, ephemeral=ephemeral))
        except (grpc.RpcError, ValueError):
            print(f"{self._prefix} {message}", file=sys.stderr)

    async def info(self, message: str, urn: str = "") -> None:
        await self.send(engine_pb2.INFO, message, urn)

    async def warning(self, message: str, urn: str = "") -> None:
        await self.send(engine_pb2.WARNING, message, urn)

    async def status(self, message: str, urn: str) -> None:
        """A progress line shown while the step runs, not kept (the real provider's LogStatus)."""
        await self.send(engine_pb2.INFO, message, urn, ephemeral=True)
