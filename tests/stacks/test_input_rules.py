"""Inputs that used to pass Check and hurt later, through the real Pulumi CLI (issue 10 items 6-9).

Accepted inputs settle: an upper-case tenant id, a resource name of 100 characters and a private key pasted
with its line end give a stack whose next preview plans nothing. Refused inputs fail the ``up`` before
anything is created, with a message that names what the user set (and never shows a secret).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.declarative import declare_from_config, export
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import Output, api_writes, authenticates, changes, quiet

LONG_NAME = "k" * 100
SECRET_TENANT = "tenant-from-a-secret-9f2c"


def accepted() -> None:
    tenant = pulumi.Config().require("tenantId")
    upper = TenantKey("upper", tenant_id=tenant.upper(), roles=["tenant-app-read"], name="upper")
    long = TenantKey(LONG_NAME, tenant_id=tenant, roles=["tenant-app-read"])
    for label, key in (("upper", upper), ("long", long)):
        pulumi.export(f"{label}PublicKey", key.public_key)
        pulumi.export(f"{label}PrivateKey", key.private_key)
        pulumi.export(f"{label}Name", key.name)


def test_accepted_inputs_are_created_and_settle(emulator: EmulatorProcess, api: ImburseClient,
                                                existing_tenant: str) -> None:
    with emulated_stack(accepted, project_name="input-rules", emulator=emulator,
                        config={"tenantId": existing_tenant},
                        secret_config={"imburse:privateKey": emulator.private_key + "\n"}) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 3}
        out = {k: v.value for k, v in up.outputs.items()}
        assert out["longName"].startswith("k" * 91) and len(out["longName"]) == 100
        live = {k.public_key: k.name for k in api.list_keys(existing_tenant)}
        assert live == {out["upperPublicKey"]: "upper", out["longPublicKey"]: out["longName"]}
        assert authenticates(emulator, out["upperPublicKey"], out["upperPrivateKey"])
        # Settled: the next preview plans nothing (an upper-case tenant id used to replace the key on every up).
        assert s.stack.preview(on_output=quiet).change_summary == {"same": 3}


def key_with(**kwargs: Any) -> Callable[[], None]:
    def program() -> None:
        tenant = pulumi.Config().require("tenantId")
        TenantKey("ci", **{"tenant_id": tenant, "roles": ["tenant-app-read"], **kwargs})
    return program


def secret_tenant_id() -> None:
    TenantKey("ci", tenant_id=pulumi.Output.secret(SECRET_TENANT), roles=["tenant-app-read"])


def from_config() -> None:
    export(declare_from_config())


REFUSED: list[tuple[str, Callable[[], None], dict[str, Any], tuple[str, ...], tuple[str, ...]]] = [
    # A Python program is told rotation_days, as it wrote it; a number as written (the engine sends 0 as 0.0).
    ("rotationDays past the year 9999", key_with(rotation_days=3_000_000), {},
     ("rotation_days must be", "at most 36500 (100 years), got 3000000\n"), ("3000000.0",)),
    ("rotationDays 0", key_with(rotation_days=0), {},
     ("rotation_days must be a positive whole number of days, at most 36500 (100 years), got 0\n",),
     ("0.0", "rotationDays must")),
    ("a secret tenant id that is not a GUID", secret_tenant_id, {},
     ("tenant_id must be a GUID", "25 characters"), (SECRET_TENANT, "9f2c", "tenantId must")),
    ("protect: 'false' in structured config", from_config,
     {"tenants": {"acme": {"name": "Acme", "protect": "false", "keys": {"ci": {"roles": ["tenant-app-read"]}}}}},
     ("input-rules:tenants.acme.protect must be true or false, got the string 'false'",), ()),
    ("two config entries making one resource name", from_config,
     {"tenants": {"a": {"tenantId": "{tenantId}", "keys": {"b-c": {"roles": ["tenant-app-read"]}}},
                  "a-b": {"tenantId": "{tenantId}", "keys": {"c": {"roles": ["tenant-app-read"]}}}}},
     ("input-rules:tenants.a.keys.b-c and input-rules:tenants.a-b.keys.c would both be the TenantKey resource "
      "'a-b-c'",), ()),
    ("a role typo in structured config", from_config,
     {"tenants": {"acme": {"name": "Acme", "keys": {"ci": {"roles": ["tenant-app-reed"]}}}}},
     ("input-rules:tenants.acme.keys.ci.roles[0] 'tenant-app-reed' is not a tenant role",), ()),
    ("a baseUrl without a scheme", key_with(), {"imburse:baseUrl": "localhost:{port}"},
     ("stack config imburse:baseUrl must be an https:// URL", "got 'localhost:"), ("InvalidSchema", "Traceback")),
]


def _fill(value: Any, **names: str) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, **names) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("case", "program", "config", "shown", "hidden"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_inputs_fail_naming_what_the_user_set_with_nothing_created(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str, case: str, program: Callable[[], None],
        config: dict[str, Any], shown: tuple[str, ...], hidden: tuple[str, ...]) -> None:
    port = emulator.base_url.rsplit(":", 1)[1]
    stack_config = {"tenantId": existing_tenant, **_fill(config, tenantId=existing_tenant, port=port)}
    with emulated_stack(program, project_name="input-rules", emulator=emulator, config=stack_config) as s:
        writes, out = api_writes(emulator), Output()
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=out)
        text = f"{err.value}\n{out.text}"
        for needle in shown:
            assert needle in text, case
        for needle in hidden:
            assert needle not in text, case
        assert api_writes(emulator) == writes and api.list_keys(existing_tenant) == []
