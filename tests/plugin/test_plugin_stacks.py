"""The ``pulumi-resource-imburse`` plugin through the real Pulumi CLI and engine, against the emulator.

A Python program (an Automation API inline program) declares the native ``imburse:index:*`` resources; the
engine finds the plugin on ``PATH`` and runs it. Everything a user does is checked where a user sees it: the
CLI's results, ``pulumi stack export`` and the emulator's keys and tenants.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin import schema
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN, TENANT_TOKEN
from pulumi_imburse.testing import emulated_stack

from ..engine import Output, api_writes, authenticates, changes, quiet
from . import native

READ, WRITE = "tenant-app-read", "tenant-app-write"


def test_up_preview_update_rotate_and_destroy(emulator: EmulatorProcess, api: ImburseClient) -> None:
    declared: dict[str, Any] = {"roles": [READ], "keepers": {"v": "1"}}

    def program() -> None:
        t = native.tenant("acme", name="Acme (plugin)", address={"country": "GB"})
        k = native.tenant_key("ci", tenantId=t.id, roles=declared["roles"], keepers=declared["keepers"])
        pulumi.export("tenantId", t.id)
        pulumi.export("publicKey", k.publicKey)
        pulumi.export("privateKey", k.privateKey)

    with emulated_stack(program, project_name="plugin-lifecycle", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 3}  # the stack, the tenant, the key
        tenant_id, first = up.outputs["tenantId"].value, up.outputs["publicKey"].value
        private_key = up.outputs["privateKey"]
        assert private_key.secret and authenticates(emulator, first, private_key.value)
        [live] = api.list_keys(tenant_id)
        assert (live.public_key, list(live.roles)) == (first, [READ]) and live.name.startswith("ci-")

        assert changes(s.stack.preview(on_output=quiet)) == {}

        declared["roles"] = [WRITE, READ]
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"update": 1}
        assert up.outputs["publicKey"].value == first
        assert sorted(api.get_key(tenant_id, first).roles) == [READ, WRITE]

        declared["keepers"] = {"v": "2"}
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"replace": 1}
        second = up.outputs["publicKey"].value
        assert second != first
        assert [k.public_key for k in api.list_keys(tenant_id)] == [second]  # the old key was revoked
        assert authenticates(emulator, second, up.outputs["privateKey"].value)

        text = native.exported_text(s)
        for secret in (private_key.value, up.outputs["privateKey"].value, emulator.private_key):
            assert secret not in text
        [key] = native.resources(s, TENANT_KEY_TOKEN)
        assert set(key["outputs"]["privateKey"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 3}
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


def test_pulumi_import_of_a_key_made_outside_the_stack(emulator: EmulatorProcess, api: ImburseClient,
                                                      existing_tenant: str) -> None:
    made = api.create_key(existing_tenant, [READ], name="made-by-hand")
    key_id = f"{existing_tenant}/{made.public_key}"
    declared = {"on": False}

    def program() -> None:
        if declared["on"]:
            native.tenant_key("imported", tenantId=existing_tenant, roles=[READ], name="made-by-hand")

    with emulated_stack(program, project_name="plugin-import", emulator=emulator) as s:
        s.stack.up(on_output=quiet)
        out = native.cli(s, "import", TENANT_KEY_TOKEN, "imported", key_id, "--yes", "--generate-code=false",
                         "--protect=false", cwd=native.yaml_twin(s))
        assert out.returncode == 0, out.stdout + out.stderr
        assert "the private key of an existing key cannot be read from Imburse" in out.stdout + out.stderr
        [key] = native.resources(s, TENANT_KEY_TOKEN)
        assert key["id"] == key_id
        assert key["inputs"] == {"tenantId": existing_tenant, "roles": [READ], "name": "made-by-hand"}
        assert key["outputs"]["publicKey"] == made.public_key

        declared["on"] = True  # the program now declares what was imported, as `pulumi import` tells one to
        assert changes(s.stack.preview(on_output=quiet)) == {}
        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 2}
        assert made.public_key not in {k.public_key for k in api.list_keys(existing_tenant)}


def test_import_option_adopts_matching_declarations_and_refuses_others(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    made = api.create_key(existing_tenant, [READ], name="hand-made")
    live_tenant = api.get_tenant(existing_tenant)
    declared: dict[str, Any] = {"roles": [READ, WRITE]}
    refusal = (f"cannot import key 'hand-made' of tenant {existing_tenant}: it differs from the declaration (roles: "
               f"live ['{READ}'], declared ['{READ}', '{WRITE}']). Nothing was changed.")

    def program() -> None:
        native.tenant("existing", pulumi.ResourceOptions(import_=existing_tenant), name=live_tenant.name)
        native.tenant_key("hand", pulumi.ResourceOptions(import_=f"{existing_tenant}/{made.public_key}"),
                          tenantId=existing_tenant, roles=declared["roles"], name="hand-made")

    with emulated_stack(program, project_name="plugin-import-option", emulator=emulator) as s:
        writes = api_writes(emulator)
        # The engine (v3.274) would import the key and then update it to the declaration; the provider refuses
        # a difference between the live key and the declaration, as an adoption does.
        out = Output()
        with pytest.raises(auto.CommandError):
            s.stack.preview(on_output=out)  # `pulumi up` previews first: then nothing at all is recorded
        assert refusal in out.text
        assert native.resources(s, TENANT_KEY_TOKEN) == native.resources(s, TENANT_TOKEN) == []
        for _ in range(2):  # without a preview (Automation API, --skip-preview) the engine records the import
            out = Output()  # first; it stays refused on every later run, and nothing is written
            with pytest.raises(auto.CommandError):
                s.stack.up(on_output=out)
            assert refusal in out.text
            assert api_writes(emulator) == writes
            assert list(api.get_key(existing_tenant, made.public_key).roles) == [READ]

        declared["roles"] = [READ]  # the declaration now matches: the import is accepted, still with no write
        s.stack.up(on_output=quiet)
        assert api_writes(emulator) == writes
        assert [t["id"] for t in native.resources(s, TENANT_TOKEN)] == [existing_tenant]
        assert [k["id"] for k in native.resources(s, TENANT_KEY_TOKEN)] == [f"{existing_tenant}/{made.public_key}"]
        assert changes(s.stack.preview(on_output=quiet)) == {}

        s.stack.refresh(on_output=quiet)  # a refresh keeps it accepted
        declared["roles"] = [READ, WRITE]  # and then it is managed like any key: roles change in place
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert sorted(api.get_key(existing_tenant, made.public_key).roles) == [READ, WRITE]
        s.stack.destroy(on_output=quiet)  # deletes the tenant and its key: they are the stack's now


def test_two_explicit_providers_manage_two_accounts(emulator: EmulatorProcess) -> None:
    accounts = [emulator.create_account_key(["account-admin"], new_account=True) for _ in range(2)]

    def program() -> None:
        for i, acct in enumerate(accounts):
            # account1's private key is given in plain text: the provider stores it as a secret all the same
            prov = native.provider(f"account{i}", base_url=emulator.base_url, public_key=acct["publicKey"],
                                   private_key=acct["privateKey"], secret=i == 0)
            opts = pulumi.ResourceOptions(provider=prov)
            t = native.tenant(f"tenant{i}", opts, name=f"Tenant of account {i}")
            k = native.tenant_key(f"key{i}", opts, tenantId=t.id, roles=[READ])
            pulumi.export(f"tenant{i}", t.id)
            pulumi.export(f"key{i}", k.publicKey)
            pulumi.export(f"account{i}", k.accountId)

    with emulated_stack(program, project_name="plugin-accounts", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 7}  # the stack, two providers, two tenants, two keys
        for i, acct in enumerate(accounts):
            assert up.outputs[f"account{i}"].value == acct["accountId"]
            with ImburseClient(emulator.base_url, acct["publicKey"], acct["privateKey"]) as client:
                [own] = client.list_tenants()
                assert own.tenant_id == up.outputs[f"tenant{i}"].value
                assert [k.public_key for k in client.list_keys(own.tenant_id)] == [up.outputs[f"key{i}"].value]
        text = native.exported_text(s)
        assert all(acct["privateKey"] not in text for acct in accounts)
        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 7}
        for acct in accounts:
            with ImburseClient(emulator.base_url, acct["publicKey"], acct["privateKey"]) as client:
                assert client.list_tenants() == []


def test_the_one_command_install_serves_stacks_without_the_plugin_on_path(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str, tmp_path: Path) -> None:
    """``pulumi plugin install resource imburse <version> --file "$(command -v pulumi-resource-imburse)"``."""
    home = tmp_path / "pulumi-home"
    env = {"PULUMI_HOME": str(home), "PULUMI_IGNORE_AMBIENT_PLUGINS": "true"}  # the engine must use the install
    installed = subprocess.run(
        [shutil.which("pulumi") or "pulumi", "plugin", "install", "resource", "imburse", schema.version(),
         "--file", str(native.PLUGIN_EXECUTABLE)],
        env={**os.environ, **env, "PULUMI_SKIP_UPDATE_CHECK": "true"}, capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    def program() -> None:
        native.tenant_key("installed", tenantId=existing_tenant, roles=[READ])

    with emulated_stack(program, project_name="plugin-installed", emulator=emulator, env=env) as s:
        out = Output()
        assert changes(s.stack.up(on_output=out)) == {"create": 2}
        assert "from $PATH" not in out.text
        [key] = api.list_keys(existing_tenant)
        assert key.name.startswith("installed-")
        s.stack.destroy(on_output=quiet)
    assert api.list_keys(existing_tenant) == []


def test_bad_input_fails_naming_the_property_and_the_allowed_values_before_any_api_call(
        emulator: EmulatorProcess, existing_tenant: str) -> None:
    def program() -> None:
        native.tenant_key("bad", tenantId=existing_tenant, roles=[READ, "account-admin"], rotationDays="90")

    with emulated_stack(program, project_name="plugin-bad-input", emulator=emulator) as s:
        writes = api_writes(emulator)
        out = Output()
        with pytest.raises(auto.CommandError):
            s.stack.up(on_output=out)
        assert "roles[1] 'account-admin' is an account role and cannot be given to a tenant key; allowed: " in out.text
        assert "rotationDays must be a positive whole number of days, at most 36500 (100 years), got the string '90'" \
            in out.text
        assert api_writes(emulator) == writes
        assert native.resources(s, TENANT_KEY_TOKEN) == []


def test_a_rotating_key_rotates_in_place_keeps_the_previous_key_for_its_grace_period_then_revokes_it(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    """``imburse:index:RotatingTenantKey``: the core's RotatingTenantKey rules, served by the plugin."""
    rotation, grace = 90, 7

    def program() -> None:
        key = native.rotating_tenant_key("payments", tenantId=existing_tenant, roles=[READ], rotationDays=rotation,
                                         graceDays=grace)
        for name in ("publicKey", "privateKey", "previousPublicKey", "previousPrivateKey", "previousExpiresAt"):
            pulumi.export(name, getattr(key, name))

    def live() -> set[str]:
        return {k.public_key for k in api.list_keys(existing_tenant)}

    with emulated_stack(program, project_name="plugin-rotating", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 2}  # the stack and the key
        a, a_private = up.outputs["publicKey"].value, up.outputs["privateKey"]
        assert a_private.secret and authenticates(emulator, a, a_private.value)
        assert "previousPublicKey" not in up.outputs and live() == {a}  # no previous key: the output is absent

        emulator.age_key(existing_tenant, a, rotation + 1)  # due: the refresh reads the service's createdAt
        up = s.stack.up(on_output=quiet, refresh=True)
        assert changes(up) == {"update": 1}  # a rotation in place
        b, b_private = up.outputs["publicKey"].value, up.outputs["privateKey"]
        previous_private = up.outputs["previousPrivateKey"]
        assert b != a and up.outputs["previousPublicKey"].value == a and live() == {a, b}
        assert b_private.secret and previous_private.secret and previous_private.value == a_private.value
        assert authenticates(emulator, a, a_private.value) and authenticates(emulator, b, b_private.value)
        assert up.outputs["previousExpiresAt"].value  # when the previous key goes
        [stored] = native.resources(s, schema.ROTATING_KEY_TOKEN)
        for secret in ("privateKey", "previousPrivateKey"):
            assert set(stored["outputs"][secret]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}
        text = native.exported_text(s)
        assert a_private.value not in text and b_private.value not in text

        emulator.age_key(existing_tenant, b, grace + 1)  # the grace period is over
        up = s.stack.up(on_output=quiet, refresh=True)
        assert changes(up) == {"update": 1}
        assert up.outputs["publicKey"].value == b and "previousPublicKey" not in up.outputs
        assert live() == {b} and not authenticates(emulator, a, a_private.value)
        assert authenticates(emulator, b, b_private.value)

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 2}
        assert live() == set()


