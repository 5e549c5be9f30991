"""The root stack (``__main__.py`` + ``Pulumi.dev.yaml`` at the repo root) through the real Pulumi CLI.

Each test is what a user sees across successive ``pulumi up`` runs of one stack against the emulator,
checked in the emulator itself through its API: what the first up creates, that preview/refresh/a second
up change and write nothing, that destroy leaves nothing behind; a roles or name change is one in-place
update, removing a key one delete, a keepers change one create-before-delete replacement; ``protect``
stops destroy; refresh after an out-of-band delete drops the resource and the next up recreates it; no
private key, account key or bearer token reaches the state, the CLI's output or ``pulumi stack output``;
and configuration mistakes read, in the CLI output, as what to fix.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import NotFoundError
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import REPO, Output, api_writes, authenticates, changes, quiet, step_ops, strings

PROJECT = "imburse-platform"
STACK = "dev"
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")
"""A bearer token as the emulator (and Imburse) mints them: a signed JWT."""

SMALL: dict[str, Any] = {
    "acme": {
        "name": "Acme Small Ltd",
        "address": {"country": "GB"},
        "keys": {
            "ci": {"roles": ["tenant-app-read"], "name": "ci"},
            "ops": {"roles": ["tenant-transaction-read"]},
        },
    },
}
"""A one-tenant, two-key config for the scenarios that do not need the whole dev stack."""


@pytest.fixture
def root_project(tmp_path: Path) -> Path:
    """The root project as a user checks it out: Pulumi.yaml, __main__.py and the dev stack's config.

    Only the ``config`` of ``Pulumi.dev.yaml`` is taken (a local ``encryptionsalt`` belongs to someone's
    own passphrase, not to the project), and only these files (the repo root also holds .tools and .git).
    """
    project = tmp_path / "root-project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(REPO / name, project / name)
    config = yaml.safe_load((REPO / f"Pulumi.{STACK}.yaml").read_text())["config"]
    (project / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    return project


@contextlib.contextmanager
def root_stack(project: Path, emulator: EmulatorProcess,
               tenants: Mapping[str, Any] | None = None) -> Iterator[EmulatedStack]:
    """The root project's ``dev`` stack against ``emulator``; ``tenants`` replaces the file's config."""
    config = {"tenants": copy.deepcopy(dict(tenants))} if tenants is not None else None
    with emulated_stack(project, stack_name=STACK, emulator=emulator, config=config) as s:
        yield s


def dev_tenants() -> dict[str, Any]:
    """The ``tenants`` of the repo's Pulumi.dev.yaml."""
    config = yaml.safe_load((REPO / f"Pulumi.{STACK}.yaml").read_text())["config"]
    tenants: dict[str, Any] = config[f"{PROJECT}:tenants"]
    return tenants


def outputs(result: auto.UpResult) -> dict[str, Any]:
    """The up's stack outputs as plain values."""
    return {name: out.value for name, out in result.outputs.items()}


def key_ids(api: ImburseClient, tenant_id: str) -> set[str]:
    """The public keys of the live keys of a tenant."""
    return {k.public_key for k in api.list_keys(tenant_id)}


