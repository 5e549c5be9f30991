"""Taking over an existing key or tenant (``adopt_public_key`` / ``adopt_tenant_id``) through the real Pulumi CLI.

The engine cannot import dynamic resources (pulumi/pulumi#16175), so adoption is an input resolved by the
first create: it reads the named object instead of making one, refuses with no write when the declaration
does not match it, and from then on the resource is managed like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse import Tenant, TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.declarative import declare_from_config, export
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.models import ApiKey
from pulumi_imburse.testing import emulated_stack

from ..engine import EXAMPLES, Output, api_writes, authenticates, changes, quiet, step_ops

ADOPTED_WARNING = "adopted. Imburse never returns a private key"
CREATE_KEY = "POST /v1/tenant/{tenantId}/keys"
CREATE_TENANT = "POST /v1/account/tenants"
MISSING_KEY = "7d0c6b7e-4444-4000-8000-000000000000"


@pytest.fixture
def existing_key(api: ImburseClient, existing_tenant: str) -> ApiKey:
    """A key made outside Pulumi in ``existing_tenant``."""
    return api.create_key(existing_tenant, ["tenant-transaction-read"], "legacy-payments")


def count(emu: EmulatorProcess, route: str) -> int:
    """How many requests of ``route`` (``"METHOD /template"``) the emulator has served."""
    return emu.stats()["requests"].get(route, 0)


def adoption_warnings(events: list[auto.EngineEvent]) -> list[str]:
    """The diagnostics saying an adopted key's private key is unknowable."""
    return [e.diagnostic_event.message for e in events
            if e.diagnostic_event is not None and ADOPTED_WARNING in e.diagnostic_event.message]


def live(api: ImburseClient, tenant_id: str, public_key: str) -> tuple[str, set[str]]:
    key = api.get_key(tenant_id, public_key)
    return key.name, set(key.roles)


def urn_of(stack: auto.Stack, name: str) -> str:
    resources = (stack.export_stack().deployment or {})["resources"]
    return str(next(r["urn"] for r in resources if r["urn"].endswith(f"::{name}")))


def adopt_only_program() -> None:
    """One key, declared from config, adopting ``adoptKey``."""
    config = pulumi.Config()
    key = TenantKey("legacy", tenant_id=config.require("tenantId"), roles=config.require_object("roles"),
                    name=config.get("name"), adopt_public_key=config.require("adoptKey"))
    pulumi.export("publicKey", key.public_key)


# ---------------------------------------------------------------- a key, through examples/existing-tenant


def test_existing_tenant_example_adopts_a_key_then_manages_rotates_and_revokes_it(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str, existing_key: ApiKey) -> None:
    tid, adopted = existing_tenant, existing_key.public_key
    with emulated_stack(EXAMPLES / "existing-tenant", stack_name="dev", emulator=emulator,
                        config={"tenantId": tid, "adoptKey": adopted}) as s:
        creates, out = count(emulator, CREATE_KEY), Output()
        events: list[auto.EngineEvent] = []
        first = s.stack.up(on_output=out, on_event=events.append)
        assert changes(first) == {"create": 3}  # the stack, ops (a new key), legacy (adopted)
        assert first.outputs["legacyPublicKey"].value == adopted
        assert first.outputs["legacyName"].value == "legacy-payments"  # no name declared: the live one
        assert count(emulator, CREATE_KEY) - creates == 1  # ops only: adopting created nothing
        assert live(api, tid, adopted) == ("legacy-payments", {"tenant-transaction-read"})  # untouched
        assert first.outputs["legacyPrivateKey"].secret and first.outputs["legacyPrivateKey"].value == ""
        (warning,) = adoption_warnings(events)  # once, naming the key and what to do
        assert adopted in warning and "change its keepers" in warning and warning in out.text

        writes, events, out = api_writes(emulator), [], Output()
        assert changes(s.stack.up(on_output=out, on_event=events.append)) == {}
        assert s.stack.preview(on_output=out, on_event=events.append, refresh=True).change_summary == {"same": 3}
        assert api_writes(emulator) == writes and adoption_warnings(events) == [] and ADOPTED_WARNING not in out.text

        s.set_config({"legacyRoles": ["tenant-transaction-read", "tenant-app-read"]})
        widened = s.stack.up(on_output=quiet)
        assert changes(widened) == {"update": 1} and widened.outputs["legacyPublicKey"].value == adopted
        assert live(api, tid, adopted) == ("legacy-payments", {"tenant-transaction-read", "tenant-app-read"})

        # `pulumi up --replace` cannot be told from the first create, so it takes the same key over again:
        # it must not then revoke it.
        out = Output()
        again = s.stack.up(on_output=out, replace=[urn_of(s.stack, "legacy")])
        assert again.outputs["legacyPublicKey"].value == adopted
        assert adopted in {k.public_key for k in api.list_keys(tid)} and "not revoked" in out.text

        s.set_config({"legacyEpoch": "2"})
        events = []
        rotated = s.stack.up(on_output=quiet, on_event=events.append)
        assert changes(rotated) == {"replace": 1}
        assert step_ops(events, "legacy") == ["create-replacement", "replace", "delete-replaced"]
        new_key, new_private = rotated.outputs["legacyPublicKey"].value, rotated.outputs["legacyPrivateKey"].value
        assert new_key != adopted and new_private
        assert adopted not in {k.public_key for k in api.list_keys(tid)}  # the adopted key is revoked
        assert authenticates(emulator, new_key, new_private)  # a key whose private key Pulumi knows
        assert set(api.get_key(tid, new_key).roles) == {"tenant-transaction-read", "tenant-app-read"}

        s.stack.destroy(on_output=quiet)
        assert api.list_keys(tid) == []  # both keys revoked; the tenant was never the stack's
        assert api.get_tenant(tid).tenant_id == tid


