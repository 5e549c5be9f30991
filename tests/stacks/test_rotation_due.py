"""``rotation_days`` counts from the service's ``createdAt``: a refresh reads the key's real age, and a key that
has outlived its rotation period is replaced, through the real Pulumi CLI.

The emulator's test-only ``age_key`` control moves a key's creation time back, so "91 days later" takes no
waiting; the provider sees the age only the way it would against Imburse, by reading the key.
"""

from __future__ import annotations

import pulumi
from pulumi import automation as auto

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import Output, api_writes, authenticates, changes, quiet, step_ops

ROTATION_DAYS = 90


def program() -> None:
    """Two keys under the same 90-day rotation policy: ``aging`` (made old by the test) and ``steady``."""
    tenant = pulumi.Config().require("tenantId")
    for name in ("aging", "steady"):
        key = TenantKey(name, tenant_id=tenant, roles=["tenant-app-read"], rotation_days=ROTATION_DAYS)
        pulumi.export(f"{name}PublicKey", key.public_key)
        pulumi.export(f"{name}PrivateKey", key.private_key)


def test_a_key_older_than_rotation_days_is_replaced_once_a_refresh_reads_its_age(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    with emulated_stack(program, project_name="rotation-due", emulator=emulator,
                        config={"tenantId": existing_tenant}) as s:
        first = s.stack.up(on_output=quiet)
        aging, steady = first.outputs["agingPublicKey"].value, first.outputs["steadyPublicKey"].value

        emulator.age_key(existing_tenant, aging, ROTATION_DAYS - 1)
        writes = api_writes(emulator)
        assert s.stack.preview(on_output=quiet, refresh=True).change_summary == {"same": 3}  # 89 days: not due

        emulator.age_key(existing_tenant, aging, 2)  # 91 days old
        # Without a refresh the state still holds the age the key had when Pulumi last read it.
        assert s.stack.preview(on_output=quiet).change_summary == {"same": 3}
        events: list[auto.EngineEvent] = []
        seen = Output()
        planned = s.stack.preview(on_output=seen, on_event=events.append, refresh=True)
        assert changes(planned) == {"replace": 1}
        # Nothing the user declared changed: the preview says why the key goes (its age, the rule), once, as a
        # Python program names the properties.
        diagnostics = seen.text.split("Diagnostics:", 1)[-1]
        assert diagnostics.count(f"TenantKey aging: its key {aging} is {ROTATION_DAYS + 1} days old (created_at ") == 1
        assert (f"rotation_days {ROTATION_DAYS}: the update will replace it (a new key, then this one revoked)"
                in seen.text), seen.text
        assert "TenantKey steady:" not in seen.text
        assert "replace" in step_ops(events, "aging") and set(step_ops(events, "steady")) <= {"refresh", "same"}
        assert api_writes(emulator) == writes  # previews write nothing

        events = []
        rotated = s.stack.up(on_output=quiet, on_event=events.append, refresh=True)
        assert changes(rotated) == {"replace": 1}
        assert step_ops(events, "aging")[-3:] == ["create-replacement", "replace", "delete-replaced"]
        new_key, new_private = rotated.outputs["agingPublicKey"].value, rotated.outputs["agingPrivateKey"].value
        assert new_key != aging and authenticates(emulator, new_key, new_private)
        assert {k.public_key for k in api.list_keys(existing_tenant)} == {new_key, steady}  # the old key is revoked
        assert rotated.outputs["steadyPublicKey"].value == steady

        # The new key is new to the service too: nothing is due any more.
        assert s.stack.preview(on_output=quiet, refresh=True).change_summary == {"same": 3}
