"""The root stack and every example, end to end through StackRunner against the emulator.

Each scenario is what a user would see across `pulumi up` runs: what the first up creates (checked
in the emulator), that a second up writes nothing, that a roles change is one update, removing a key
one delete, a keepers change one replace with the new key created before the old one is revoked,
that refresh after an out-of-band delete drops the resource and the next up recreates it, that
destroy leaves nothing behind, and that no private key ever reaches the state file in plain text.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import StackRunner, UpResult

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "stack-tests"
WRITE_METHODS = ("POST ", "PUT ", "DELETE ")
TOKEN_ROUTE = "POST /identity/v1/hmac/management"


class Deployment:
    """One stack of one project, run with StackRunner against the emulator."""

    def __init__(self, project_dir: Path, tmp_path: Path, emu: EmulatorProcess, config: dict[str, Any]) -> None:
        self.project_dir = project_dir
        self.emu = emu
        self.state_file = tmp_path / "state.json"
        self.config = config
        self.private_keys: set[str] = {emu.private_key}

    def runner(self) -> StackRunner:
        return StackRunner(
            self.project_dir, stack_name="dev", state_file=self.state_file, passphrase=PASSPHRASE,
            config={"imburse:baseUrl": self.emu.base_url, "imburse:publicKey": self.emu.public_key, **self.config},
            secret_config={"imburse:privateKey": self.emu.private_key},
        )

    def writes(self) -> int:
        return sum(n for route, n in self.emu.stats()["requests"].items()
                   if route.startswith(WRITE_METHODS) and route != TOKEN_ROUTE)

    def up(self) -> UpResult:
        result = self.runner().up()
        for value in result.outputs.values():
            if value.secret:
                self.private_keys |= _strings(value.value)
        self.assert_state_holds_no_private_key()
        return result

    def assert_state_holds_no_private_key(self) -> None:
        text = self.state_file.read_text()
        for secret in self.private_keys:
            assert secret not in text


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


def changes(result: Any) -> dict[str, int]:
    return {k: v for k, v in dict(result.summary.resource_changes).items() if v and k != "same"}


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[ImburseClient]:
    emulator.clear_faults()
    with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as c:
        yield c


def key_urn_order(result: Any, name_suffix: str) -> list[str]:
    return [op for op, urn in result.steps if urn.endswith(f"::{name_suffix}")]


# ---------------------------------------------------------------- the root stack

ROOT_TENANTS: dict[str, Any] = {
    "acme": {
        "name": "Acme Payments Ltd",
        "address": {"country": "GB", "locality": "Leeds"},
        "keys": {
            "checkout": {"roles": ["tenant-collect-scheme-read", "tenant-transaction-write"], "rotationDays": 90},
            "reporting": {"roles": ["tenant-transaction-read"], "rotationDays": 30},
        },
    },
    "globex": {
        "name": "Globex Payouts",
        "address": {"country": "IE"},
        "keys": {"payouts": {"roles": ["tenant-payout-scheme-write"], "keepers": {"epoch": "1"}}},
    },
}


def test_root_stack_lifecycle(emulator: EmulatorProcess, api: ImburseClient, tmp_path: Path) -> None:
    tenants = copy.deepcopy(ROOT_TENANTS)
    d = Deployment(REPO, tmp_path, emulator, {"tenants": tenants})

    first = d.up()
    assert changes(first) == {"create": 6}  # stack, 2 tenants, 3 keys
    ids = first.outputs["tenantIds"].value
    public = first.outputs["publicKeys"].value
    assert first.outputs["privateKeys"].secret and not first.outputs["publicKeys"].secret
    assert {api.get_tenant(ids["acme"]).name, api.get_tenant(ids["globex"]).name} == {
        "Acme Payments Ltd", "Globex Payouts"}
    live = {k.public_key: k for tid in ids.values() for k in api.list_keys(tid)}
    assert set(live) == set(public.values())
    assert live[public["acme/checkout"]].roles == ("tenant-collect-scheme-read", "tenant-transaction-write")
    for ref, private_key in first.outputs["privateKeys"].value.items():
        with ImburseClient(emulator.base_url, public[ref], private_key) as as_key:
            as_key.access_token()  # every exported private key authenticates

    before = d.writes()
    second = d.up()
    assert changes(second) == {} and d.writes() == before  # a second up writes nothing

    tenants["acme"]["keys"]["reporting"]["roles"] = ["tenant-transaction-read", "tenant-app-read"]
    third = d.up()
    assert changes(third) == {"update": 1}
    assert api.get_key(ids["acme"], public["acme/reporting"]).roles == ("tenant-app-read", "tenant-transaction-read")

    del tenants["acme"]["keys"]["reporting"]
    fourth = d.up()
    assert changes(fourth) == {"delete": 1}
    assert public["acme/reporting"] not in {k.public_key for k in api.list_keys(ids["acme"])}

    tenants["globex"]["keys"]["payouts"]["keepers"] = {"epoch": "2"}
    fifth = d.up()
    assert changes(fifth) == {"replace": 1}
    assert key_urn_order(fifth, "globex-payouts") == ["create-replacement", "replace", "delete-replaced"]
    new_payouts = fifth.outputs["publicKeys"].value["globex/payouts"]
    assert new_payouts != public["globex/payouts"]
    assert [k.public_key for k in api.list_keys(ids["globex"])] == [new_payouts]  # old one revoked

    api.delete_key(ids["acme"], public["acme/checkout"])  # out of band
    refreshed = d.runner().refresh()
    assert changes(refreshed) == {"delete": 1}
    recreated = d.up()
    assert changes(recreated) == {"create": 1}
    assert recreated.outputs["publicKeys"].value["acme/checkout"] in {k.public_key for k in api.list_keys(ids["acme"])}

    d.runner().destroy()
    listed = {t.tenant_id for t in api.list_tenants()}
    assert not set(ids.values()) & listed  # nothing the stack made is left
    d.assert_state_holds_no_private_key()


def test_root_stack_config_mistakes_fail_before_any_write(emulator: EmulatorProcess, tmp_path: Path) -> None:
    tenants = {"acme": {"name": "Acme", "keys": {"ci": {"role": ["tenant-app-read"]}}}}
    d = Deployment(REPO, tmp_path, emulator, {"tenants": tenants})
    before = d.writes()
    with pytest.raises(Exception, match=r"tenants\.acme\.keys\.ci: unknown field\(s\) role; allowed: roles"):
        d.runner().up()
    assert d.writes() == before


def test_root_stack_bad_role_fails_check_naming_property_and_allowed_values(emulator: EmulatorProcess,
                                                                            tmp_path: Path) -> None:
    tenants = {"acme": {"name": "Acme", "keys": {"ci": {"roles": ["tenant-superuser"]}}}}
    d = Deployment(REPO, tmp_path, emulator, {"tenants": tenants})
    before = d.writes()
    # Like `pulumi preview` (and the preview `pulumi up` runs first): Check fails, nothing is written.
    with pytest.raises(Exception, match=r"roles.*'tenant-superuser' is not a tenant role; allowed: tenant-admin"):
        d.runner().preview()
    assert d.writes() == before


# ---------------------------------------------------------------- examples


def test_basic_example(emulator: EmulatorProcess, api: ImburseClient, tmp_path: Path) -> None:
    d = Deployment(REPO / "examples" / "basic", tmp_path, emulator, {})
    first = d.up()
    assert changes(first) == {"create": 4}
    tid = first.outputs["tenantId"].value
    assert {k.public_key for k in api.list_keys(tid)} == {first.outputs["checkoutPublicKey"].value,
                                                        first.outputs["reportingPublicKey"].value}
    assert first.outputs["checkoutPrivateKey"].secret

    before = d.writes()
    assert changes(d.up()) == {} and d.writes() == before

    d.config["checkoutRoles"] = ["tenant-collect-scheme-read"]
    assert changes(d.up()) == {"update": 1}
    assert api.get_key(tid, first.outputs["checkoutPublicKey"].value).roles == ("tenant-collect-scheme-read",)

    d.config["reporting"] = "false"
    assert changes(d.up()) == {"delete": 1}
    assert [k.public_key for k in api.list_keys(tid)] == [first.outputs["checkoutPublicKey"].value]

    api.delete_key(tid, first.outputs["checkoutPublicKey"].value)
    assert changes(d.runner().refresh()) == {"delete": 1}
    again = d.up()
    assert changes(again) == {"create": 1}
    assert [k.public_key for k in api.list_keys(tid)] == [again.outputs["checkoutPublicKey"].value]

    d.runner().destroy()
    assert tid not in {t.tenant_id for t in api.list_tenants()}


def test_rotation_example(emulator: EmulatorProcess, api: ImburseClient, tmp_path: Path) -> None:
    d = Deployment(REPO / "examples" / "rotation", tmp_path, emulator, {"rotationEpoch": "1"})
    first = d.up()
    assert changes(first) == {"create": 4}
    old = first.outputs["onDemandPublicKey"].value
    tenant_id = next(r.outputs["tenantId"] for r in d.runner().resources() if r.type.endswith(":Tenant"))
    assert changes(d.up()) == {}

    d.config["rotationEpoch"] = "2"
    rotated = d.up()
    assert changes(rotated) == {"replace": 1}
    assert key_urn_order(rotated, "on-demand") == ["create-replacement", "replace", "delete-replaced"]
    new = rotated.outputs["onDemandPublicKey"].value
    assert new != old and old not in {k.public_key for k in api.list_keys(tenant_id)}
    assert rotated.outputs["onDemandPrivateKey"].value != first.outputs["onDemandPrivateKey"].value
    with ImburseClient(emulator.base_url, new, rotated.outputs["onDemandPrivateKey"].value) as as_key:
        as_key.access_token()

    d.runner().destroy()
    assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


def test_existing_tenant_example_with_import(emulator: EmulatorProcess, api: ImburseClient, tmp_path: Path) -> None:
    tenant_id = api.create_tenant("Pre-existing Ltd").tenant_id
    legacy = api.create_key(tenant_id, ["tenant-transaction-read"], "legacy")
    d = Deployment(REPO / "examples" / "existing-tenant", tmp_path, emulator,
                   {"tenantId": tenant_id, "importKey": f"{tenant_id}/{legacy.public_key}"})
    first = d.up()
    assert first.outputs["legacyPublicKey"].value == legacy.public_key
    assert {k.public_key for k in api.list_keys(tenant_id)} == {legacy.public_key, first.outputs["opsPublicKey"].value}
    assert "cannot be read from Imburse" in first.provider_log
    assert legacy.private_key and legacy.private_key not in d.state_file.read_text()

    before = d.writes()
    assert changes(d.up()) == {} and d.writes() == before

    d.config["opsRoles"] = ["tenant-app-read", "tenant-app-write"]
    assert changes(d.up()) == {"update": 1}

    d.runner().destroy()
    assert api.list_keys(tenant_id) == []  # keys revoked, the tenant itself was never ours
    assert api.get_tenant(tenant_id).name == "Pre-existing Ltd"
    api.delete_tenant(tenant_id)


def test_serialized_provider_in_state_is_small_plain_and_identical(emulator: EmulatorProcess, tmp_path: Path) -> None:
    d = Deployment(REPO / "examples" / "basic", tmp_path, emulator, {})
    d.up()
    providers = {r.type: r.inputs["__provider"] for r in d.runner().resources() if "__provider" in r.inputs}
    assert set(providers) == {"pulumi-python:dynamic/imburse:Tenant", "pulumi-python:dynamic/imburse:TenantKey"}
    for value in providers.values():
        assert isinstance(value, str) and len(value) <= 256
    assert "ciphertext" not in d.state_file.read_text().split('"__provider"')[1][:80]
    d.runner().destroy()