def test_a_tenant_import_that_differs_stays_refused_on_every_run_until_the_declaration_matches(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    live = api.get_tenant(existing_tenant)
    declared: dict[str, Any] = {"name": "Renamed by the import", "address": {"country": "GB"}}
    refusal = (f"cannot import tenant {existing_tenant}: it differs from the declaration (name: live {live.name!r}, "
               f"declared 'Renamed by the import'; address.country: live '', declared 'GB'). Nothing was changed.")

    def program() -> None:
        native.tenant("existing", pulumi.ResourceOptions(import_=existing_tenant), **declared)

    with emulated_stack(program, project_name="plugin-tenant-import", emulator=emulator) as s:
        writes = api_writes(emulator)
        for refresh in (False, True):  # the Automation API's up skips the preview: the engine records the import
            out = Output()  # before the refusal; the next run (a refresh too) refuses it again, with no write
            with pytest.raises(auto.CommandError):
                s.stack.up(on_output=out, refresh=refresh)
            assert refusal in out.text
            assert [t["id"] for t in native.resources(s, TENANT_TOKEN)] == [existing_tenant]  # recorded
            assert api_writes(emulator) == writes
            assert api.get_tenant(existing_tenant) == live

        declared.update(name=live.name, address={})  # as it is: accepted, still with no write
        assert changes(s.stack.up(on_output=quiet)) == {}
        assert api_writes(emulator) == writes
        assert changes(s.stack.preview(on_output=quiet)) == {}

        declared["name"] = "Acme, renamed in place"  # now managed like any tenant
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert api.get_tenant(existing_tenant).name == "Acme, renamed in place"
        s.stack.destroy(on_output=quiet)  # deletes the tenant: it is the stack's now
    assert existing_tenant not in {t.tenant_id for t in api.list_tenants()}
