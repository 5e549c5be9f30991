"""The resource classes under the SDK's own mocks: constructor forms, type tokens, secret outputs,
property names, and the pickled provider."""

from __future__ import annotations

import base64
import pickle
from typing import Any

import dill
import pulumi
import pytest
from pulumi.runtime.mocks import MockMonitor

from pulumi_imburse import Tenant, TenantAddressArgs, TenantArgs, TenantKey, TenantKeyArgs, TenantKeyProvider
from pulumi_imburse.tenant import TenantProvider

TENANT_ID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outs = dict(args.inputs)
        if args.typ.endswith(":TenantKey"):
            outs.update(publicKey="pub-1", privateKey="c2VjcmV0", accountId="acc", createdAt="2026-01-01T00:00:00Z")
            return f"{outs['tenantId']}/pub-1", outs
        outs.update(tenantId=TENANT_ID, accountId="acc")
        return TENANT_ID, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, keeping every RegisterResourceRequest the SDK sent."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.requests: list[Any] = []

    def RegisterResource(self, request: Any) -> Any:
        self.requests.append(request)
        return super().RegisterResource(request)


@pytest.fixture
def monitor() -> RecordingMonitor:
    m = RecordingMonitor(Mocks())
    pulumi.runtime.set_mocks(Mocks(), preview=False, monitor=m)
    return m


def _resolve(output: pulumi.Output[Any]) -> Any:
    box: dict[str, Any] = {}
    output.apply(lambda v: box.setdefault("v", v))
    return box


def _request(monitor: RecordingMonitor, name: str) -> Any:
    return next(r for r in monitor.requests if r.name == name)


@pulumi.runtime.test
def test_both_constructor_forms_send_the_same_inputs(monitor: RecordingMonitor) -> None:
    a = TenantKey("a", TenantKeyArgs(tenant_id=TENANT_ID, roles=["tenant-app-read"]))
    b = TenantKey("b", tenant_id=TENANT_ID, roles=["tenant-app-read"], opts=pulumi.ResourceOptions())

    def check(_: Any) -> None:
        ra, rb = _request(monitor, "a"), _request(monitor, "b")
        assert ra.type == rb.type == "pulumi-python:dynamic/imburse:TenantKey"
        ia = pulumi.runtime.rpc.deserialize_properties(ra.object)
        ib = pulumi.runtime.rpc.deserialize_properties(rb.object)
        assert ia["tenantId"] == ib["tenantId"] == TENANT_ID
        assert ia["roles"] == ib["roles"] == ["tenant-app-read"]
        assert ia["namePrefix"] == "a" and ib["namePrefix"] == "b"

    return pulumi.Output.all(a.urn, b.urn).apply(check)


@pulumi.runtime.test
def test_private_key_is_secret_and_merged_with_user_secret_outputs(monitor: RecordingMonitor) -> None:
    key = TenantKey("k", TenantKeyArgs(tenant_id=TENANT_ID, roles=["tenant-app-read"]),
                    pulumi.ResourceOptions(additional_secret_outputs=["publicKey"]))

    def check(args: list[Any]) -> None:
        req = _request(monitor, "k")
        assert sorted(req.additionalSecretOutputs) == ["privateKey", "publicKey"]

    return pulumi.Output.all(key.urn, key.private_key).apply(check)


@pulumi.runtime.test
def test_snake_case_secret_output_names_are_translated(monitor: RecordingMonitor) -> None:
    key = TenantKey("k2", tenant_id=TENANT_ID, roles=["tenant-app-read"],
                    opts=pulumi.ResourceOptions(additional_secret_outputs=["public_key"]))

    def check(_: Any) -> None:
        assert sorted(_request(monitor, "k2").additionalSecretOutputs) == ["privateKey", "publicKey"]

    return key.urn.apply(check)


