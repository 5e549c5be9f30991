"""Keys whose private key goes to a secret store (``destination``), through the real CLI, for both faces (the Python
dynamic resources and the plugin's ``imburse:index:*``) and both stores (moto_server's Secrets Manager, a Vault dev
server).

- A ``TenantKey`` with a destination: the create delivers the key to the store before it returns; the state (even
  decrypted), the backend's files and the CLI's output hold no private key; the outputs say where the key is; an
  application reading the store authenticates; a roles change is in place and writes nothing; a refresh of an
  unchanged store changes nothing; destroy revokes the key and takes the secret away.
- The provider-wide default (``imburse:destination`` with ``{tenantId}``/``{resourceName}``) reaches every key.
- A refresh that finds the stored secret deleted outside Pulumi says so; the next ``up`` replaces the key and
  delivers the new one.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.stores import fingerprint
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import Output, authenticates, changes, quiet
from ..plugin import native
from ..stacks.test_rotation_matrix import unsecret
from ..support.apps import AWS_ENV, StoreApp
from .conftest import REGION, VAULT_TOKEN, Where

pytestmark = pytest.mark.usefixtures("no_real_aws")

READ, WRITE = "tenant-app-read", "tenant-app-write"
STORES = ("aws", "vault")
FACES = ("dynamic", "plugin")


ENV = {**AWS_ENV, "VAULT_TOKEN": VAULT_TOKEN}
"""What the providers need to reach the stores: moto's throwaway AWS credentials, the dev server's token."""


def key(face: str, name: str, tenant_id: str, **inputs: Any) -> None:
    if face == "dynamic":
        TenantKey(name, tenant_id=tenant_id, **inputs)
    else:
        wire = {"roles": "roles", "destination": "destination", "keepers": "keepers"}
        native.tenant_key(name, tenantId=tenant_id, **{wire[k]: v for k, v in inputs.items()})


def resource_state(s: EmulatedStack, suffix: str) -> dict[str, Any]:
    resources = (s.stack.export_stack().deployment or {})["resources"]
    found: dict[str, Any] = next(unsecret(r["outputs"]) for r in resources if r["type"].endswith(suffix))
    return found


def backend_text(s: EmulatedStack) -> str:
    """Every file of the stack's backend (state, its backups and history), as text."""
    return "\n".join(p.read_text(errors="replace") for p in s.backend_dir.rglob("*") if p.is_file())


def live(api: ImburseClient, tenant_id: str) -> set[str]:
    return {k.public_key for k in api.list_keys(tenant_id)}


@pytest.fixture
def path() -> str:
    return f"imburse/test-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("store", STORES)
def test_a_key_with_a_destination_is_delivered_there_and_nowhere_in_pulumi(
        face: str, store: str, where: Where, path: str, emulator: EmulatorProcess,
        api: ImburseClient, existing_tenant: str) -> None:
    tenant, destination = existing_tenant, where(store, path)
    roles = [READ]
    app = StoreApp(destination, vault_token=VAULT_TOKEN)

    def program() -> None:
        key(face, "ci", tenant, roles=roles, destination=destination)

    with emulated_stack(program, project_name=f"deliver-{store}-{face}", emulator=emulator, env=ENV) as s:
        said = Output()
        assert changes(s.stack.up(on_output=said)) == {"create": 2}, said.text
        stored = app.read()
        assert stored is not None
        outs = resource_state(s, ":TenantKey")
        assert outs["publicKey"] == stored.public_key and outs["privateKey"] == ""
        assert outs["privateKeyFingerprint"] == fingerprint(stored.private_key)
        assert outs["secretReference"] and outs["secretVersion"]
        assert (stored.tenant_id, stored.name, stored.account_id) == (tenant, outs["name"], outs["accountId"])
        assert authenticates(emulator, stored.public_key, stored.private_key)
        # Nowhere in Pulumi: not in the decrypted state, the backend's files, the CLI's output.
        assert stored.private_key not in json.dumps(outs)
        assert stored.private_key not in backend_text(s)
        assert stored.private_key not in said.text

        # Roles change in place: the same key, nothing written to the store.
        roles[:] = [READ, WRITE]
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        after = resource_state(s, ":TenantKey")
        assert (after["publicKey"], after["secretVersion"]) == (outs["publicKey"], outs["secretVersion"])
        assert app.read() == stored
        assert changes(s.stack.refresh(on_output=quiet)) == {}

        s.stack.destroy(on_output=quiet)
        assert stored.public_key not in live(api, tenant)
        assert app.read() is None and not app.exists()


