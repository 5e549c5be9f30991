"""Every policy of imburse-guardrails, through the real engine: ``pulumi preview --policy-pack policy/analyzer``.

One stack (``matrix``) declares a case per resource: two new tenants and a dozen keys, each key built to pass
or break particular policies, plus stack outputs for the stack policy on private keys. Each test runs one
preview of it with its own ``--policy-pack-config`` and reads the policy events the engine sent. Nothing is
created: previews make no Imburse API call, and the tenants are new, so every ``tenantId`` is unknown, as in a
first preview of a real stack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse import RotatingTenantKey, Tenant, TenantKey
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.roles import TENANT_ADMIN, TENANT_ROLES
from pulumi_imburse.testing import EmulatedStack, emulated_stack
from tests.engine import changes
from tests.policy.support import KEY_TYPE, PACK_ENV, STACK_TYPE, TENANT_TYPE, Run, preview, urn, write_config

PROJECT, STACK = "guarded", "matrix"
ROOT = urn(STACK, PROJECT, STACK_TYPE, f"{PROJECT}-{STACK}")
ADDRESS = {"locality": "Leeds", "country": "GB"}
READ = "tenant-transaction-read"
WRITE = "tenant-transaction-write"
NOT_WRITE = [r for r in TENANT_ROLES if r != WRITE and r != TENANT_ADMIN]  # every key but `writer` sticks to these
FIVE = NOT_WRITE[1:6]


def key_urn(name: str) -> str:
    return urn(STACK, PROJECT, KEY_TYPE, name)


def tenant_urn(name: str) -> str:
    return urn(STACK, PROJECT, TENANT_TYPE, name)


# name: (roles, rotationDays, extra TenantKey arguments). All on the tenant `crowded`.
CROWDED_KEYS: dict[str, tuple[list[str], int | None, dict[str, Any]]] = {
    "least-privilege": ([READ], 30, {}),
    "admin": ([TENANT_ADMIN, "tenant-app-read"], 30, {}),
    "admin-named": ([TENANT_ADMIN], 30, {"name": "self-service-bot"}),
    "admin-by-urn": ([TENANT_ADMIN], 30, {}),
    "three-roles": (NOT_WRITE[1:4], 30, {}),
    "four-roles": (NOT_WRITE[1:5], 30, {}),
    "five-roles": (FIVE, 30, {}),
    "never-rotates": ([READ], None, {}),
    "rotates-yearly": ([READ], 365, {}),
    "rotates-quarterly": ([READ], 90, {}),
    "keepers": ([READ], None, {"keepers": {"rotatedOn": "2026-01"}}),
    "writer": ([WRITE], 30, {}),
}
PRIVATE_KEY_LIKE = "not-a-real-key-but-plain-text"
LONG_ADMIN = "admin-with-a-long-resource-name-" + "x" * 63
"""95 characters: its generated key name keeps only the first 91 of them (tenant_key.generated_name)."""
# name: (roles, graceDays). RotatingTenantKeys rotating every 30 days, all on the tenant `tidy`.
ROTATING_KEYS: dict[str, tuple[list[str], int]] = {
    "graceful": ([READ], 7),
    "no-grace": ([READ], 0),
    "graceful-admin": ([TENANT_ADMIN], 7),
}
ROTATES_WITHOUT_GRACE = [
    *(name for name, (_, days, extra) in CROWDED_KEYS.items() if days or extra.get("keepers")),
    "roles-later", LONG_ADMIN, "tidy-reader", "no-grace"]
"""Every key that rotates with no grace period: each TenantKey with rotationDays or keepers, and the
RotatingTenantKey with graceDays 0."""
ALL_KEYS = [*CROWDED_KEYS, "roles-later", LONG_ADMIN, "tidy-reader", *ROTATING_KEYS]
"""Every key of the stack: none has a destination, so its private key would stay in the state."""
DESTINATION = "tenant-key-destination"


def matrix() -> None:
    """The stack every test in this module previews."""
    crowded = Tenant("crowded", name="Crowded Ltd", address=ADDRESS, opts=pulumi.ResourceOptions(protect=True))
    tidy = Tenant("tidy", name="Tidy Ltd", address=ADDRESS)
    for name, (roles, days, extra) in CROWDED_KEYS.items():
        TenantKey(name, tenant_id=crowded.tenant_id, roles=roles, rotation_days=days,
                  name=extra.get("name"), keepers=extra.get("keepers"))
    # roles computed from another resource: unknown until the tenant exists
    TenantKey("roles-later", tenant_id=crowded.tenant_id, rotation_days=30,
              roles=crowded.tenant_id.apply(lambda _id: [READ]))
    TenantKey(LONG_ADMIN, tenant_id=tidy.tenant_id, roles=[TENANT_ADMIN], rotation_days=30)
    reader = TenantKey("tidy-reader", tenant_id=tidy.tenant_id, roles=["tenant-app-read"], rotation_days=30)
    for name, (roles, grace) in ROTATING_KEYS.items():
        RotatingTenantKey(name, tenant_id=tidy.tenant_id, roles=roles, rotation_days=30, grace_days=grace)
    pulumi.export("tidyReaderPublicKey", reader.public_key)
    pulumi.export("tidyReaderPrivateKey", reader.private_key)  # a secret output: fine
    pulumi.export("secretPrivateKey", pulumi.Output.secret(PRIVATE_KEY_LIKE))  # fine
    pulumi.export("keys", {"ci": {"privateKey": PRIVATE_KEY_LIKE}})  # plain text under a private-key name
    pulumi.export("ciApiSecret", PRIVATE_KEY_LIKE)  # plain, but only `apiSecret` in privateKeyNames flags it


@pytest.fixture(scope="module")
def stack(emulator: EmulatorProcess) -> Iterator[EmulatedStack]:
    with emulated_stack(matrix, project_name=PROJECT, stack_name=STACK, emulator=emulator, env=PACK_ENV,
                        destroy_on_exit=False) as s:  # only ever previewed
        yield s


@pytest.fixture(scope="module")
def default(stack: EmulatedStack) -> Run:
    """The preview with the pack's defaults (no ``--policy-pack-config``)."""
    return preview(stack)


