"""The pack as the Pulumi CLI loads it: run policy/ as a program and talk to its gRPC analyzer.

This is the only test that exercises __main__.py, the PolicyPack wiring and the SDK's own
property deserialisation (secrets, unknown values during preview). The server listens on
127.0.0.1 only and is stopped by the fixture.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from . import fixtures as fx
from .conftest import POLICY_DIR

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "computed" sentinel
CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    proc = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port_line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        if not port_line.isdigit():
            proc.kill()
            pytest.fail(f"policy pack did not print its port: {port_line!r} {proc.stderr.read()}")  # type: ignore[union-attr]
        channel = grpc.insecure_channel(f"127.0.0.1:{port_line}")
        grpc.channel_ready_future(channel).result(timeout=20)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _struct(props: dict) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(props)
    return value


def _analyze(stub: analyzer_pb2_grpc.AnalyzerStub, type_: str, name: str, props: dict) -> list:
    request = analyzer_pb2.AnalyzeRequest(
        type=type_,
        name=name,
        urn=f"urn:pulumi:dev::dockyard::{type_}::{name}",
        properties=_struct(props),
    )
    return list(stub.Analyze(request, timeout=20).diagnostics)


def test_analyzer_describes_the_pack(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=20)
    assert info.name == "dockyard"
    assert len(info.policies) == 24
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    schemas = {
        p.name: json_format.MessageToDict(p.configSchema.properties) for p in info.policies if p.configSchema.properties
    }
    assert schemas["docker-loopback-ports"]["requireLoopbackPorts"]["default"] is True
    assert set(schemas) == {
        "k8s-image-pinning",
        "k8s-no-load-balancer",
        "docker-loopback-ports",
        "build-registry-cache",
    }


def test_compliant_container_has_no_diagnostics(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    assert _analyze(analyzer, CONTAINER, "backend", fx.docker_container()) == []


def test_violation_is_reported_mandatory_with_the_reason(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    diagnostics = _analyze(analyzer, CONTAINER, "backend", fx.docker_container(memory=0))
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("docker-memory-limit", analyzer_pb2.MANDATORY)
    ]
    assert 'container "backend": memory (MB) must be set to a positive limit' in diagnostics[0].message


def test_unknown_values_in_preview_do_not_crash_the_pack(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    diagnostics = _analyze(analyzer, CONTAINER, "backend", fx.docker_container(user=UNKNOWN_STRING))
    user = [d for d in diagnostics if d.policyName == "docker-non-root-user"]
    assert len(user) == 1 and "during preview" in user[0].message
    assert user[0].enforcementLevel == analyzer_pb2.ADVISORY
    assert {d.policyName for d in diagnostics} == {"docker-non-root-user"}


def test_stack_policies_run_over_the_whole_stack(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    ns = "kubernetes:core/v1:Namespace"
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=ns,
                name="app",
                urn=f"urn:pulumi:dev::dockyard::{ns}::app",
                properties=_struct(fx.namespace()),
            )
        ]
    )
    diagnostics = list(analyzer.AnalyzeStack(request, timeout=20).diagnostics)
    assert [d.policyName for d in diagnostics] == ["k8s-namespace-isolation"]
    assert 'Namespace "dockyard": needs a default-deny NetworkPolicy' in diagnostics[0].message
    assert diagnostics[0].urn.endswith("::app")


def test_config_makes_a_rule_advisory_and_flips_a_switch(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    open_port = fx.docker_container(ports=[{"internal": 8000, "external": 8000, "ip": "0.0.0.0"}], memory=0)
    request = analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={
            "docker-memory-limit": analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.ADVISORY),
            "docker-loopback-ports": analyzer_pb2.PolicyConfig(
                enforcementLevel=analyzer_pb2.MANDATORY,
                properties=_struct({"requireLoopbackPorts": False}),
            ),
        }
    )
    analyzer.Configure(request, timeout=20)
    try:
        diagnostics = _analyze(analyzer, CONTAINER, "backend", open_port)
        assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
            ("docker-memory-limit", analyzer_pb2.ADVISORY)
        ]
    finally:
        analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(), timeout=20)
    diagnostics = _analyze(analyzer, CONTAINER, "backend", open_port)
    assert {d.policyName for d in diagnostics} == {
        "docker-memory-limit",
        "docker-loopback-ports",
    }
