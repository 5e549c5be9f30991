"""Structured stack config mistakes fail before anything is registered, naming the path and the fix."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse.declarative import StackConfigError, declare

GUID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"

CASES: list[tuple[Any, str]] = [
    (["acme"], "tenants must be a map, got list"),
    ({"Acme": {"name": "Acme"}}, "tenants.Acme: tenant slugs are lower-case letters, digits and '-'"),
    ({"acme": "Acme"}, "tenants.acme must be a map, got str"),
    ({"acme": {"nam": "Acme"}},
     "tenants.acme: unknown field(s) nam; allowed: name, address, protect, tenantId, keys, adoptTenantId"),
    ({"acme": {}}, "tenants.acme: give either name (a tenant this stack creates) or tenantId"),
    ({"acme": {"name": "A", "tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe7"}}, "not both or neither"),
    ({"acme": {"tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe7", "protect": True}},
     "tenants.acme: address, protect and adoptTenantId apply to tenants this stack manages (with name)"),
    ({"acme": {"tenantId": GUID, "adoptTenantId": GUID}},
     "tenants.acme: address, protect and adoptTenantId apply to tenants this stack manages (with name)"),
    ({"acme": {"adoptTenantId": GUID}}, "tenants.acme: give either name (a tenant this stack creates) or tenantId"),
    ({"acme": {"name": "A", "adoptTenantId": "acme-ltd"}},
     "tenants.acme.adoptTenantId must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got 'acme-ltd'"),
    ({"acme": {"name": "A", "keys": ["ci"]}}, "tenants.acme.keys must be a map, got list"),
    ({"acme": {"name": "A", "keys": {"CI": {"roles": ["tenant-app-read"]}}}},
     "tenants.acme.keys.CI: key names are lower-case letters, digits and '-'"),
    ({"acme": {"name": "A", "keys": {"ci": {"role": ["tenant-app-read"]}}}},
     "tenants.acme.keys.ci: unknown field(s) role; allowed: roles, name, keepers, rotationDays, protect, "
     "adoptPublicKey"),
    ({"acme": {"name": "A", "keys": {"ci": {}}}}, "tenants.acme.keys.ci: roles is required"),
    ({"acme": {"tenantId": GUID, "keys": {"ci": {"roles": ["tenant-app-read"], "adoptPublicKey": 42}}}},
     "tenants.acme.keys.ci.adoptPublicKey must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got 42"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "adoptPublicKey": f"{GUID}/x"}}}},
     "tenants.acme.keys.ci.adoptPublicKey must be a GUID"),
]


@pytest.mark.parametrize(("spec", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_config_mistakes_name_the_path_and_the_allowed_fields(spec: Any, message: str) -> None:
    with pytest.raises(StackConfigError) as err:
        declare(spec)
    assert message in str(err.value)
