"""Structured stack config mistakes fail before anything is registered, naming the path and the fix.

Values are checked by the same rules as the resources' Check (pulumi_imburse.validation): one rule, two callers.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse.declarative import StackConfigError, declare
from pulumi_imburse.roles import TENANT_ROLES

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
     "tenants.acme.adoptTenantId must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got a string of 8 "
     "characters (not shown: inputs may be secrets)"),
    ({"acme": {"name": "A", "keys": ["ci"]}}, "tenants.acme.keys must be a map, got list"),
    ({"acme": {"name": "A", "keys": {"CI": {"roles": ["tenant-app-read"]}}}},
     "tenants.acme.keys.CI: key names are lower-case letters, digits and '-'"),
    ({"acme": {"name": "A", "keys": {"ci": {"role": ["tenant-app-read"]}}}},
     "tenants.acme.keys.ci: unknown field(s) role; allowed: roles, name, keepers, rotationDays, protect, "
     "adoptPublicKey"),
    ({"acme": {"name": "A", "keys": {"ci": {}}}}, "tenants.acme.keys.ci: roles is required"),
    ({"acme": {"tenantId": GUID, "keys": {"ci": {"roles": ["tenant-app-read"], "adoptPublicKey": 42}}}},
     "tenants.acme.keys.ci.adoptPublicKey must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got a value "
     "of type int (not shown: inputs may be secrets)"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "adoptPublicKey": f"{GUID}/x"}}}},
     "tenants.acme.keys.ci.adoptPublicKey must be a GUID"),
    # Values (issue 10 item 9): each named by its config path.
    ({"acme": {"name": "A", "protect": "false"}}, "tenants.acme.protect must be true or false, got the string 'false'"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "protect": "no"}}}},
     "tenants.acme.keys.ci.protect must be true or false, got the string 'no'"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-reed"]}}}},
     "tenants.acme.keys.ci.roles[0] 'tenant-app-reed' is not a tenant role; allowed: tenant-admin"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["account-admin"]}}}},
     "tenants.acme.keys.ci.roles[0] 'account-admin' is an account role"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": []}}}},
     "tenants.acme.keys.ci.roles must be a non-empty list of tenant roles"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "rotationDays": "90"}}}},
     "tenants.acme.keys.ci.rotationDays must be a positive whole number of days, at most 36500 (100 years), "
     "got the string '90'"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "rotationDays": 3_000_000}}}},
     "tenants.acme.keys.ci.rotationDays must be a positive whole number of days, at most 36500"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "keepers": {"epoch": 2}}}}},
     "tenants.acme.keys.ci.keepers['epoch'] must be a string, got int"),
    ({"acme": {"name": "A", "keys": {"ci": {"roles": ["tenant-app-read"], "name": "k" * 101}}}},
     "tenants.acme.keys.ci.name must be at most 100 characters, got 101"),
    ({"acme": {"name": "", "keys": {}}}, "tenants.acme.name must not be empty"),
    ({"acme": {"name": "A", "address": {"zip": "LS1"}}}, "tenants.acme.address.zip is not an address field"),
    ({"acme": {"name": "A", "address": {"post_code": 1}}}, "tenants.acme.address.postCode must be a string"),
    ({"legacy": {"tenantId": "acme-prod", "keys": {}}},
     "tenants.legacy.tenantId must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got a string of 9 "
     "characters"),
    ({"a": {"name": "A", "keys": {"b-c": {"roles": ["tenant-app-read"]}}},
      "a-b": {"tenantId": GUID, "keys": {"c": {"roles": ["tenant-app-read"]}}}},
     "tenants.a.keys.b-c and tenants.a-b.keys.c would both be the TenantKey resource 'a-b-c'"),
]


@pytest.mark.parametrize(("spec", "message"), CASES, ids=[c[1][:40] for c in CASES])
def test_config_mistakes_name_the_path_and_the_allowed_fields(spec: Any, message: str) -> None:
    with pytest.raises(StackConfigError) as err:
        declare(spec)
    assert message in str(err.value)


def test_every_value_mistake_is_reported_at_once() -> None:
    spec = {"acme": {"name": "A", "protect": "false",
                     "keys": {"ci": {"roles": ["tenant-app-reed"], "rotationDays": "90"}}}}
    with pytest.raises(StackConfigError) as err:
        declare(spec)
    assert str(err.value).splitlines() == [
        "tenants.acme.protect must be true or false, got the string 'false' (the Tenant 'acme' resource)",
        f"tenants.acme.keys.ci.roles[0] 'tenant-app-reed' is not a tenant role; allowed: {', '.join(TENANT_ROLES)} "
        "(the TenantKey 'acme-ci' resource)",
        "tenants.acme.keys.ci.rotationDays must be a positive whole number of days, at most 36500 (100 years), "
        "got the string '90' (the TenantKey 'acme-ci' resource)",
    ]


def test_a_tenant_id_in_config_is_never_shown() -> None:
    with pytest.raises(StackConfigError) as err:
        declare({"legacy": {"tenantId": "prod-tenant-from-a-secret", "keys": {}}})
    assert "prod-tenant" not in str(err.value)
