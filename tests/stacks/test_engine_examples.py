"""The examples under examples/ (basic, rotation, existing-tenant's plain key) and a program of one's own
with ``retain_on_delete``, through the real Pulumi CLI against the emulator.

Each test runs a user's successive ``pulumi up``s of one stack and checks the result in the emulator.
(examples/gitops and existing-tenant's adoption have tests of their own.)
"""

from __future__ import annotations

import pulumi
from pulumi import automation as auto

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import EXAMPLES, api_writes, authenticates, changes, quiet, step_ops


def value(result: auto.UpResult, name: str) -> str:
    """One stack output of an up, as a string."""
    return str(result.outputs[name].value)


def test_basic_example(emulator: EmulatorProcess, api: ImburseClient) -> None:
    with emulated_stack(EXAMPLES / "basic", stack_name="dev", emulator=emulator) as s:
        first = s.stack.up(on_output=quiet)
        assert changes(first) == {"create": 4}  # stack, tenant, two keys
        tenant_id = value(first, "tenantId")
        checkout, reporting = value(first, "checkoutPublicKey"), value(first, "reportingPublicKey")
        assert api.get_tenant(tenant_id).name == "Acme Payments Ltd"
        live = {k.public_key: set(k.roles) for k in api.list_keys(tenant_id)}
        assert live == {checkout: {"tenant-collect-scheme-read", "tenant-transaction-write"},
                        reporting: {"tenant-transaction-read"}}
        assert first.outputs["checkoutPrivateKey"].secret and first.outputs["reportingPrivateKey"].secret
        assert authenticates(emulator, checkout, value(first, "checkoutPrivateKey"))
        assert authenticates(emulator, reporting, value(first, "reportingPrivateKey"))

        before = api_writes(emulator)
        assert changes(s.stack.up(on_output=quiet)) == {}
        assert api_writes(emulator) == before

        s.set_config({"checkoutRoles": ["tenant-collect-scheme-read"]})
        narrowed = s.stack.up(on_output=quiet)
        assert changes(narrowed) == {"update": 1}
        assert value(narrowed, "checkoutPublicKey") == checkout
        assert api.get_key(tenant_id, checkout).roles == ("tenant-collect-scheme-read",)

        s.set_config({"reporting": "false"})
        dropped = s.stack.up(on_output=quiet)
        assert changes(dropped) == {"delete": 1} and "reportingPublicKey" not in dropped.outputs
        assert [k.public_key for k in api.list_keys(tenant_id)] == [checkout]
        assert not authenticates(emulator, reporting, value(first, "reportingPrivateKey"))

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 3}
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}
        assert not authenticates(emulator, checkout, value(first, "checkoutPrivateKey"))


def test_rotation_example_keepers_replace_create_before_delete(emulator: EmulatorProcess,
                                                               api: ImburseClient) -> None:
    with emulated_stack(EXAMPLES / "rotation", stack_name="dev", emulator=emulator) as s:
        first = s.stack.up(on_output=quiet)
        assert changes(first) == {"create": 5}
        old_public, old_private = value(first, "onDemandPublicKey"), value(first, "onDemandPrivateKey")
        scheduled = value(first, "scheduledPublicKey")
        graceful, graceful_private = value(first, "gracefulPublicKey"), value(first, "gracefulPrivateKey")
        resources = (s.stack.export_stack().deployment or {})["resources"]
        tenant_id = next(r["outputs"]["tenantId"] for r in resources if r["type"].endswith(":Tenant"))
        assert changes(s.stack.preview(on_output=quiet)) == {}

        s.set_config({"rotationEpoch": "2"})
        events: list[auto.EngineEvent] = []
        rotated = s.stack.up(on_output=quiet, on_event=events.append)
        assert changes(rotated) == {"replace": 1, "update": 1}
        assert step_ops(events, "on-demand") == ["create-replacement", "replace", "delete-replaced"]
        assert step_ops(events, "graceful") == ["update"]  # the same epoch rotates it in place...
        new_public, new_private = value(rotated, "onDemandPublicKey"), value(rotated, "onDemandPrivateKey")
        assert new_public != old_public and new_private != old_private
        new_graceful = value(rotated, "gracefulPublicKey")
        assert value(rotated, "gracefulPreviousPublicKey") == graceful  # ...and keeps the old key working
        assert {k.public_key for k in api.list_keys(tenant_id)} == {new_public, scheduled, new_graceful, graceful}
        assert authenticates(emulator, new_public, new_private)
        assert not authenticates(emulator, old_public, old_private)
        assert authenticates(emulator, graceful, graceful_private)
        assert authenticates(emulator, new_graceful, value(rotated, "gracefulPrivateKey"))
        assert value(rotated, "scheduledPublicKey") == scheduled  # the scheduled key is not due yet

        s.stack.destroy(on_output=quiet)
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


def test_existing_tenant_example_adds_a_key_and_destroy_leaves_the_tenant(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    with emulated_stack(EXAMPLES / "existing-tenant", stack_name="dev", emulator=emulator,
                        config={"tenantId": existing_tenant}) as s:
        first = s.stack.up(on_output=quiet)
        assert changes(first) == {"create": 2}  # the stack and the ops key: the tenant is not Pulumi's
        ops = value(first, "opsPublicKey")
        assert [(k.public_key, k.roles) for k in api.list_keys(existing_tenant)] == [(ops, ("tenant-app-read",))]
        assert first.outputs["opsPrivateKey"].secret
        assert authenticates(emulator, ops, value(first, "opsPrivateKey"))

        before = api_writes(emulator)
        assert changes(s.stack.up(on_output=quiet)) == {}
        assert api_writes(emulator) == before

        s.set_config({"opsRoles": ["tenant-app-read", "tenant-app-write"]})
        widened = s.stack.up(on_output=quiet)
        assert changes(widened) == {"update": 1} and value(widened, "opsPublicKey") == ops
        assert set(api.get_key(existing_tenant, ops).roles) == {"tenant-app-read", "tenant-app-write"}

        s.stack.destroy(on_output=quiet)
        assert api.list_keys(existing_tenant) == []  # the key is revoked...
        assert api.get_tenant(existing_tenant).tenant_id == existing_tenant  # ...the tenant was never ours


def test_retain_on_delete_keeps_the_key_working_after_destroy(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    def program() -> None:
        kept = TenantKey("kept", tenant_id=existing_tenant, roles=["tenant-transaction-read"],
                         opts=pulumi.ResourceOptions(retain_on_delete=True))
        pulumi.export("publicKey", kept.public_key)
        pulumi.export("privateKey", kept.private_key)

    with emulated_stack(program, project_name="imburse-retain", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        public_key, private_key = value(up, "publicKey"), value(up, "privateKey")

        destroyed = s.stack.destroy(on_output=quiet)
        assert changes(destroyed) == {"delete": 2}  # gone from the stack...
        assert (s.stack.export_stack().deployment or {}).get("resources") in (None, [])
        assert [k.public_key for k in api.list_keys(existing_tenant)] == [public_key]  # ...not from Imburse
        assert authenticates(emulator, public_key, private_key)
