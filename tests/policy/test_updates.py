"""The pack in ``pulumi up``: what a violation stops, what it lets through, and when stack policies run.

``programs/tenant_keys`` declares the TenantKeys of its ``keys`` config on an existing tenant (``tenantId``) or on a
Tenant of its own, so each test picks the verdicts by config. The Automation API runs ``pulumi up --skip-preview``
(as ``pulumi/actions`` does): the engine sends each resource to the pack just before that resource's step, so a
resource that breaks a mandatory policy is never written, while resources that came before it are.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.rotating_key import TYPE_TOKEN as ROTATING_KEY_TYPE
from pulumi_imburse.testing import EmulatedStack, emulated_stack
from tests.engine import api_writes
from tests.policy.support import KEY_TYPE, PACK, PACK_ENV, STACK_TYPE, Run, Violation, preview, up, urn, write_config

PROGRAM = Path(__file__).resolve().parent / "programs" / "tenant_keys"
PROJECT = "guarded"
READ = ["tenant-transaction-read"]
ADMIN = ["tenant-admin", "tenant-transaction-read"]
DESTINATION = "tenant-key-destination"
"""Advisory by default: these keys have no destination, so the pack advises one on each, and the update goes on."""


def api(emu: EmulatorProcess) -> ImburseClient:
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key)


@contextlib.contextmanager
def existing_tenant(emu: EmulatorProcess, name: str) -> Iterator[str]:
    """A tenant made through the API (not by the stack); its id."""
    with api(emu) as client:
        tenant_id = client.create_tenant(name).tenant_id
    try:
        yield tenant_id
    finally:
        with api(emu) as client, contextlib.suppress(Exception):
            client.delete_tenant(tenant_id)


def keys_of(emu: EmulatorProcess, tenant_id: str) -> dict[str, tuple[str, ...]]:
    """``{key name: roles}`` of the tenant's keys, as the API has them."""
    with api(emu) as client:
        return {k.name: k.roles for k in client.list_keys(tenant_id)}


def resources(s: EmulatedStack) -> dict[str, Any]:
    """``{urn: inputs}`` of the stack's resources in its state, providers left out (their inputs are the stack's
    config, which a test changes)."""
    deployment = s.stack.export_stack().deployment or {}
    return {r["urn"]: r.get("inputs") for r in deployment.get("resources", [])
            if not r["type"].startswith("pulumi:providers:")}


def key_urn(stack: str, name: str) -> str:
    return urn(stack, PROJECT, KEY_TYPE, name)


def rotating_key_urn(stack: str, name: str) -> str:
    return urn(stack, PROJECT, ROTATING_KEY_TYPE, name)