@pytest.mark.parametrize("face", FACES)
def test_the_providers_default_destination_reaches_every_key(
        face: str, where: Where, path: str, emulator: EmulatorProcess,
        existing_tenant: str) -> None:
    tenant = existing_tenant
    default = where("vault", f"{path}/{{tenantId}}/{{resourceName}}")

    def program() -> None:
        key(face, "ci", tenant, roles=[READ])
        key(face, "web", tenant, roles=[READ], destination={"path": f"{path}/web-own"})  # a field overridden
        key(face, "legacy", tenant, roles=[READ], destination={"type": "state"})  # opted out

    with emulated_stack(program, project_name=f"default-destination-{face}", emulator=emulator, env=ENV,
                        config={"imburse:destination": default}) as s:
        s.stack.up(on_output=quiet)
        deployed = (s.stack.export_stack().deployment or {})["resources"]
        resources = {r["urn"].rsplit("::", 1)[-1]: unsecret(r["outputs"])
                     for r in deployed if r["type"].endswith(":TenantKey")}
        for name, secret_path in (("ci", f"{path}/{tenant}/ci"), ("web", f"{path}/web-own")):
            document = StoreApp({**default, "path": secret_path}, vault_token=VAULT_TOKEN).read()
            assert document is not None and document.public_key == resources[name]["publicKey"], name
            assert resources[name]["privateKey"] == "" and resources[name]["destination"]["path"] == secret_path
        legacy = resources["legacy"]
        assert legacy["privateKey"] and not legacy.get("secretReference")
        assert authenticates(emulator, legacy["publicKey"], legacy["privateKey"])


@pytest.mark.parametrize("store", STORES)
def test_a_refresh_that_finds_the_stored_key_deleted_says_so_and_the_next_up_delivers_a_new_key(
        store: str, where: Where, path: str, emulator: EmulatorProcess,
        api: ImburseClient, existing_tenant: str) -> None:
    tenant, destination = existing_tenant, where(store, path)
    app = StoreApp(destination, vault_token=VAULT_TOKEN)
    with emulated_stack(lambda: key("plugin", "ci", tenant, roles=[READ], destination=destination),
                        project_name=f"lost-{store}", emulator=emulator, env=ENV) as s:
        s.stack.up(on_output=quiet)
        first = app.read()
        assert first is not None
        _delete_outside(app)

        said = Output()
        s.stack.refresh(on_output=said)
        assert "no longer exists" in said.text and "the next update replaces the key" in said.text, said.text
        assert resource_state(s, ":TenantKey")["privateKeyFingerprint"] == ""

        said = Output()
        assert changes(s.stack.up(on_output=said)) == {"replace": 1}, said.text
        second = app.read()
        assert second is not None and second.public_key != first.public_key
        assert live(api, tenant) == {second.public_key}  # the old key revoked
        assert authenticates(emulator, second.public_key, second.private_key)
        assert resource_state(s, ":TenantKey")["privateKeyFingerprint"] == fingerprint(second.private_key)


def _delete_outside(app: StoreApp) -> None:
    """Delete the secret as a person with console access would (AWS: at once; Vault: metadata and all versions)."""
    d = app.destination
    if d["type"] == "aws-secretsmanager":
        app._aws.delete_secret(SecretId=d["secretId"], ForceDeleteWithoutRecovery=True)
    else:
        app._vault.secrets.kv.v2.delete_metadata_and_all_versions(path=d["path"], mount_point="secret")



def _read_only_token(vault_address: str) -> str:
    """A token of the dev server that may read secrets and nothing else (a provider given too little)."""
    import hvac

    root = hvac.Client(url=vault_address, token=VAULT_TOKEN)
    root.sys.create_or_update_policy("read-only", 'path "secret/*" { capabilities = ["read", "list"] }')
    return str(root.auth.token.create(policies=["read-only"], ttl="1h")["auth"]["client_token"])


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


@pytest.mark.parametrize(("face", "refusal"), [("plugin", "vault-403"), ("dynamic", "aws-down")])
def test_a_store_that_refuses_the_write_leaves_no_live_key_and_the_up_names_its_error(
        face: str, refusal: str, request: pytest.FixtureRequest, path: str, emulator: EmulatorProcess,
        api: ImburseClient, existing_tenant: str) -> None:
    tenant = existing_tenant
    before = live(api, tenant)
    if refusal == "vault-403":
        address = request.getfixturevalue("vault_address")
        destination = {"type": "vault-kv2", "address": address, "path": path}
        env, expected = {**ENV, "VAULT_TOKEN": _read_only_token(address)}, "permission denied"
    else:
        destination = {"type": "aws-secretsmanager", "secretId": path, "region": REGION,
                       "endpoint": f"http://127.0.0.1:{_closed_port()}"}
        env, expected = ENV, "Could not connect to the endpoint URL"
    with emulated_stack(lambda: key(face, "ci", tenant, roles=[READ], destination=destination),
                        project_name=f"refused-{refusal}-{face}", emulator=emulator, env=env) as s:
        said = Output()
        with pytest.raises(Exception) as failed:
            s.stack.up(on_output=said)
        text = said.text + str(failed.value)
        assert expected in text and "was revoked" in text, text
        assert f"{tenant} but its private key could not be stored" in text, text
        assert live(api, tenant) == before  # no live key whose secret is not stored
        outs = (s.stack.export_stack().deployment or {}).get("resources") or []
        assert not [r for r in outs if r["type"].endswith(":TenantKey")]  # nothing in the state either
