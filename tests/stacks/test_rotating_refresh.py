"""``pulumi refresh`` of tenant keys through the real CLI, for both faces (the Python dynamic resources and the
plugin's ``imburse:index:*``).

- A ``RotatingTenantKey`` in its grace period (current key B, previous key A): a refresh of an unchanged service
  reports no change; after A is revoked outside Pulumi a refresh records it gone, says so, and leaves B as it is;
  after B (the current key) is revoked outside Pulumi a refresh records it gone and says so, keeping A for its
  grace period, and the next ``up`` makes a new current key (A stays the previous key, working until
  ``previousExpiresAt``, now counted from the new key).
- ``pulumi refresh --run-program`` of auto-named keys (no ``name`` declared) shows no diff when nothing changed:
  Check keeps the name it generated when the prior inputs carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pulumi_imburse import RotatingTenantKey, TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import Output, authenticates, changes, quiet
from ..plugin import native
from .test_rotation_matrix import unsecret

READ = "tenant-app-read"
ROTATION_DAYS, GRACE_DAYS = 90, 7
RESOURCE = "payments"


def dynamic_rotating(tenant_id: str) -> None:
    RotatingTenantKey(RESOURCE, tenant_id=tenant_id, roles=[READ], rotation_days=ROTATION_DAYS,
                      grace_days=GRACE_DAYS)


def plugin_rotating(tenant_id: str) -> None:
    native.rotating_tenant_key(RESOURCE, tenantId=tenant_id, roles=[READ], rotationDays=ROTATION_DAYS,
                               graceDays=GRACE_DAYS)


ROTATING: dict[str, Callable[[str], None]] = {"dynamic": dynamic_rotating, "plugin": plugin_rotating}


def state(s: EmulatedStack, type_suffix: str = ":RotatingTenantKey") -> dict[str, Any]:
    """The outputs of the stack's one resource of that type, secrets in clear."""
    resources = (s.stack.export_stack().deployment or {})["resources"]
    outputs: dict[str, Any] = next(unsecret(r["outputs"]) for r in resources if r["type"].endswith(type_suffix))
    return outputs


def live(api: ImburseClient, tenant_id: str) -> set[str]:
    return {k.public_key for k in api.list_keys(tenant_id)}


def in_grace(s: EmulatedStack, emulator: EmulatorProcess, tenant: str) -> tuple[dict[str, Any], str, str]:
    """Create the key, age it past its rotation, rotate: ``(state, A (previous), B (current))``."""
    s.stack.up(on_output=quiet)
    emulator.age_key(tenant, state(s)["publicKey"], ROTATION_DAYS + 1)
    s.stack.up(on_output=quiet, refresh=True)
    now = state(s)
    return now, now["previousPublicKey"], now["publicKey"]


@pytest.mark.parametrize("face", sorted(ROTATING))
def test_refresh_of_a_rotating_key_in_its_grace_period(
        face: str, emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    tenant = existing_tenant
    with emulated_stack(lambda: ROTATING[face](tenant), project_name=f"rotating-refresh-{face}",
                        emulator=emulator) as s:
        rotated, a, b = in_grace(s, emulator, tenant)
        assert live(api, tenant) == {a, b}

        # Nothing changed in the service: nothing changes in the state.
        said = Output()
        assert changes(s.stack.refresh(on_output=said)) == {}, said.text
        assert state(s) == rotated

        # The previous key revoked outside Pulumi: the refresh records it gone, says so, leaves the current key.
        api.delete_key(tenant, a)
        said = Output()
        # The engine reports a refresh's change by the provider's Diff of the refreshed state against the program:
        # with B still current there is nothing to update, so the summary counts no change; the state and the
        # warning say what the refresh found.
        assert changes(s.stack.refresh(on_output=said)) == {}
        after = state(s)
        assert not after.get("previousPublicKey") and not after.get("previousPrivateKey")
        assert not after.get("previousExpiresAt")
        assert {k: after[k] for k in ("publicKey", "privateKey", "createdAt", "name")} == \
            {k: rotated[k] for k in ("publicKey", "privateKey", "createdAt", "name")}
        assert f"RotatingTenantKey {RESOURCE}: its previous key {a} was revoked outside Pulumi" in said.text, said.text
        assert live(api, tenant) == {b} and authenticates(emulator, b, rotated["privateKey"])
        assert changes(s.stack.preview(on_output=quiet)) == {}  # nothing left to do: B stays current


@pytest.mark.parametrize("face", sorted(ROTATING))
def test_refresh_after_the_current_key_is_revoked_outside_pulumi_keeps_the_previous_key_for_its_grace_period(
        face: str, emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    tenant = existing_tenant
    with emulated_stack(lambda: ROTATING[face](tenant), project_name=f"rotating-refresh-current-{face}",
                        emulator=emulator) as s:
        rotated, a, b = in_grace(s, emulator, tenant)

        api.delete_key(tenant, b)  # the current key, revoked in the portal
        said = Output()
        assert changes(s.stack.refresh(on_output=said)) == {"update": 1}
        after = state(s)
        assert not after.get("publicKey") and not after.get("privateKey")
        assert after["previousPublicKey"] == a and after["previousPrivateKey"] == rotated["previousPrivateKey"]
        assert f"RotatingTenantKey {RESOURCE}: its current key {b} was revoked outside Pulumi" in said.text, said.text
        assert live(api, tenant) == {a}  # the refresh touched nothing

        # The next up makes a new current key; A stays the previous key, working, now until createdAt(C) + grace.
        said = Output()
        assert changes(s.stack.up(on_output=said)) == {"update": 1}
        now = state(s)
        c = now["publicKey"]
        assert c not in ("", a, b) and now["previousPublicKey"] == a
        assert live(api, tenant) == {a, c}
        assert authenticates(emulator, a, now["previousPrivateKey"]) and authenticates(emulator, c, now["privateKey"])


def dynamic_autonamed(tenant_id: str) -> None:
    TenantKey("ci", tenant_id=tenant_id, roles=[READ])
    RotatingTenantKey(RESOURCE, tenant_id=tenant_id, roles=[READ], grace_days=GRACE_DAYS)


def plugin_autonamed(tenant_id: str) -> None:
    native.tenant_key("ci", tenantId=tenant_id, roles=[READ])
    native.rotating_tenant_key(RESOURCE, tenantId=tenant_id, roles=[READ], graceDays=GRACE_DAYS)


AUTONAMED: dict[str, Callable[[str], None]] = {"dynamic": dynamic_autonamed, "plugin": plugin_autonamed}


@pytest.mark.parametrize("face", sorted(AUTONAMED))
def test_refresh_run_program_of_auto_named_keys_shows_no_diff(
        face: str, emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    tenant = existing_tenant
    with emulated_stack(lambda: AUTONAMED[face](tenant), project_name=f"autonamed-refresh-{face}",
                        emulator=emulator) as s:
        s.stack.up(on_output=quiet)
        names = {state(s, ":TenantKey")["name"], state(s)["name"]}
        assert {k.name for k in api.list_keys(tenant)} == names

        for run_program in (True, False, True):  # the last after a plain refresh stored what Read returned
            said = Output()
            result = s.stack.refresh(on_output=said, run_program=run_program)
            assert changes(result) == {}, said.text
            assert "[diff:" not in said.text, said.text
        assert changes(s.stack.preview(on_output=quiet)) == {}
        assert {state(s, ":TenantKey")["name"], state(s)["name"]} == names