def analyze(s: EmulatedStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``pulumi policy analyze --stack <stack> --policy-pack policy/analyzer [args]``: the pack on the stack's state."""
    return subprocess.run(["pulumi", "policy", "analyze", "--stack", s.stack.name, "--policy-pack", str(PACK), *args],
                          cwd=s.work_dir, env={**os.environ, **s.env}, capture_output=True, text=True, timeout=120)


def besides_destination(run: Run) -> list[Violation]:
    """The run's policy events but the advice of tenant-key-destination, which must be the only other ones."""
    assert {(v.resource, v.level) for v in run.violations if v.policy == DESTINATION} <= {("ci", "advisory")}
    return [v for v in run.violations if v.policy != DESTINATION]


# -- A stack on an existing tenant: advisory goes through, mandatory stops before any write ----------------

@pytest.fixture(scope="module")
def deployed(emulator: EmulatorProcess) -> Iterator[tuple[EmulatedStack, str, Any]]:
    """A stack with two keys on an existing tenant, after a successful ``up``: (stack, tenant id, that up)."""
    with existing_tenant(emulator, "policy-updates") as tenant_id, emulated_stack(
            PROGRAM, stack_name="updates", emulator=emulator, env=PACK_ENV,
            config={"tenantId": tenant_id, "keys": {"ci": {"roles": READ, "rotationDays": 30, "graceDays": 7},
                                                     "legacy": {"roles": READ}}}) as s:
        yield s, tenant_id, up(s)


def test_advisory_violations_are_reported_and_up_proceeds(deployed: tuple[EmulatedStack, str, Any]) -> None:
    s, tenant_id, run = deployed
    assert not run.failed, run.error
    assert run.verdicts() == {("legacy", "tenant-key-rotation"): "advisory", ("ci", DESTINATION): "advisory",
                              ("legacy", DESTINATION): "advisory"}
    assert "TenantKey 'legacy' never rotates" in run.message("legacy", "tenant-key-rotation")
    created = keys_of(s.emulator, tenant_id)
    assert sorted(created.values()) == [tuple(READ), tuple(READ)]
    assert {n.rsplit("-", 1)[0] for n in created} == {"ci", "legacy"}  # generated names: <resource name>-<hex>
    # the private keys are exported as the secrets they are: no-plaintext-private-key-output is satisfied
    outputs = s.stack.outputs()
    assert outputs["ciPrivateKey"].secret and outputs["legacyPrivateKey"].secret


def test_a_mandatory_violation_stops_up_before_any_write(deployed: tuple[EmulatedStack, str, Any]) -> None:
    s, tenant_id, _ = deployed
    keys_before, state_before, writes_before = keys_of(s.emulator, tenant_id), resources(s), api_writes(s.emulator)
    outputs_before = {k: v.value for k, v in s.stack.outputs().items()}
    good = {"ci": {"roles": READ, "rotationDays": 30, "graceDays": 7}, "legacy": {"roles": READ}}
    # an update that gives `ci` tenant-admin, and a new tenant-admin key
    s.set_config({"keys": {**good, "ci": {"roles": ADMIN, "rotationDays": 30, "graceDays": 7},
                           "minter": {"roles": ["tenant-admin"], "rotationDays": 30, "graceDays": 7}}})
    try:
        run = up(s)
    finally:
        s.set_config({"keys": good})
    assert run.failed
    # the update stops at the first refused resource, whichever of the two the engine got first
    refused = {(v.resource, v.policy) for v in run.violations if v.level == "mandatory"}
    assert refused and refused <= {("ci", "tenant-key-no-tenant-admin"), ("minter", "tenant-key-no-tenant-admin")}
    assert api_writes(s.emulator) == writes_before
    assert keys_of(s.emulator, tenant_id) == keys_before  # `ci` keeps its roles; no `minter`
    assert resources(s) == state_before
    assert {k: v.value for k, v in s.stack.outputs().items()} == outputs_before


def test_up_without_preview_stops_at_the_refused_key_after_what_it_depends_on(emulator: EmulatorProcess) -> None:
    # A key of a Tenant created in the same run waits for the tenant's id, so the tenant is created first; the
    # key is refused when it comes up. (`pulumi up` without --skip-preview previews first and stops there.)
    with emulated_stack(PROGRAM, stack_name="depends", emulator=emulator, env=PACK_ENV,
                        config={"tenantName": "policy-depends",
                                "keys": {"minter": {"roles": ["tenant-admin"], "rotationDays": 30,
                                                    "graceDays": 7}}}) as s:
        writes_before = api_writes(s.emulator)
        run = up(s)
        assert run.failed
        assert run.of("minter") == {"tenant-key-no-tenant-admin": "mandatory", DESTINATION: "advisory"}
        assert api_writes(s.emulator) == writes_before + 1  # the tenant, not the key
        (tenant_id,) = [t.tenant_id for t in api(emulator).list_tenants() if t.name == "policy-depends"]
        assert keys_of(emulator, tenant_id) == {}
        assert sorted(u.rsplit("::", 1)[-1] for u in resources(s)) == ["guarded-depends", "tenant"]


def test_policy_analyze_audits_the_state_with_a_checked_config(deployed: tuple[EmulatedStack, str, Any],
                                                                tmp_path: Path) -> None:
    s, _, _ = deployed
    audit = analyze(s)
    assert audit.returncode == 0, audit.stderr
    assert "tenant-key-rotation" in audit.stdout and "TenantKey 'legacy' never rotates" in audit.stdout
    typo = write_config(tmp_path / "typo.json", {"tenant-key-rotation": {"maxRotationDayz": 30}})
    refused = analyze(s, "--policy-pack-config", typo)
    assert refused.returncode != 0
    assert "unknown property 'maxRotationDayz'" in refused.stdout + refused.stderr


# -- A key the provider's Check refuses too ------------------------------------------------------------------

def test_roles_that_are_not_tenant_roles_fail_check_and_the_policy(emulator: EmulatorProcess) -> None:
    with existing_tenant(emulator, "policy-check") as tenant_id, emulated_stack(
            PROGRAM, stack_name="check", emulator=emulator, env=PACK_ENV, destroy_on_exit=False,
            config={"tenantId": tenant_id,
                    "keys": {"typo": {"roles": ["tenant-app-reed", "account-admin"], "rotationDays": 30,
                                      "graceDays": 7}}}) as s:
        run = preview(s)
    assert run.failed
    assert run.of("typo") == {"tenant-key-known-roles": "mandatory", DESTINATION: "advisory"}
    message = run.message("typo", "tenant-key-known-roles")
    assert "TenantKey 'typo' has invalid roles" in message
    assert "'tenant-app-reed' is not a tenant role" in message
    assert "'account-admin' is an account role and cannot be given to a tenant key" in message
    assert "roles[0] 'tenant-app-reed' is not a tenant role" in str(run.error)  # the provider's Check says so too


# -- The stack policy on private keys: it sees the outputs at the end --------------------------------------

def test_a_private_key_exported_as_plain_text_fails_up_after_the_fact(emulator: EmulatorProcess) -> None:
    with existing_tenant(emulator, "policy-leak") as tenant_id, emulated_stack(
            PROGRAM, stack_name="leak", emulator=emulator, env=PACK_ENV,
            config={"tenantId": tenant_id, "keys": {"ci": {"roles": READ, "rotationDays": 30, "graceDays": 7}},
                    "exportPlainPrivateKeys": "true"}) as s:
        # The first preview cannot tell: the key, and so its private key, does not exist yet. (The key has no
        # destination, so its private key is in the state: advised on every run, never a reason to fail.)
        assert besides_destination(preview(s)) == []

        run = up(s)
        assert run.failed
        (leak,) = besides_destination(run)
        assert (leak.policy, leak.level, leak.urn) == (
            "no-plaintext-private-key-output", "mandatory", urn("leak", PROJECT, STACK_TYPE, f"{PROJECT}-leak"))
        assert (f"Stack output 'ciPrivateKey' holds the private key of {rotating_key_urn('leak', 'ci')} as plain text"
                in leak.message)
        assert "never pass it through Output.unsecret" in leak.message
        # ...after the update: the key exists, and the state holds its private key in plain text
        private_key = s.stack.outputs()["ciPrivateKey"]
        assert not private_key.secret and len(private_key.value) >= 16
        assert private_key.value not in leak.message
        assert len(keys_of(emulator, tenant_id)) == 1

        # From now on the preview catches it before any further update...
        again = preview(s)
        assert again.failed and [v.policy for v in besides_destination(again)] == ["no-plaintext-private-key-output"]
        # ...and so does `pulumi policy analyze`, which reads the state without running the program.
        audit = analyze(s)
        assert audit.returncode != 0
        assert "no-plaintext-private-key-output" in audit.stdout
        assert "Stack output 'ciPrivateKey' holds the private key" in audit.stdout
        assert private_key.value not in audit.stdout + audit.stderr

        # Exporting the secret as it is fixes it.
        s.set_config({"exportPlainPrivateKeys": "false"})
        fixed = up(s)
        assert not fixed.failed, fixed.error
        assert besides_destination(fixed) == []
        assert s.stack.outputs()["ciPrivateKey"].secret
