"""A ``kill -9`` of the provider between a key's create and the store's write, or right after the write (before the
engine records the key), converges on the next ``up`` (issue 18, "Ordering, no orphans"; the crash rules of issue 17).

One stack per case (``programs/kills``, run by the Python language host) holds both faces, each with a ``TenantKey``
and a ``RotatingTenantKey`` delivered to their own secrets. The first ``up`` runs with ``tests/stores/killpoint`` on
the provider hosts' ``PYTHONPATH``: one face's provider process (the plugin, or the dynamic provider host) kills
itself with SIGKILL at its first store write, before or after it, in one case after killing the CLI (the other
face's creates end as the update fails, wherever they are). Before the next ``up`` the test checks the danger is
real (a live key whose secret is not stored; or a key no state holds, current in its store). After it (and, for a
killed CLI, the README's recovery around it): no pending operation, exactly one live key per resource and it is the
state's, each store's current version is that key and authenticates, no store names a revoked key current or
previous, and no journal row of a revoked key is left open.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import hvac
import pytest
from pulumi import automation as auto

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.journal import OPEN, Journal
from pulumi_imburse.stores import vault as vault_store
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import Output, authenticates, changes, quiet
from ..stacks.test_rotation_matrix import unsecret
from ..support.apps import AWS_ENV, StoreApp
from .conftest import VAULT_TOKEN, Where

pytestmark = pytest.mark.usefixtures("no_real_aws")

HERE = Path(__file__).resolve().parent
KILL_POINT = HERE / "killpoint"
PROGRAM = HERE / "programs" / "kills"
"""Run by the language host, not inline: a killed CLI then leaves no program running in this process."""
KEYS = ("dynamic-key", "dynamic-rotating", "plugin-key", "plugin-rotating")


def previous_public_key(app: StoreApp) -> str:
    """The key the store names *previous* (AWS: ``AWSPREVIOUS``; Vault: the provider's metadata), or ``""``."""
    if app.destination["type"] == "aws-secretsmanager":
        document = app.read("AWSPREVIOUS")
        return document.public_key if document is not None else ""
    try:
        meta = app._vault.secrets.kv.v2.read_secret_metadata(path=app.destination["path"])
    except hvac.exceptions.InvalidPath:
        return ""
    return str((meta["data"].get("custom_metadata") or {}).get(vault_store.PREVIOUS) or "")


def left_running(pulumi_home: str) -> list[str]:
    """Kill what a killed CLI of the stack whose Pulumi home is ``pulumi_home`` left running (Pulumi's language host
    outlives it, as ``tests/faults/crash.py`` notes; so may a provider host); their command lines."""
    mark, left = f"PULUMI_HOME={pulumi_home}".encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            left.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
    return left


def key_outputs(s: EmulatedStack) -> dict[str, dict[str, Any]]:
    """``{resource name: outputs}`` of the stack's key resources."""
    return {r["urn"].rsplit("::", 1)[-1]: unsecret(r["outputs"])
            for r in (s.stack.export_stack().deployment or {})["resources"] if r["type"].endswith("TenantKey")}


CASES = [("aws", "plugin", "provider"), ("aws", "dynamic", "provider"), ("aws", "plugin", "cli"),
         ("vault", "plugin", "provider")]
"""(store, the face whose provider process is killed, what is killed: that ``provider`` process, or the ``cli`` that
runs it and then the process): both faces on AWS, one on Vault (its server costs more)."""


@pytest.mark.parametrize("point", ["before-store-write", "after-store-write"])
@pytest.mark.parametrize(("store", "face", "target"), CASES)
def test_a_kill_at_the_store_write_converges_on_the_next_up(
        store: str, face: str, target: str, point: str, where: Where, emulator: EmulatorProcess,
        api: ImburseClient, existing_tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant, base = existing_tenant, f"imburse/kills-{uuid.uuid4().hex[:12]}"
    destinations = {k: where(store, f"{base}/{k}", recovery_window_days=0) for k in KEYS}
    apps = {k: StoreApp(d, vault_token=VAULT_TOKEN) for k, d in destinations.items()}

    env = {**AWS_ENV, "VAULT_TOKEN": VAULT_TOKEN, "PYTHONPATH": str(KILL_POINT)}
    config = {"kills:tenantId": tenant, "kills:destinations": destinations}
    with emulated_stack(PROGRAM, emulator=emulator, env=env, config=config, inline=False) as s:
        journal = Journal(s.env["IMBURSE_JOURNAL"])
        monkeypatch.setenv("IMBURSE_TEST_KILL", point)
        monkeypatch.setenv("IMBURSE_TEST_KILL_IN", face)
        monkeypatch.setenv("IMBURSE_TEST_KILL_CLI", "1" if target == "cli" else "0")
        said = Output()
        with pytest.raises(auto.CommandError):
            s.stack.up(on_output=said)
        monkeypatch.delenv("IMBURSE_TEST_KILL")

        # The danger is real: keys the state does not hold, live in the tenant; their secrets stored or not.
        # (The other face's keys that were created are in the state; their rows stay open until the engine names them.)
        in_state = {o["publicKey"] for o in key_outputs(s).values()}
        rows = [e for e in journal.entries()
                if e.state == OPEN and e.public_key and e.destination and e.public_key not in in_state]
        killed = {str(e.public_key) for e in rows}
        owner = "::imburse:index:" if face == "plugin" else "::pulumi-python:dynamic"
        assert any(owner in e.owner for e in rows), f"{face}: no kill at the store write:\n{said.text}"
        assert killed <= {k.public_key for k in api.list_keys(tenant)}
        stored = {doc.public_key for doc in (app.read() for app in apps.values()) if doc is not None}
        if point == "before-store-write":
            assert not killed & stored, "a key was stored before its write"
        else:
            assert killed & stored, "no killed key is current in its store"

        said = Output()
        if target == "cli":  # the README's "If an update is interrupted"
            left_running(s.env["PULUMI_HOME"])
            pending = (s.stack.export_stack().deployment or {}).get("pending_operations") or []
            assert any(op["type"] == "creating" for op in pending), "the killed CLI recorded every create"
            s.stack.cancel()
            s.stack.up(on_output=said)
            s.stack.refresh(clear_pending_creates=True, on_output=quiet)
        else:
            s.stack.up(on_output=said)

        outputs = key_outputs(s)
        assert sorted(outputs) == sorted(KEYS)
        deployment = s.stack.export_stack().deployment or {}
        assert not deployment.get("pending_operations"), deployment.get("pending_operations")
        live = {k.public_key for k in api.list_keys(tenant)}
        assert live == {o["publicKey"] for o in outputs.values()}, "exactly one live key per resource, the state's"
        for name, app in apps.items():
            current = app.read()
            assert current is not None and current.public_key == outputs[name]["publicKey"], name
            assert authenticates(emulator, current.public_key, current.private_key), name
            assert previous_public_key(app) in ("", *live), f"{name}: a revoked key is previous in the store"
        assert not killed & live
        assert [e for e in journal.entries() if e.state == OPEN and e.public_key not in live] == []
        assert "interrupted" in said.text, said.text  # the settle said what it revoked

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": len(KEYS) + 1}
        assert api.list_keys(tenant) == []


