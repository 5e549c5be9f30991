"""A ``--policy-pack-config`` file the pack cannot use is refused before the program runs, saying what is wrong.

The engine validates the file against each policy's schema (types, minimums, role names, enforcement levels); it
passes unknown policy names and properties on, and the pack refuses those itself, so a typo never leaves a
default silently in force.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_imburse import TenantKey
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack
from tests.policy.support import PACK_ENV, preview, write_config

TENANT_ID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"


def one_key() -> None:
    TenantKey("ci", tenant_id=TENANT_ID, roles=["tenant-app-read"], rotation_days=30)


@pytest.fixture(scope="module")
def stack(emulator: EmulatorProcess) -> Iterator[EmulatedStack]:
    with emulated_stack(one_key, project_name="guarded", stack_name="config", emulator=emulator, env=PACK_ENV,
                        destroy_on_exit=False) as s:
        yield s


INVALID: list[tuple[str, dict[str, object] | str, str]] = [
    ("below the minimum", {"tenant-key-max-roles": {"maxRoles": 0}},
     "validating policy config: imburse-guardrails 0.1.0  tenant-key-max-roles: maxRoles: "
     "Must be greater than or equal to 1"),
    ("a string for a list", {"tenant-key-no-tenant-admin": {"allowedKeys": "ci"}},
     "tenant-key-no-tenant-admin: allowedKeys: Invalid type. Expected: array, given: string"),
    ("an account role", {"tenant-key-known-roles": {"allowedRoles": ["account-admin"]}},
     "tenant-key-known-roles: allowedRoles.0: allowedRoles.0 must be one of the following: "),
    ("no such level", {"tenant-key-rotation": "sometimes"},
     'parsing enforcement level for "tenant-key-rotation": "sometimes" is not a valid enforcement level'),
    ("a misspelt property", {"tenant-key-max-roles": {"maxRolez": 2}},
     "invalid policy config for imburse-guardrails: tenant-key-max-roles: unknown property 'maxRolez' "
     "(it takes: maxRoles, enforcementLevel)"),
    ("a misspelt policy", {"tenant-key-max-role": "mandatory"},
     "invalid policy config for imburse-guardrails: 'tenant-key-max-role' is not a policy of imburse-guardrails "
     "(its policies: tenant-key-no-tenant-admin, tenant-key-known-roles, tenant-key-max-roles, tenant-key-rotation, "
     "tenant-key-grace-period, tenant-key-destination, no-plaintext-private-key-output, max-keys-per-tenant, "
     "tenants-protected; or all)"),
    ("a negative grace period", {"tenant-key-grace-period": {"minGraceDays": -1}},
     "tenant-key-grace-period: minGraceDays: Must be greater than or equal to 0"),
    ("not JSON", "{tenant-key-max-roles: 2}", "invalid character 't' looking for beginning of object key string"),
]


@pytest.mark.parametrize(("config", "says"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_config_is_refused_before_the_program_runs(stack: EmulatedStack, tmp_path: Path,
                                                              config: dict[str, object] | str, says: str) -> None:
    run = preview(stack, write_config(tmp_path / "policy-config.json", config))
    assert run.failed
    assert says in str(run.error)
    assert not any(e.resource_pre_event for e in run.events)  # no resource was registered: the program never ran


def test_a_valid_config_with_levels_and_properties_is_accepted(stack: EmulatedStack, tmp_path: Path) -> None:
    run = preview(stack, write_config(tmp_path / "policy-config.json", {
        "all": "mandatory",
        "tenant-key-max-roles": {"enforcementLevel": "advisory", "maxRoles": 1},
        "tenant-key-grace-period": {"minGraceDays": 0},  # 0: a key may rotate with no grace period
        "tenant-key-destination": {"exemptKeys": ["ci"]},  # mandatory with `all`, but this key may stay in state
        "tenants-protected": "disabled",
    }))
    assert not run.failed, run.error
    assert run.violations == []