@pulumi.runtime.test
def test_outputs_are_snake_case_attributes(monitor: RecordingMonitor) -> None:
    key = TenantKey("k3", tenant_id=TENANT_ID, roles=["tenant-app-read"])

    def check(values: list[Any]) -> None:
        tenant_id, public_key, account_id, created_at = values
        assert tenant_id == TENANT_ID
        assert public_key == "pub-1"
        assert account_id == "acc"
        assert created_at == "2026-01-01T00:00:00Z"

    return pulumi.Output.all(key.tenant_id, key.public_key, key.account_id, key.created_at).apply(check)


@pulumi.runtime.test
def test_tenant_both_forms_and_address_spellings(monitor: RecordingMonitor) -> None:
    t1 = Tenant("t1", TenantArgs(name="Acme", address=TenantAddressArgs(street_address="1 Road", country="GB")))
    t2 = Tenant("t2", name="Acme", address={"street_address": "1 Road", "country": "GB"})

    def check(_: Any) -> None:
        for name in ("t1", "t2"):
            req = _request(monitor, name)
            assert req.type == "pulumi-python:dynamic/imburse:Tenant"
            inputs = pulumi.runtime.rpc.deserialize_properties(req.object)
            assert inputs["address"] == {"streetAddress": "1 Road", "country": "GB"}

    return pulumi.Output.all(t1.urn, t2.urn, t1.tenant_id).apply(check)


@pulumi.runtime.test
def test_adopt_inputs_are_sent_with_their_wire_names_in_both_forms_and_from_config(monitor: RecordingMonitor) -> None:
    from pulumi_imburse.declarative import declare

    key_pk, tenant_id = "3b0e6c1d-6f1a-4c8e-9a51-2d6f0f7f4e21", "5f1c2a8e-0b7d-4f59-a3c2-6e9d1b4a7c30"
    TenantKey("ak1", TenantKeyArgs(tenant_id=TENANT_ID, roles=["tenant-app-read"], adopt_public_key=key_pk))
    key = TenantKey("ak2", tenant_id=TENANT_ID, roles=["tenant-app-read"], adopt_public_key=key_pk)
    Tenant("at1", TenantArgs(name="Globex", adopt_tenant_id=tenant_id))
    declared = declare({"globex": {"name": "Globex", "adoptTenantId": tenant_id,
                                   "keys": {"ops": {"roles": ["tenant-app-read"], "adoptPublicKey": key_pk}}}})

    def check(_: Any) -> None:
        sent = {r.name: pulumi.runtime.rpc.deserialize_properties(r.object) for r in monitor.requests}
        assert sent["ak1"]["adoptPublicKey"] == sent["ak2"]["adoptPublicKey"] == key_pk
        assert sent["globex-ops"]["adoptPublicKey"] == key_pk
        assert sent["at1"]["adoptTenantId"] == sent["globex"]["adoptTenantId"] == tenant_id
        assert "adopt_public_key" not in sent["ak1"] and "adopt_tenant_id" not in sent["at1"]

    return pulumi.Output.all(key.urn, key.adopt_public_key, declared["globex"].keys["ops"].urn).apply(check)


def test_mixing_args_object_and_keywords_is_an_error() -> None:
    with pytest.raises(TypeError, match="unexpected arguments"):
        TenantKey("x", TenantKeyArgs(tenant_id=TENANT_ID, roles=["tenant-app-read"]), roles=["tenant-admin"])


@pytest.mark.parametrize("provider_cls", [TenantKeyProvider, TenantProvider])
def test_pickled_provider_is_a_small_reference_without_state(provider_cls: type) -> None:
    from pulumi.dynamic.dynamic import serialize_provider

    provider = provider_cls()
    provider.anything_configured_at_run_time = "c2VjcmV0LXRoYXQtbXVzdC1ub3QtbGVhaw=="  # type: ignore[attr-defined]
    encoded = serialize_provider(provider)
    assert len(encoded) <= 256
    assert encoded == serialize_provider(provider_cls())  # identical for every resource and run
    raw = base64.b64decode(encoded)
    assert b"c2VjcmV0" not in raw
    assert provider_cls.__name__.encode() in raw
    assert type(dill.loads(raw)) is provider_cls
    assert type(pickle.loads(raw)) is provider_cls