def run_cli(s: EmulatedStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``pulumi <args> --stack <name>`` in the stack's project dir, as a user types it."""
    env = {**os.environ, **s.env}
    return subprocess.run(["pulumi", *args, "--stack", s.stack.name], cwd=s.work_dir, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


# ---------------------------------------------------------------- lifecycle


def test_up_creates_the_dev_stack_then_preview_refresh_and_up_change_nothing_and_destroy_removes_it(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    declared = dev_tenants()
    with root_stack(root_project, emulator) as s:
        first = s.stack.up(on_output=quiet)
        n_keys = sum(len(t["keys"]) for t in declared.values())
        assert changes(first) == {"create": 1 + len(declared) + n_keys}
        out = outputs(first)
        assert first.outputs["privateKeys"].secret and not first.outputs["publicKeys"].secret

        ids: dict[str, str] = out["tenantIds"]
        assert {slug: api.get_tenant(tid).name for slug, tid in ids.items()} == {
            slug: t["name"] for slug, t in declared.items()}
        assert api.get_tenant(ids["acme"]).address.locality == declared["acme"]["address"]["locality"]
        for slug, tenant in declared.items():
            live = {k.public_key: k for k in api.list_keys(ids[slug])}
            assert set(live) == {out["publicKeys"][f"{slug}/{name}"] for name in tenant["keys"]}
            for name, key in tenant["keys"].items():
                assert set(live[out["publicKeys"][f"{slug}/{name}"]].roles) == set(key["roles"])
        assert set(out["privateKeys"]) == set(out["publicKeys"])
        for ref, private_key in out["privateKeys"].items():
            assert authenticates(emulator, out["publicKeys"][ref], private_key), ref

        before = api_writes(emulator)
        assert s.stack.preview(on_output=quiet).change_summary == {"same": 1 + len(ids) + n_keys}
        assert changes(s.stack.refresh(on_output=quiet)) == {}
        second = s.stack.up(on_output=quiet)
        assert changes(second) == {}
        assert api_writes(emulator) == before  # preview, refresh and the second up wrote nothing
        assert outputs(second) == out

        destroyed = s.stack.destroy(on_output=quiet)
        assert changes(destroyed) == {"delete": 1 + len(ids) + n_keys}
        assert not set(ids.values()) & {t.tenant_id for t in api.list_tenants()}
        for tenant_id in ids.values():
            with pytest.raises(NotFoundError):
                api.list_keys(tenant_id)  # the tenant and every key in it are gone
        for ref, private_key in out["privateKeys"].items():
            assert not authenticates(emulator, out["publicKeys"][ref], private_key), ref


# ---------------------------------------------------------------- changes to keys


def test_changing_roles_and_name_updates_the_key_in_place_and_removing_a_key_revokes_it(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    tenants = copy.deepcopy(SMALL)
    with root_stack(root_project, emulator, tenants) as s:
        first = outputs(s.stack.up(on_output=quiet))
        tenant_id, ci, ops = first["tenantIds"]["acme"], first["publicKeys"]["acme/ci"], first["publicKeys"]["acme/ops"]

        tenants["acme"]["keys"]["ci"] = {"roles": ["tenant-app-read", "tenant-app-write"], "name": "ci-deployer"}
        s.set_config({"tenants": tenants})
        assert changes(s.stack.preview(on_output=quiet)) == {"update": 1}
        updated = s.stack.up(on_output=quiet)
        assert changes(updated) == {"update": 1}
        assert outputs(updated)["publicKeys"]["acme/ci"] == ci  # the same key, changed in place
        live = api.get_key(tenant_id, ci)
        assert set(live.roles) == {"tenant-app-read", "tenant-app-write"} and live.name == "ci-deployer"
        assert authenticates(emulator, ci, outputs(updated)["privateKeys"]["acme/ci"])

        del tenants["acme"]["keys"]["ops"]
        s.set_config({"tenants": tenants})
        removed = s.stack.up(on_output=quiet)
        assert changes(removed) == {"delete": 1}
        assert key_ids(api, tenant_id) == {ci}
        assert not authenticates(emulator, ops, first["privateKeys"]["acme/ops"])
        assert "acme/ops" not in outputs(removed)["publicKeys"]


class KeyWatcher:
    """Lists a tenant's keys in the emulator, over and over, while an operation runs (its own client)."""

    def __init__(self, emu: EmulatorProcess, tenant_id: str) -> None:
        self.snapshots: list[frozenset[str]] = []
        self._stop = threading.Event()
        self._client = ImburseClient(emu.base_url, emu.public_key, emu.private_key)
        self._thread = threading.Thread(target=self._run, args=(tenant_id,), daemon=True)

    def _run(self, tenant_id: str) -> None:
        while not self._stop.is_set():
            self.snapshots.append(frozenset(k.public_key for k in self._client.list_keys(tenant_id)))
            self._stop.wait(0.01)

    def __enter__(self) -> KeyWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._client.close()


def test_changing_keepers_replaces_the_key_creating_the_new_one_before_revoking_the_old(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    tenants: dict[str, Any] = {"globex": {"name": "Globex Rotation", "keys": {
        "payouts": {"roles": ["tenant-payout-scheme-write"], "keepers": {"epoch": "1"}}}}}
    with root_stack(root_project, emulator, tenants) as s:
        first = outputs(s.stack.up(on_output=quiet))
        tenant_id = first["tenantIds"]["globex"]
        old_public, old_private = first["publicKeys"]["globex/payouts"], first["privateKeys"]["globex/payouts"]

        tenants["globex"]["keys"]["payouts"]["keepers"] = {"epoch": "2"}
        s.set_config({"tenants": tenants})
        events: list[auto.EngineEvent] = []
        with KeyWatcher(emulator, tenant_id) as watcher:
            rotated = s.stack.up(on_output=quiet, on_event=events.append)
        assert changes(rotated) == {"replace": 1}
        assert step_ops(events, "globex-payouts") == ["create-replacement", "replace", "delete-replaced"]

        now = outputs(rotated)
        new_public, new_private = now["publicKeys"]["globex/payouts"], now["privateKeys"]["globex/payouts"]
        assert new_public != old_public and new_private != old_private
        # The engine had finished creating the new key (its outputs hold the new public key) before it
        # began deleting the old one.
        finished = [(i, e.res_outputs_event) for i, e in enumerate(events) if e.res_outputs_event is not None
                    and e.res_outputs_event.metadata.urn.endswith("::globex-payouts")
                    and e.res_outputs_event.metadata.op == auto.OpType.CREATE_REPLACEMENT]
        started = [i for i, e in enumerate(events) if e.resource_pre_event is not None
                   and e.resource_pre_event.metadata.urn.endswith("::globex-payouts")
                   and e.resource_pre_event.metadata.op == auto.OpType.DELETE_REPLACED]
        assert len(finished) == 1 and len(started) == 1
        created_at, created = finished[0]
        assert created is not None and created.metadata.new is not None
        assert (created.metadata.new.outputs or {}).get("publicKey") == new_public
        assert created_at < started[0]
        # Seen from the emulator while the up ran: never without a key, never a third one.
        assert watcher.snapshots and all(snap and snap <= {old_public, new_public} for snap in watcher.snapshots)
        assert key_ids(api, tenant_id) == {new_public}
        assert authenticates(emulator, new_public, new_private)
        assert not authenticates(emulator, old_public, old_private)


def test_refresh_after_an_out_of_band_delete_drops_the_key_and_the_next_up_recreates_it(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    with root_stack(root_project, emulator, SMALL) as s:
        first = outputs(s.stack.up(on_output=quiet))
        tenant_id, ci = first["tenantIds"]["acme"], first["publicKeys"]["acme/ci"]
        api.delete_key(tenant_id, ci)  # someone revokes it in the Imburse portal

        refreshed = s.stack.refresh(on_output=quiet)
        assert changes(refreshed) == {"delete": 1}
        assert changes(s.stack.preview(on_output=quiet)) == {"create": 1}
        again = s.stack.up(on_output=quiet)
        assert changes(again) == {"create": 1}
        new_ci = outputs(again)["publicKeys"]["acme/ci"]
        assert new_ci != ci and key_ids(api, tenant_id) == {new_ci, first["publicKeys"]["acme/ops"]}
        assert authenticates(emulator, new_ci, outputs(again)["privateKeys"]["acme/ci"])
        assert set(api.get_key(tenant_id, new_ci).roles) == {"tenant-app-read"}


# ---------------------------------------------------------------- protect


def test_destroy_refuses_a_protected_key_and_the_key_keeps_working(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    tenants = copy.deepcopy(SMALL)
    tenants["acme"]["keys"]["ci"]["protect"] = True
    with root_stack(root_project, emulator, tenants) as s:
        first = outputs(s.stack.up(on_output=quiet))
        tenant_id, ci = first["tenantIds"]["acme"], first["publicKeys"]["acme/ci"]

        out = Output()
        with pytest.raises(auto.CommandError) as refused:
            s.stack.destroy(on_output=out)
        refusal = re.compile(r'TenantKey::acme-ci" cannot be deleted\s+because it is protected')
        assert refusal.search(str(refused.value)) and refusal.search(out.text), out.text[-2000:]
        assert key_ids(api, tenant_id) == {ci}  # the unprotected ops key went, the protected one stayed
        assert api.get_tenant(tenant_id).name == "Acme Small Ltd"
        assert authenticates(emulator, ci, first["privateKeys"]["acme/ci"])

        # What the user does next: unprotect in config, up, destroy.
        tenants["acme"]["keys"]["ci"]["protect"] = False
        s.set_config({"tenants": tenants})
        s.stack.up(on_output=quiet)
        s.stack.destroy(on_output=quiet)
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


# ---------------------------------------------------------------- secrets


def assert_no_secret(text: str, secrets: set[str], where: str) -> None:
    """No private key (tenant or account) and no bearer token in ``text``."""
    leaked = sorted(ref for ref in secrets if ref in text)
    assert not leaked, f"{where}: a private key in plain text"
    assert not JWT.search(text), f"{where}: a bearer token in plain text"


def test_private_keys_stay_secret_in_state_cli_output_and_stack_output(
        root_project: Path, emulator: EmulatorProcess) -> None:
    tenants: dict[str, Any] = {"acme": {"name": "Acme Secrets Ltd", "keys": {"ci": {"roles": ["tenant-app-read"],
                                                                     "keepers": {"epoch": "1"}}}}}
    seen = Output()
    with root_stack(root_project, emulator, tenants) as s:
        first = s.stack.up(on_output=seen, on_error=seen)  # default verbosity
        tenants["acme"]["keys"]["ci"]["keepers"] = {"epoch": "2"}  # replace ci: a new private key
        tenants["acme"]["keys"]["ops"] = {"roles": ["tenant-transaction-read"]}
        s.set_config({"tenants": tenants})
        second = s.stack.up(debug=True, on_output=seen, on_error=seen)
        assert changes(second) == {"create": 1, "replace": 1}
        private_keys = strings(outputs(first)["privateKeys"]) | strings(outputs(second)["privateKeys"])
        assert len(private_keys) == 3
        secrets = private_keys | {emulator.private_key}
        s.stack.preview(debug=True, on_output=seen, on_error=seen)
        s.stack.refresh(debug=True, on_output=seen, on_error=seen)
        assert_no_secret(seen.text, secrets, "CLI output of up/preview/refresh (default and --debug)")

        # The state the backend holds (current, backups, history) and the stack's config file.
        for path in [*s.backend_dir.rglob("*.json"), s.work_dir / f"Pulumi.{STACK}.yaml"]:
            assert_no_secret(path.read_text(), secrets, str(path.relative_to(path.parents[2])))
        exported = run_cli(s, "stack", "export")
        assert exported.returncode == 0, exported.stderr
        assert_no_secret(exported.stdout, secrets, "pulumi stack export")
        resources = json.loads(exported.stdout)["deployment"]["resources"]
        keys = [r for r in resources if r["type"].endswith(":TenantKey")]
        assert len(keys) == 2 and all("ciphertext" in r["outputs"]["privateKey"] for r in keys)
        stack_resource = next(r for r in resources if r["type"] == "pulumi:pulumi:Stack")
        assert "ciphertext" in stack_resource["outputs"]["privateKeys"]

        shown = run_cli(s, "stack", "output")
        assert shown.returncode == 0, shown.stderr
        assert re.search(r"privateKeys\s+\[secret\]", shown.stdout), shown.stdout
        assert_no_secret(shown.stdout + shown.stderr, secrets, "pulumi stack output")

        revealed = run_cli(s, "stack", "output", "privateKeys", "--show-secrets")
        assert revealed.returncode == 0, revealed.stderr
        public = outputs(second)["publicKeys"]
        shown_keys = json.loads(revealed.stdout)
        assert set(shown_keys) == {"acme/ci", "acme/ops"}
        for ref, private_key in shown_keys.items():
            assert authenticates(emulator, public[ref], private_key), ref

        destroy_out = Output()
        s.stack.destroy(debug=True, on_output=destroy_out, on_error=destroy_out)
        assert_no_secret(destroy_out.text, secrets, "CLI output of destroy --debug")


# ---------------------------------------------------------------- mistakes, as the user sees them


def test_missing_credentials_name_the_config_keys_and_environment_variables(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("IMBURSE_"):
            monkeypatch.delenv(name)
    with root_stack(root_project, emulator, SMALL) as s:
        s.stack.remove_all_config(["imburse:publicKey", "imburse:privateKey"])
        before = api_writes(emulator)
        out = Output()
        with pytest.raises(auto.CommandError) as failed:
            s.stack.up(on_output=out)
        for text in (str(failed.value), out.text):
            assert "missing Imburse credentials" in text
            for hint in ("imburse:publicKey", "IMBURSE_PUBLIC_KEY", "imburse:privateKey", "IMBURSE_PRIVATE_KEY"):
                assert hint in text
        assert api_writes(emulator) == before


def test_a_wrong_private_key_fails_with_the_401_hint_and_is_not_shown(
        root_project: Path, emulator: EmulatorProcess) -> None:
    wrong = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # well-formed base64, not the account's key
    with root_stack(root_project, emulator, SMALL) as s:
        s.set_config({"imburse:privateKey": wrong}, secret=True)
        before = api_writes(emulator)
        out = Output()
        with pytest.raises(auto.CommandError) as failed:
            s.stack.up(on_output=out)
        for text in (str(failed.value), out.text):
            assert "HTTP 401" in text
            assert "the account key was not accepted: check imburse:publicKey and imburse:privateKey" in text
            assert wrong not in text and emulator.private_key not in text
        assert api_writes(emulator) == before


CONFIG_MISTAKES = [
    ({"acme": {"name": "Acme", "colour": "red"}},
     f"{PROJECT}:tenants.acme: unknown field(s) colour; allowed: name, address, protect, tenantId, keys"),
    ({"acme": {"name": "Acme", "keys": {"ci": {"role": ["tenant-app-read"]}}}},
     f"{PROJECT}:tenants.acme.keys.ci: unknown field(s) role; allowed: roles"),
    ({"acme": {"tenantId": "0b7e8f0e-0000-4000-8000-000000000000", "name": "Acme"}},
     f"{PROJECT}:tenants.acme: give either name (a tenant this stack creates) or tenantId"),
]
"""Mistakes in the shape of the structured config: the program stops before it declares any resource."""


def test_config_mistakes_name_the_config_path_and_create_nothing(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    with root_stack(root_project, emulator, {}) as s:
        tenants_before = {t.tenant_id for t in api.list_tenants()}
        writes_before = api_writes(emulator)
        for tenants, message in CONFIG_MISTAKES:
            s.set_config({"tenants": tenants})
            out = Output()
            with pytest.raises(auto.CommandError) as failed:
                s.stack.up(on_output=out)  # even without a preview first
            assert message in str(failed.value) and message in out.text
        assert api_writes(emulator) == writes_before
        assert {t.tenant_id for t in api.list_tenants()} == tenants_before
        resources = json.loads(run_cli(s, "stack", "export").stdout)["deployment"].get("resources") or []
        assert [r["type"] for r in resources] in ([], ["pulumi:pulumi:Stack"])


def test_an_unknown_role_fails_the_preview_naming_the_allowed_roles_before_any_write(
        root_project: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    tenants = {"acme": {"name": "Acme Roles Ltd", "keys": {"ci": {"roles": ["tenant-superuser"]}}}}
    with root_stack(root_project, emulator, tenants) as s:
        before = api_writes(emulator)
        out = Output()
        # The preview `pulumi up` shows before asking to perform the update: the key's Check fails.
        with pytest.raises(auto.CommandError) as failed:
            s.stack.preview(on_output=out)
        message = "'tenant-superuser' is not a tenant role; allowed: tenant-admin"
        assert message in str(failed.value) and message in out.text
        assert "acme-ci" in out.text and "roles" in out.text
        assert api_writes(emulator) == before
        assert "Acme Roles Ltd" not in {t.name for t in api.list_tenants()}