# -- Defaults -----------------------------------------------------------------------------------------------

EXPECTED_DEFAULT = {
    ("admin", "tenant-key-no-tenant-admin"): "mandatory",
    ("admin-named", "tenant-key-no-tenant-admin"): "mandatory",
    ("admin-by-urn", "tenant-key-no-tenant-admin"): "mandatory",
    (LONG_ADMIN, "tenant-key-no-tenant-admin"): "mandatory",
    ("five-roles", "tenant-key-max-roles"): "advisory",
    ("never-rotates", "tenant-key-rotation"): "advisory",
    ("rotates-yearly", "tenant-key-rotation"): "advisory",
    ("keys", "no-plaintext-private-key-output"): "mandatory",
    ("crowded", "max-keys-per-tenant"): "advisory",
    ("tidy", "tenants-protected"): "advisory",
    ("graceful-admin", "tenant-key-no-tenant-admin"): "mandatory",  # every key policy applies to rotating keys
    **{(name, "tenant-key-grace-period"): "advisory" for name in ROTATES_WITHOUT_GRACE if name != "roles-later"},
    # no key has a destination: advised, not refused, by default (roles-later too: its roles do not matter here)
    **{(name, DESTINATION): "advisory" for name in ALL_KEYS},
}


def test_each_policy_reports_what_it_should_and_nothing_else(default: Run) -> None:
    verdicts = default.verdicts()
    # the stack policy on outputs reports against the root stack resource; name it by the output's path
    for v in default.violations:
        if v.urn == ROOT:
            verdicts.pop((v.resource, v.policy))
            verdicts[("keys" if "'keys.ci.privateKey'" in v.message else v.resource, v.policy)] = v.level
    notes = {k: lvl for k, lvl in verdicts.items() if k[0] == "roles-later" and k[1] != DESTINATION}
    assert {k: lvl for k, lvl in verdicts.items() if k not in notes} == EXPECTED_DEFAULT
    # roles unknown during the preview: each roles policy says it will run during the update instead
    assert notes == {("roles-later", p): "advisory" for p in (
        "tenant-key-no-tenant-admin", "tenant-key-known-roles", "tenant-key-max-roles", "tenant-key-grace-period")}
    assert all("during preview" in v.message for v in default.violations
               if v.resource == "roles-later" and v.policy not in ("tenant-key-grace-period", DESTINATION))


def test_a_mandatory_violation_fails_the_preview(default: Run) -> None:
    assert default.error is not None
    printed = str(default.error)
    assert "error: preview failed" in printed
    assert "❌ imburse-guardrails@v0.1.0" in printed
    assert "[mandatory]  tenant-key-no-tenant-admin  (pulumi-python:dynamic/imburse:TenantKey: admin)" in printed


