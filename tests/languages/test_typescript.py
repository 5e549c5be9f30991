"""examples/typescript, a TypeScript program on the generated SDK, through the real CLI against the emulator.

The program (examples/typescript/index.ts, compiled to bin/index.js by `make node`) runs as a user runs it:
``pulumi up`` with Pulumi's Node.js language host (``make pulumi-cli``), on a copy of the example made by
``emulated_stack``. The test changes the stack's config between runs, and reads results where a user does: the
update's summary, ``pulumi stack output``, ``pulumi stack export`` and the emulator's tenants and keys.
"""

from __future__ import annotations

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN
from pulumi_imburse.testing import emulated_stack

from ..engine import api_writes, authenticates, changes, quiet
from ..plugin.native import cli, resources, yaml_twin
from .support import TS_EXAMPLE, built_ts_example

READ, APP_READ, PAYOUT = "tenant-transaction-read", "tenant-app-read", "tenant-payout-scheme-write"
CHECKOUT_ROLES = ["tenant-collect-scheme-read", "tenant-transaction-write"]


def test_typescript_program_lifecycle(emulator: EmulatorProcess, api: ImburseClient) -> None:
    built_ts_example()
    with emulated_stack(TS_EXAMPLE, emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 4}  # the stack, the tenant, two keys
        assert up.outputs["ciPrivateKey"].secret
        outputs = s.stack.outputs()
        tenant_id, ci = outputs["tenantId"].value, outputs["ciPublicKey"].value
        checkout = outputs["checkoutPublicKey"].value
        assert api.get_tenant(tenant_id).name == "Acme Payments Ltd"
        live = {k.public_key: k for k in api.list_keys(tenant_id)}
        assert set(live) == {ci, checkout}
        assert list(live[ci].roles) == [READ] and sorted(live[checkout].roles) == CHECKOUT_ROLES
        ci_private = outputs["ciPrivateKey"]
        assert ci_private.secret and authenticates(emulator, ci, ci_private.value)

        writes = api_writes(emulator)
        assert changes(s.stack.preview(on_output=quiet)) == {}
        assert api_writes(emulator) == writes

        # Roles: the same key, updated in place.
        s.set_config({"ciRoles": [READ, APP_READ]})
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert s.stack.outputs()["ciPublicKey"].value == ci
        assert sorted(api.get_key(tenant_id, ci).roles) == [APP_READ, READ]

        # Rotation: a new keeper value replaces the key; the old one is revoked.
        s.set_config({"ciKeyEpoch": "2026-12"})
        assert changes(s.stack.up(on_output=quiet)) == {"replace": 1}
        outputs = s.stack.outputs()
        rotated = outputs["ciPublicKey"].value
        assert rotated != ci
        assert {k.public_key for k in api.list_keys(tenant_id)} == {rotated, checkout}
        assert not authenticates(emulator, ci, ci_private.value)
        assert authenticates(emulator, rotated, outputs["ciPrivateKey"].value)

        # Two keys made outside the stack: one taken in by `pulumi import` (the CLI), then declared; the other
        # by the program's `import` resource option alone. Neither import writes to Imburse.
        by_cli = api.create_key(tenant_id, [APP_READ], name="made-by-hand")
        by_option = api.create_key(tenant_id, [READ], name="made-by-hand-too")
        writes = api_writes(emulator)
        out = cli(s, "import", TENANT_KEY_TOKEN, "legacy", f"{tenant_id}/{by_cli.public_key}", "--yes",
                  "--generate-code=false", "--protect=false", cwd=yaml_twin(s))
        assert out.returncode == 0, out.stdout + out.stderr
        [imported] = [r for r in resources(s, TENANT_KEY_TOKEN) if r["urn"].endswith("::legacy")]
        assert imported["inputs"] == {"tenantId": tenant_id, "roles": [APP_READ], "name": "made-by-hand"}
        s.set_config({"importedKeys": {
            "legacy": {"tenantId": tenant_id, "publicKey": by_cli.public_key, "roles": [APP_READ],
                       "name": "made-by-hand"},
            "legacy2": {"tenantId": tenant_id, "publicKey": by_option.public_key, "roles": [READ],
                        "name": "made-by-hand-too"},
        }})
        assert changes(s.stack.up(on_output=quiet)) == {"import": 1}
        assert api_writes(emulator) == writes
        assert changes(s.stack.preview(on_output=quiet)) == {}

        # A second account, through an explicit provider: its tenant and key land in that account only.
        second = emulator.create_account_key(["account-admin"], new_account=True)
        s.set_config({"secondAccount": {"baseUrl": emulator.base_url, "publicKey": second["publicKey"]}})
        s.set_config({"secondAccountPrivateKey": second["privateKey"]}, secret=True)
        assert changes(s.stack.up(on_output=quiet)) == {"create": 3}  # the provider, a tenant, a key
        outputs = s.stack.outputs()
        second_tenant = outputs["secondTenantId"].value
        with ImburseClient(emulator.base_url, second["publicKey"], second["privateKey"]) as other:
            assert [k.public_key for k in other.list_keys(second_tenant)] == [outputs["secondPublicKey"].value]
        assert second_tenant not in {t.tenant_id for t in api.list_tenants()}
        assert second["privateKey"] not in cli(s, "stack", "export").stdout

        # Destroy: nothing of the stack is left in either account.
        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 9}  # the stack and its 8 resources
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}
        with ImburseClient(emulator.base_url, second["publicKey"], second["privateKey"]) as other:
            assert second_tenant not in {t.tenant_id for t in other.list_tenants()}
