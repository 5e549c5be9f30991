"""The pack's boundary with pulumi-policy, checked against the installed version, without the CLI.

The pack adds two things to the SDK's analyzer for which pulumi-policy has no public hook: refusing config it does
not know, and telling stack policies which values are secret. ``_install_checks`` in ``policy/__main__.py`` says how
it reaches them and what it relies on. These tests start the pack as the engine does and call the analyzer protocol,
so a pulumi-policy release that changes what the pack relies on fails here, naming the lost check, instead of
silently dropping it; ``policy/requirements.txt`` pins the versions that passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

import grpc
import pytest
from packaging.requirements import Requirement
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from tests.engine import REPO

from ..support.host import SECRET_SIG, SIG_KEY, to_struct
from .support import KEY_TYPE, STACK_TYPE, running_pack, urn

PRIVATE_KEY = "MC4CAQAwBQYDK2VwBCIEIJ7x0RANDOMPRIVATEKEYFORTESTS"


@pytest.fixture
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started as ``policy/analyzer`` starts it, and a client."""
    with running_pack() as stub:
        yield stub


def policy_config(policy: str, properties: dict[str, Any]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    return analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={policy: analyzer_pb2.PolicyConfig(properties=to_struct(properties))})


def test_configure_refuses_a_property_the_pack_does_not_have(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        analyzer.Configure(policy_config("tenant-key-max-roles", {"maxRolez": 2}))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (
        "the installed pulumi-policy no longer serves the pack's config check")
    assert "tenant-key-max-roles: unknown property 'maxRolez'" in refused.value.details()
    analyzer.Configure(policy_config("tenant-key-max-roles", {"maxRoles": 2}))  # a known one is accepted


def test_stack_policies_tell_a_secret_output_from_a_plain_one(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    key_urn = urn("dev", "p", KEY_TYPE, "ci")
    key = analyzer_pb2.AnalyzerResource(type=KEY_TYPE, urn=key_urn, name="ci", properties=to_struct(
        {"privateKey": {SIG_KEY: SECRET_SIG, "value": PRIVATE_KEY}}))

    def analyze(exported: Any) -> list[tuple[str, str]]:
        stack = analyzer_pb2.AnalyzerResource(type=STACK_TYPE, urn=urn("dev", "p", STACK_TYPE, "p-dev"), name="p-dev",
                                              properties=to_struct({"ciPrivateKey": exported}))
        answer = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[key, stack]))
        return [(d.policyName, d.message) for d in answer.diagnostics]

    assert analyze({SIG_KEY: SECRET_SIG, "value": PRIVATE_KEY}) == []
    ((policy, message),) = analyze(PRIVATE_KEY)
    assert policy == "no-plaintext-private-key-output"
    assert f"Stack output 'ciPrivateKey' holds the private key of {key_urn} as plain text" in message


def test_the_installed_pulumi_policy_is_in_the_tested_range() -> None:
    """The pack's requirements and the development install pin the same versions, and this run uses one."""
    (pack,) = [Requirement(line) for line in (REPO / "policy" / "requirements.txt").read_text().splitlines()
               if line.startswith("pulumi-policy")]
    (dev,) = [Requirement(r) for r in re.findall(r'"(pulumi-policy[^"]*)"', (REPO / "pyproject.toml").read_text())]
    assert dev.specifier == pack.specifier
    assert pack.specifier.contains(version("pulumi-policy")), (
        f"pulumi-policy {version('pulumi-policy')} is not a tested version ({pack.specifier})")