def test_events_name_the_resource_and_the_tenant(default: Run) -> None:
    by = {(v.policy, v.urn) for v in default.violations}
    assert ("tenant-key-no-tenant-admin", key_urn("admin")) in by
    assert ("max-keys-per-tenant", tenant_urn("crowded")) in by
    assert ("tenants-protected", tenant_urn("tidy")) in by
    assert ("no-plaintext-private-key-output", ROOT) in by


def test_tenant_admin_message_recommends_the_resource_name_and_urn(default: Run, stack: EmulatedStack) -> None:
    message = default.message("admin", "tenant-key-no-tenant-admin")
    assert "TenantKey 'admin' has the role 'tenant-admin'" in message
    assert f"add its resource name 'admin' (or its URN {key_urn('admin')!r}) to allowedKeys" in message
    assert "tenant-key-no-tenant-admin" in message and "Grant only the roles the key needs" in message
    # the generated key name (admin-<hex>) is different in every preview of a new key: never recommended
    assert not re.search(r"admin-[0-9a-f]{8}", message)
    # so a second preview gives the same advice, word for word
    assert preview(stack).message("admin", "tenant-key-no-tenant-admin") == message
    # a generated name cut to fit 100 characters is recognised as generated too
    long_message = default.message(LONG_ADMIN, "tenant-key-no-tenant-admin")
    assert f"TenantKey {LONG_ADMIN!r} has the role 'tenant-admin'" in long_message and "(key name" not in long_message
    # an explicit key name is stable, and shown
    assert "TenantKey 'admin-named' (key name 'self-service-bot')" in default.message(
        "admin-named", "tenant-key-no-tenant-admin")


def test_messages_say_what_is_wrong_and_how_to_fix_it(default: Run) -> None:
    max_roles = default.message("five-roles", "tenant-key-max-roles")
    assert f"has 5 roles ({', '.join(sorted(FIVE))}), more than maxRoles 4" in max_roles
    assert "split it into narrower keys" in max_roles
    assert "TenantKey 'never-rotates' never rotates. Add rotationDays: 90" in default.message(
        "never-rotates", "tenant-key-rotation")
    assert "rotates every 365 days, more than maxRotationDays 90" in default.message(
        "rotates-yearly", "tenant-key-rotation")
    crowded = default.message("crowded", "max-keys-per-tenant")
    assert f"Tenant 'crowded' has {len(CROWDED_KEYS) + 1} TenantKeys, more than maxKeysPerTenant 10" in crowded
    unprotected = default.message("tidy", "tenants-protected")
    assert "Tenant 'tidy' is not protected" in unprotected and "protect=True" in unprotected
    assert f"pulumi state protect '{tenant_urn('tidy')}'" in unprotected
    (leak,) = [v.message for v in default.violations if v.policy == "no-plaintext-private-key-output"]
    assert "Stack output 'keys.ci.privateKey' is named like a private key but is plain text" in leak
    assert "pulumi.Output.secret" in leak and PRIVATE_KEY_LIKE not in leak
    stored = default.message("least-privilege", DESTINATION)
    assert ("TenantKey 'least-privilege' has no destination, so its private key is kept in the Pulumi state"
            in stored)
    assert "destination of type 'aws-secretsmanager' or 'vault-kv2'" in stored and "imburse:destination" in stored
    assert f"{key_urn('least-privilege')!r}) to exemptKeys in the policy config of {DESTINATION}" in stored
    assert "RotatingTenantKey 'graceful' has no destination" in default.message("graceful", DESTINATION)


# -- Config: allowlists and limits --------------------------------------------------------------------------