def test_a_key_that_differs_from_the_declaration_is_refused_with_no_write(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str, existing_key: ApiKey) -> None:
    tid, adopted = existing_tenant, existing_key.public_key
    config = {"tenantId": tid, "adoptKey": adopted, "roles": ["tenant-transaction-read", "tenant-app-read"],
              "name": "payments"}
    with emulated_stack(adopt_only_program, project_name="adopt-mismatch", emulator=emulator, config=config,
                        destroy_on_exit=False) as s:  # nothing to destroy: the only up fails
        writes = api_writes(emulator)
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=quiet)
        message = str(err.value)
        assert f"cannot adopt key {adopted} of tenant {tid}" in message
        assert "roles: live ['tenant-transaction-read'], declared ['tenant-app-read', 'tenant-transaction-read']" \
            in message
        assert "name: live 'legacy-payments', declared 'payments'" in message and "Nothing was changed" in message
        assert api_writes(emulator) == writes
        assert live(api, tid, adopted) == ("legacy-payments", {"tenant-transaction-read"})
        assert [k.public_key for k in api.list_keys(tid)] == [adopted]


def test_adopting_a_key_that_does_not_exist_fails_naming_it(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    config = {"tenantId": existing_tenant, "adoptKey": MISSING_KEY, "roles": ["tenant-app-read"]}
    with emulated_stack(adopt_only_program, project_name="adopt-missing", emulator=emulator, config=config,
                        destroy_on_exit=False) as s:  # nothing to destroy: the only up fails
        writes = api_writes(emulator)
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=quiet)
        message = str(err.value)
        assert f"cannot adopt key {MISSING_KEY} of tenant {existing_tenant}: it does not exist" in message
        assert "HTTP 404" in message and "remove adopt_public_key to create a new key" in message
        assert api_writes(emulator) == writes and api.list_keys(existing_tenant) == []


def bad_tenant_adoption() -> None:
    Tenant("acme", name="Acme", adopt_tenant_id="acme-ltd")


def bad_key_adoption() -> None:
    TenantKey("legacy", tenant_id=MISSING_KEY, roles=["tenant-app-read"], adopt_public_key="legacy-payments")


@pytest.mark.parametrize(("program", "problem"), [
    (bad_tenant_adoption, "adopt_tenant_id must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got a string "
                          "of 8 characters (not shown: inputs may be secrets)"),
    (bad_key_adoption, "adopt_public_key must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got a string "
                       "of 15 characters (not shown: inputs may be secrets)"),
], ids=["tenant", "key"])
def test_an_adopt_input_that_is_not_a_guid_fails_check_before_any_api_call(
        emulator: EmulatorProcess, program: Callable[[], None], problem: str) -> None:
    with emulated_stack(program, project_name="adopt-check", emulator=emulator, destroy_on_exit=False) as s:
        requests = sum(emulator.stats()["requests"].values())
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=quiet)
        assert problem in str(err.value)
        assert sum(emulator.stats()["requests"].values()) == requests  # not even a token exchange


