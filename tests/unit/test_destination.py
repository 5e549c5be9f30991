"""A key's ``destination``: Check's verdicts (named as each face writes them, with the allowed values, before any
call), the provider-wide default merged under a key's own fields, placeholders, and which changes move the key."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse.keys.rules import plan
from pulumi_imburse.ledger import Ledger
from pulumi_imburse.rotating_key import RotatingTenantKeyProvider
from pulumi_imburse.stores.destination import (
    StoreConfig,
    StoreCredentials,
    check_destination,
    is_store,
    location,
    resolve,
)
from pulumi_imburse.tenant_key import TenantKeyProvider
from pulumi_imburse.values import UNKNOWN, now

pytestmark = pytest.mark.unit

TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
AWS = {"type": "aws-secretsmanager", "secretId": "imburse/ci"}
VAULT = {"type": "vault-kv2", "address": "https://vault.example.invalid:8200", "path": "imburse/ci"}


def reasons(value: Any, default: Any = None, environ: dict[str, str] | None = None) -> list[str]:
    return [p.reason for p in check_destination("destination", value, default=default, environ=environ or {})]


@pytest.mark.parametrize(("value", "expected"), [
    ({"secretId": "x"}, "destination.type is required: one of aws-secretsmanager, vault-kv2, state"),
    ({"type": "s3"}, "destination.type must be one of aws-secretsmanager, vault-kv2, state, got 's3'"),
    ({"type": "aws-secretsmanager"}, "destination.secretId is required for an aws-secretsmanager destination"),
    ({**AWS, "path": "p"}, "destination.path applies to vault-kv2 only, not to an aws-secretsmanager destination"),
    ({**AWS, "colour": "blue"}, "destination.colour is not a field of an aws-secretsmanager destination; its fields: "
                                "type, secretId, region, endpoint, kmsKeyId, tags, recoveryWindowInDays, onLoss"),
    ({**AWS, "recoveryWindowInDays": 3}, "destination.recoveryWindowInDays must be 0 (delete at once) or a whole "
                                         "number from 7 to 30, got 3"),
    ({**AWS, "onLoss": "panic"}, "destination.onLoss must be one of rotate, keep, got 'panic'"),
    ({**AWS, "secretId": "imburse/{tenant}"}, "destination.secretId may hold {tenantId} and {resourceName} only, "
                                              "got {tenant}"),
    ({**AWS, "endpoint": "http://secretsmanager.example.invalid"}, "plain http:// is refused"),
    ({"type": "vault-kv2", "path": "p"}, "destination.address is required for a vault-kv2 destination (or set "
                                         "VAULT_ADDR)"),
    ({**VAULT, "keepMetadata": "yes"}, "destination.keepMetadata must be true or false, got 'yes'"),
    ("vault", "destination must be an object such as {type: vault-kv2, path: imburse/app}, got str"),
])
def test_check_names_the_field_and_the_allowed_values(value: Any, expected: str) -> None:
    found = reasons(value)
    assert any(expected in r for r in found), found


def test_valid_destinations_and_unknowns_pass() -> None:
    assert reasons(AWS) == [] and reasons(VAULT) == [] and reasons({"type": "state"}) == [] and reasons(None) == []
    assert reasons({"type": "vault-kv2", "path": "p"}, environ={"VAULT_ADDR": "https://v.example.invalid"}) == []
    assert reasons(UNKNOWN) == [] and reasons({**AWS, "secretId": UNKNOWN}) == []
    assert reasons({"secret_id": "imburse/x", "type": "aws-secretsmanager"}) == []  # Python's names too


def test_a_keys_fields_override_the_providers_default_and_placeholders_are_filled() -> None:
    default = {**VAULT, "path": "imburse/{tenantId}/{resourceName}", "keepMetadata": True}
    assert reasons({"path": "own"}, default) == []
    assert reasons({"region": "eu-west-1"}, default) != []  # an AWS field on the default's Vault destination
    assert reasons(None, {**default, "mount": 3}) == [
        "destination.mount must be a string, got int (from the provider's default, imburse:destination)"]
    resolved = resolve(None, default, tenant_id=TENANT, resource_name="ci")
    assert resolved == {**VAULT, "path": f"imburse/{TENANT}/ci", "keepMetadata": True}
    assert resolve({"path": "own"}, default, tenant_id=TENANT, resource_name="ci")["path"] == "own"
    # Another type replaces the default wholesale; `state` opts out of it.
    assert resolve(AWS, default, tenant_id=TENANT, resource_name="ci") == AWS
    assert not is_store(resolve({"type": "state"}, default, tenant_id=TENANT, resource_name="ci"))
    # Not known at preview (a tenant being created): the destination is not either.
    assert resolve(None, default, tenant_id=UNKNOWN, resource_name="ci") is UNKNOWN
    assert resolve(None, None, tenant_id=TENANT, resource_name="ci") is None


def test_only_a_change_of_where_the_secret_is_moves_the_key() -> None:
    assert location(AWS) == location({**AWS, "tags": {"team": "payments"}, "recoveryWindowInDays": 7})
    assert location(AWS) != location({**AWS, "secretId": "imburse/other"})
    assert location(AWS) != location({**AWS, "region": "us-east-1"})
    assert location(VAULT) != location({**VAULT, "mount": "kv"})
    assert location({"type": "state"}) is None and location(None) is None


def test_store_credentials_never_show_in_repr() -> None:
    creds = StoreCredentials(vault_token="hvs.not-to-be-seen", vault_role_id="r", vault_secret_id="s-not-seen")
    config = StoreConfig(VAULT, creds)
    assert "not-to-be-seen" not in repr(creds) + repr(config) and "s-not-seen" not in repr(creds)


@pytest.mark.parametrize(("face", "spelled"), [("python", "destination.secret_id"), ("wire", "destination.secretId")])
@pytest.mark.parametrize("provider", [TenantKeyProvider, RotatingTenantKeyProvider])
def test_check_refuses_a_bad_destination_at_preview_in_the_users_spelling(
        face: str, spelled: str, provider: type[TenantKeyProvider] | type[RotatingTenantKeyProvider]) -> None:
    rules = provider(client=lambda: pytest.fail("Check makes no API call"), ledger=Ledger(), face=face,  # type: ignore[arg-type]
                     stores=lambda: StoreConfig())
    news = {"tenantId": TENANT, "roles": ["tenant-app-read"], "namePrefix": "ci",
            "destination": {"type": "aws-secretsmanager"}}
    if provider is RotatingTenantKeyProvider:
        news["graceDays"] = 1
    result = rules.check({}, news)
    assert [(f.property, f.reason) for f in result.failures] == [
        ("destination", f"{spelled} is required for an aws-secretsmanager destination")]


def test_check_records_the_resolved_destination_with_the_providers_default() -> None:
    default = {**VAULT, "path": "imburse/{tenantId}/{resourceName}"}
    rules = TenantKeyProvider(client=lambda: pytest.fail("no call"), ledger=Ledger(),  # type: ignore[arg-type]
                              stores=lambda: StoreConfig(default))
    result = rules.check({}, {"tenantId": TENANT.upper(), "roles": ["tenant-app-read"], "namePrefix": "ci"})
    assert not result.failures
    assert result.inputs["destination"] == {**VAULT, "path": f"imburse/{TENANT}/ci"}  # the tenant id in lower case


@pytest.mark.parametrize(("on_loss", "replaced"), [(None, ["destination"]), ("rotate", ["destination"]), ("keep", [])])
def test_a_stored_key_a_refresh_found_lost_is_made_again_unless_on_loss_is_keep(on_loss: str | None,
                                                                                replaced: list[str]) -> None:
    rules = TenantKeyProvider(client=lambda: pytest.fail("Diff makes no API call"), ledger=Ledger(),  # type: ignore[arg-type]
                              stores=lambda: StoreConfig())
    destination = {**VAULT, **({"onLoss": on_loss} if on_loss else {})}
    olds = {"tenantId": TENANT, "roles": ["tenant-app-read"], "name": "ci", "namePrefix": "ci", "publicKey": "pk",
            "createdAt": "2026-12-01T00:00:00Z", "destination": destination, "privateKeyFingerprint": ""}
    news = {k: olds[k] for k in ("tenantId", "roles", "name", "namePrefix", "destination")}
    assert rules.diff(f"{TENANT}/pk", olds, news).replaces == replaced
    olds["privateKeyFingerprint"] = "sha256:" + "0" * 64  # stored as delivered: nothing to do
    assert rules.diff(f"{TENANT}/pk", olds, news).replaces == []
    # A rotating key rotates in place instead.
    grace = {**olds, "graceDays": 1, "privateKeyFingerprint": ""}
    assert plan(grace, {**news, "graceDays": 1}, now=now()).rotate is (on_loss != "keep")
