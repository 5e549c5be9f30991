"""A RotatingTenantKey update that fails part-way leaves nothing new behind, and the next update converges.

An update does what may fail and can be retried first (revoke the previous key, change roles and name) and
creates the new key last, through the same create as TenantKey (a key it cannot name is revoked). So a failure
leaves the state the engine keeps (the update's old outputs) true, or at most naming a previous key that is
already revoked. The failures are injected around the real client of the emulator's account key
(``FailingService``, as in test_recovery); the provider runs in this process, as the provider host calls it.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import ServerError
from pulumi_imburse.keys.rules import key_name
from pulumi_imburse.ledger import Ledger
from pulumi_imburse.rotating_key import RotatingTenantKeyProvider

from .test_recovery import FailingService

ROLES = ["tenant-app-read"]
ROTATION_DAYS, GRACE_DAYS = 90, 7


def provider_with(ledger: Ledger, client: Any) -> RotatingTenantKeyProvider:
    """A provider of the process ``ledger`` whose rules call ``client``."""
    return RotatingTenantKeyProvider(client=lambda: client, ledger=ledger)


def live(api: ImburseClient, tenant_id: str) -> set[str]:
    return {k.public_key for k in api.list_keys(tenant_id)}


def rotated_once(provider: RotatingTenantKeyProvider, emulator: EmulatorProcess, tenant: str
                 ) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Create, age past the rotation, refresh, rotate: ``(id, the outputs, the checked inputs)``."""
    checked = provider.check({}, {"tenantId": tenant, "roles": ROLES, "namePrefix": "ci",
                                  "rotationDays": ROTATION_DAYS, "graceDays": GRACE_DAYS})
    assert checked.failures == [] and checked.inputs is not None
    created = provider.create(checked.inputs)
    assert created.outs is not None and created.id is not None
    emulator.age_key(tenant, created.outs["publicKey"], ROTATION_DAYS + 1)
    refreshed = provider.read(created.id, created.outs).outs
    assert refreshed is not None
    outs = provider.update(created.id, refreshed, checked.inputs).outs
    assert outs is not None and outs["previousPublicKey"] == created.outs["publicKey"]
    return created.id, outs, checked.inputs


def test_a_rotation_whose_new_key_cannot_be_named_leaves_only_the_keys_in_state_then_converges(
        ledger: Ledger, emulator: EmulatorProcess, api: ImburseClient, tenant: str) -> None:
    id_, outs, inputs = rotated_once(provider_with(ledger, api), emulator, tenant)
    a, b = outs["previousPublicKey"], outs["publicKey"]
    emulator.age_key(tenant, b, ROTATION_DAYS + 1)  # b is due, and a's grace period is long over
    refreshed = provider_with(ledger, api).read(id_, outs).outs
    assert refreshed is not None

    failing = FailingService(api, fail=("update_key",))  # the rename of the new key fails: it is revoked
    with pytest.raises(ServerError) as err:
        provider_with(ledger, failing).update(id_, refreshed, inputs)
    assert failing.calls[:2] == ["delete_key", "create_key"]  # the previous key first, the new key last
    # The message names the key's name and says what became of it, without calling it a TenantKey.
    assert repr(key_name(inputs)) in str(err.value) and "it was revoked" in str(err.value)
    assert "TenantKey" not in str(err.value)
    assert live(api, tenant) == {b}  # a (grace over) revoked, the new key revoked: nothing the state lacks

    # The engine kept the old outputs (a and b); the next update finds a already gone and converges.
    again = provider_with(ledger, api).update(id_, refreshed, inputs).outs
    assert again is not None and again["previousPublicKey"] == b and again["publicKey"] not in (a, b)
    assert live(api, tenant) == {b, again["publicKey"]}


def test_an_update_whose_previous_key_cannot_be_revoked_creates_nothing(
        ledger: Ledger, emulator: EmulatorProcess, api: ImburseClient, tenant: str) -> None:
    id_, outs, inputs = rotated_once(provider_with(ledger, api), emulator, tenant)
    a, b = outs["previousPublicKey"], outs["publicKey"]
    emulator.age_key(tenant, b, ROTATION_DAYS + 1)
    refreshed = provider_with(ledger, api).read(id_, outs).outs
    assert refreshed is not None

    failing = FailingService(api, fail=("delete_key",))
    with pytest.raises(ServerError):
        provider_with(ledger, failing).update(id_, refreshed, inputs)
    assert "create_key" not in failing.calls
    assert live(api, tenant) == {a, b}  # exactly what the state (the old outputs) says

    again = provider_with(ledger, api).update(id_, refreshed, inputs).outs
    assert again is not None and again["previousPublicKey"] == b
    assert live(api, tenant) == {b, again["publicKey"]}