# ---------------------------------------------------------------- a tenant, from structured config


def test_adopting_a_tenant_that_does_not_exist_fails_naming_it(emulator: EmulatorProcess, api: ImburseClient) -> None:
    def program() -> None:
        Tenant("gone", name="Gone Ltd", adopt_tenant_id=MISSING_KEY)

    with emulated_stack(program, project_name="adopt-missing-tenant", emulator=emulator,
                        destroy_on_exit=False) as s:
        writes = api_writes(emulator)
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=quiet)
        message = str(err.value)
        assert f"cannot adopt tenant {MISSING_KEY}: it does not exist in this account" in message
        assert "HTTP 404" in message and "remove it to create a new tenant" in message
        assert api_writes(emulator) == writes and "Gone Ltd" not in {t.name for t in api.list_tenants()}


def declared_program() -> None:
    export(declare_from_config("tenants"))


def test_structured_config_adopts_a_tenant_and_its_key(emulator: EmulatorProcess, api: ImburseClient,
                                                       existing_tenant: str, existing_key: ApiKey) -> None:
    tid, adopted = existing_tenant, existing_key.public_key
    api.update_tenant(tid, "Globex Payouts", {"country": "IE", "locality": "Cork"})
    tenants: dict[str, Any] = {"globex": {
        "name": "Globex", "address": {"country": "IE"}, "adoptTenantId": tid,
        "keys": {"payouts": {"roles": ["tenant-transaction-read"], "name": "legacy-payments",
                             "adoptPublicKey": adopted}}}}
    with emulated_stack(declared_program, project_name="adopt-tenant", emulator=emulator,
                        config={"tenants": tenants}) as s:
        writes = api_writes(emulator)
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=quiet)
        message = str(err.value)
        assert f"cannot adopt tenant {tid}" in message and "Nothing was changed" in message
        assert "name: live 'Globex Payouts', declared 'Globex'" in message
        assert "address.locality: live 'Cork', declared ''" in message
        assert api_writes(emulator) == writes  # neither the tenant nor its key was touched
        assert api.get_tenant(tid).name == "Globex Payouts" and [k.public_key for k in api.list_keys(tid)] == [adopted]

        tenants["globex"].update(name="Globex Payouts", address={"country": "IE", "locality": "Cork"})
        s.set_config({"tenants": tenants})
        creates = count(emulator, CREATE_TENANT) + count(emulator, CREATE_KEY)
        events: list[auto.EngineEvent] = []
        first = s.stack.up(on_output=quiet, on_event=events.append)
        assert changes(first) == {"create": 2}  # the tenant and its key (the failed up made the stack)
        assert first.outputs["tenantIds"].value == {"globex": tid}
        assert first.outputs["publicKeys"].value == {"globex/payouts": adopted}
        assert count(emulator, CREATE_TENANT) + count(emulator, CREATE_KEY) == creates
        assert len(adoption_warnings(events)) == 1

        # Managed from now on: the address changes in place.
        tenants["globex"]["address"] = {"country": "IE", "locality": "Dublin"}
        s.set_config({"tenants": tenants})
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert api.get_tenant(tid).address.locality == "Dublin"

        # `pulumi up --replace` while adopt_tenant_id is declared takes the same tenant over again: deleting
        # the replaced one would delete it, keys and all.
        out = Output()
        s.stack.up(on_output=out, replace=[urn_of(s.stack, "globex")])
        assert api.get_tenant(tid).name == "Globex Payouts" and [k.public_key for k in api.list_keys(tid)] == [adopted]
        assert "not deleted" in out.text

        # adopt* are create-time instructions: removing them changes nothing.
        del tenants["globex"]["adoptTenantId"], tenants["globex"]["keys"]["payouts"]["adoptPublicKey"]
        s.set_config({"tenants": tenants})
        writes = api_writes(emulator)
        assert changes(s.stack.up(on_output=quiet)) == {} and api_writes(emulator) == writes

        s.stack.destroy(on_output=quiet)
        assert tid not in {t.tenant_id for t in api.list_tenants()}  # adopted, so the stack's to delete
