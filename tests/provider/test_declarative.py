"""Structured stack config mistakes fail before anything is registered, naming the path and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse.declarative import StackConfigError, declare

CASES: list[tuple[Any, str]] = [
    (["acme"], "tenants must be a map, got list"),
    ({"Acme": {"name": "Acme"}}, "tenants.Acme: tenant slugs are lower-case letters, digits and '-'"),
    ({"acme": "Acme"}, "tenants.acme must be a map, got str"),
    ({"acme": {"nam": "Acme"}}, "tenants.acme: unknown field(s) nam; allowed: name, address, protect, tenantId, keys"),
    ({"acme": {}}, "tenants.acme: give either name (a tenant this stack creates) or tenantId"),
    ({"acme": {"name": "A", "tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe7"}}, "not both or neither"),
    ({"acme": {"tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe7", "protect": True}},
     "tenants.acme: address and protect apply to tenants this stack creates"),
    ({"acme": {"name": "A", "keys": ["ci"]}}, "tenants.acme.keys must be a map, got list"),
    ({"acme": {"name": "A", "keys": {"CI": {"roles": ["tenant-app-read"]}}}},
     "tenants.acme.keys.CI: key names are lower-case letters, digits and '-'"),
    ({"acme": {"name": "A", "keys": {"ci": {"role": ["tenant-app-read"]}}}},
     "tenants.acme.keys.ci: unknown field(s) role; allowed: roles, name, keepers, rotationDays, protect"),
    ({"acme": {"name": "A", "keys": {"ci": {}}}}, "tenants.acme.keys.ci: roles is required"),
]


@pytest.mark.parametrize(("spec", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_config_mistakes_name_the_path_and_the_allowed_fields(spec: Any, message: str) -> None:
    with pytest.raises(StackConfigError) as err:
        declare(spec)
    assert message in str(err.value)