def test_policy_config_allowlists_and_limits(stack: EmulatedStack, tmp_path: Path) -> None:
    config = write_config(tmp_path / "policy-config.json", {
        # a resource name, an explicit key name, a URN
        "tenant-key-no-tenant-admin": {
            "allowedKeys": ["admin", "self-service-bot", key_urn("admin-by-urn"), LONG_ADMIN, "graceful-admin"]},
        "tenant-key-known-roles": {"allowedRoles": [TENANT_ADMIN, *NOT_WRITE]},
        "tenant-key-max-roles": {"maxRoles": 2},
        "tenant-key-rotation": {"maxRotationDays": 60},
        "tenant-key-grace-period": {"minGraceDays": 0},  # keys may rotate without a grace period
        "no-plaintext-private-key-output": {"privateKeyNames": ["privateKey", "apiSecret"]},
        "max-keys-per-tenant": {"maxKeysPerTenant": 20},
        "tenants-protected": {"exemptTenants": ["tidy"]},
        # a resource name, an explicit key name, a URN
        DESTINATION: {"exemptKeys": ["least-privilege", "self-service-bot", key_urn("writer")]},
    })
    run = preview(stack, config)
    verdicts = {k: lvl for k, lvl in run.verdicts().items() if k[0] not in ("roles-later", f"{PROJECT}-{STACK}")}
    assert verdicts == {
        **{(name, DESTINATION): "advisory" for name in ALL_KEYS
           if name not in ("least-privilege", "admin-named", "writer", "roles-later")},
        ("writer", "tenant-key-known-roles"): "mandatory",
        ("three-roles", "tenant-key-max-roles"): "advisory",
        ("four-roles", "tenant-key-max-roles"): "advisory",
        ("five-roles", "tenant-key-max-roles"): "advisory",
        ("never-rotates", "tenant-key-rotation"): "advisory",
        ("rotates-yearly", "tenant-key-rotation"): "advisory",
        ("rotates-quarterly", "tenant-key-rotation"): "advisory",
    }
    assert f"'{WRITE}' is not allowed in this stack (allowedRoles: " in run.message("writer", "tenant-key-known-roles")
    assert "more than maxRoles 2" in run.message("three-roles", "tenant-key-max-roles")
    assert "rotates every 90 days, more than maxRotationDays 60" in run.message(
        "rotates-quarterly", "tenant-key-rotation")
    leaks = sorted(v.message.split("'")[1] for v in run.violations if v.policy == "no-plaintext-private-key-output")
    assert leaks == ["ciApiSecret", "keys.ci.privateKey"]
    assert run.failed  # writer's role and the plain outputs are mandatory violations


# -- Config: enforcement levels -------------------------------------------------------------------------------

def test_levels_are_overridden_per_policy(stack: EmulatedStack, tmp_path: Path) -> None:
    config = write_config(tmp_path / "levels.json", {
        "tenant-key-no-tenant-admin": "advisory",
        "no-plaintext-private-key-output": {"enforcementLevel": "advisory"},
        "tenant-key-rotation": {"enforcementLevel": "mandatory", "maxRotationDays": 400},
        "tenant-key-grace-period": {"minGraceDays": 10},
        "tenants-protected": "disabled",
        DESTINATION: {"enforcementLevel": "mandatory"},  # e.g. a production stack's config
    })
    run = preview(stack, config)
    no_grace = {"tenant-key-grace-period": "advisory"}
    stored = {DESTINATION: "mandatory"}
    assert run.of("admin") == {"tenant-key-no-tenant-admin": "advisory", **no_grace, **stored}
    assert run.of("never-rotates") == {"tenant-key-rotation": "mandatory", **stored}
    assert run.of("rotates-yearly") == {**no_grace, **stored}  # within maxRotationDays 400, but no grace period
    assert run.of("graceful") == {**no_grace, **stored}  # 7 days, less than minGraceDays 10
    assert ("RotatingTenantKey 'graceful' keeps its previous key 7 days after a rotation, less than minGraceDays 10"
            in run.message("graceful", "tenant-key-grace-period"))
    assert run.of("tidy") == {}
    assert {v.level for v in run.violations if v.policy == "no-plaintext-private-key-output"} == {"advisory"}
    assert run.failed  # the rotation policy is mandatory now


def test_all_advisory_reports_everything_and_the_preview_succeeds(stack: EmulatedStack, tmp_path: Path) -> None:
    run = preview(stack, write_config(tmp_path / "advisory.json", {"all": "advisory"}))
    assert not run.failed, run.error
    assert run.of("admin") == {"tenant-key-no-tenant-admin": "advisory", "tenant-key-grace-period": "advisory",
                               DESTINATION: "advisory"}
    assert run.of("tidy") == {"tenants-protected": "advisory"}
    assert {v.level for v in run.violations} == {"advisory"}
    assert isinstance(run.result, auto.PreviewResult)
    # the stack, 2 tenants, every key
    assert changes(run.result) == {"create": len(CROWDED_KEYS) + len(ROTATING_KEYS) + 6}


def test_all_disabled_reports_nothing(stack: EmulatedStack, tmp_path: Path) -> None:
    run = preview(stack, write_config(tmp_path / "off.json", {"all": "disabled"}))
    assert not run.failed, run.error
    assert run.violations == []
