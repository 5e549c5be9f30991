"""Refresh has three outcomes, never a guess (issue 17): through the real CLI, both faces, against the emulator.

An account key of another account (a copy-paste between accounts), a tenant the key cannot see, 403, 500, a
refused connection or a DNS failure fail ``pulumi refresh`` with a message naming the cause; the state and the
service stay as they were, and the next healthy ``up`` creates nothing. A key revoked outside Pulumi (its tenant
visible, the key not) is still dropped (see test_grace_rotation and test_stacks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse import Tenant, TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import Output, changes, quiet
from ..plugin import native

READ = "tenant-app-read"


def dynamic_program() -> None:
    t = Tenant("acme", name="Acme refresh")
    TenantKey("ci", tenant_id=t.id, roles=[READ])
    pulumi.export("tenantId", t.id)


def plugin_program() -> None:
    t = native.tenant("acme", name="Acme refresh")
    native.tenant_key("ci", tenantId=t.id, roles=[READ])
    pulumi.export("tenantId", t.id)


PROGRAMS: dict[str, Callable[[], None]] = {"dynamic": dynamic_program, "plugin": plugin_program}


def exported(s: EmulatedStack) -> list[dict[str, Any]]:
    """The state's resources (``pulumi stack export --show-secrets``: ciphertexts differ on every export), without
    the engine's own bookkeeping, which any refresh rewrites (time stamps, the empty entries of
    ``propertyDependencies``)."""
    deployment = s.stack.export_stack().deployment
    return [{k: v for k, v in r.items() if k not in ("created", "modified", "propertyDependencies")}
            for r in deployment["resources"]]


def live(api: ImburseClient, tenant_id: str) -> list[str]:
    return sorted(k.public_key for k in api.list_keys(tenant_id))


def other_account(emulator: EmulatorProcess, *, with_tenant: bool) -> dict[str, str]:
    acct = emulator.create_account_key(["account-admin"], new_account=True)
    if with_tenant:
        with ImburseClient(emulator.base_url, acct["publicKey"], acct["privateKey"]) as client:
            client.create_tenant("Another account's tenant")
    return acct


CASES: dict[str, tuple[Callable[[EmulatorProcess], dict[str, Any]], str]] = {
    # name: (what to do to the stack's config / the emulator, what the refresh's message must say)
    "another account's key": (lambda emu: {"account": other_account(emu, with_tenant=True)},
                              "but the configured account key belongs to account"),
    "another account with no tenant (the tenant 404s)": (lambda emu: {"account": other_account(emu, with_tenant=False)},
                                                          "so it cannot be confirmed to belong to account"),
    "403": (lambda emu: {"faults": {"errorRate": 1.0, "errorStatuses": [403]}}, "HTTP 403"),
    "500": (lambda emu: {"faults": {"errorRate": 1.0, "errorStatuses": [500]}}, "HTTP 500"),
    "connection refused": (lambda emu: {"baseUrl": "http://127.0.0.1:9"}, "127.0.0.1:9"),
    "DNS failure": (lambda emu: {"baseUrl": "https://imburse-api.invalid"}, "imburse-api.invalid"),
}


@pytest.mark.parametrize("face", sorted(PROGRAMS))
@pytest.mark.parametrize("case", list(CASES))
def test_a_refresh_that_cannot_tell_fails_and_changes_nothing(emulator: EmulatorProcess, api: ImburseClient,
                                                              face: str, case: str) -> None:
    make, says = CASES[case]
    with emulated_stack(PROGRAMS[face], project_name=f"refresh-{face}", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        tenant_id = up.outputs["tenantId"].value
        keys = live(api, tenant_id)
        assert len(keys) == 1
        setup = make(emulator)
        if "account" in setup:
            s.set_config({"imburse:publicKey": setup["account"]["publicKey"]})
            s.set_config({"imburse:privateKey": setup["account"]["privateKey"]}, secret=True)
        if "baseUrl" in setup:
            s.set_config({"imburse:baseUrl": setup["baseUrl"]})
        # `pulumi refresh` uses the provider configuration the last `up` recorded: record the new one (Diff makes no
        # API call, so this up changes nothing) as a user who changed the key and ran `pulumi up` would.
        assert changes(s.stack.up(on_output=quiet)) == {}
        before = exported(s)
        if "faults" in setup:
            emulator.set_faults(**setup["faults"])
        out = Output()
        try:
            with pytest.raises(auto.CommandError):
                s.stack.refresh(on_output=out)
        finally:
            emulator.clear_faults()
        assert says in out.text
        assert "Traceback" not in out.text  # one readable message on both faces
        assert exported(s) == before  # nothing dropped, nothing rewritten
        assert live(api, tenant_id) == keys  # the service is as it was
        # Back to the right account and URL: the next up creates nothing, and a refresh finds everything.
        s.set_config({"imburse:publicKey": emulator.public_key, "imburse:baseUrl": emulator.base_url})
        s.set_config({"imburse:privateKey": emulator.private_key}, secret=True)
        assert changes(s.stack.up(on_output=quiet)) == {}
        assert changes(s.stack.refresh(on_output=quiet)) == {}
        assert live(api, tenant_id) == keys
        s.stack.destroy(on_output=quiet)


@pytest.mark.parametrize("face", sorted(PROGRAMS))
def test_refresh_run_program_of_a_tenant_without_address_shows_no_difference(emulator: EmulatorProcess,
                                                                              face: str) -> None:
    def program() -> None:
        Tenant("acme", name="No address") if face == "dynamic" else native.tenant("acme", name="No address")

    with emulated_stack(program, project_name=f"refresh-run-{face}", emulator=emulator) as s:
        s.stack.up(on_output=quiet)
        out = Output()
        assert changes(s.stack.refresh(on_output=out, run_program=True)) == {}
        assert "[diff:" not in out.text  # it showed `[diff: -address]`, then reported the tenant unchanged
        s.stack.destroy(on_output=quiet)
