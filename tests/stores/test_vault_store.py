"""The Vault KV v2 store against a real Vault dev server: the latest version is the current key, custom metadata
names current and previous, a revoked key's versions are destroyed."""

from __future__ import annotations

import uuid

import hvac
import pytest

from pulumi_imburse.stores import KeyDocument, SecretStore, StoreError, fingerprint
from pulumi_imburse.stores.vault import VaultKV2Store

from .conftest import VAULT_TOKEN


def document(name: str = "ci") -> KeyDocument:
    return KeyDocument(public_key=str(uuid.uuid4()), private_key=f"secret-{uuid.uuid4().hex}",
                       tenant_id=str(uuid.uuid4()), account_id=str(uuid.uuid4()), name=name,
                       created_at="2026-12-07T18:00:00Z")


@pytest.fixture
def store(vault_address: str) -> VaultKV2Store:
    return VaultKV2Store(vault_address, f"imburse/test/{uuid.uuid4().hex}", token=VAULT_TOKEN)


def vault(address: str) -> hvac.Client:
    return hvac.Client(url=address, token=VAULT_TOKEN)


def application_reads(store: VaultKV2Store) -> KeyDocument | None:
    """What an application reading the latest version gets (``vault kv get secret/<path>``)."""
    try:
        answer = vault(store.address).secrets.kv.v2.read_secret_version(path=store.path, mount_point="secret",
                                                                         raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    data = answer["data"]["data"]
    return KeyDocument(public_key=data["publicKey"], private_key=data["privateKey"], tenant_id=data["tenantId"],
                       account_id=data["accountId"], name=data["name"], created_at=data["createdAt"])


def custom(store: VaultKV2Store) -> dict[str, str]:
    meta = vault(store.address).secrets.kv.v2.read_secret_metadata(path=store.path, mount_point="secret")
    return {k: v for k, v in (meta["data"].get("custom_metadata") or {}).items() if v}


def destroyed(store: VaultKV2Store) -> set[int]:
    meta = vault(store.address).secrets.kv.v2.read_secret_metadata(path=store.path, mount_point="secret")
    return {int(v) for v, info in meta["data"]["versions"].items() if info["destroyed"]}


def test_it_is_a_secret_store(store: VaultKV2Store) -> None:
    assert isinstance(store, SecretStore)
    assert store.kind == "vault-kv2"


def test_the_first_write_is_what_the_application_reads(store: VaultKV2Store) -> None:
    doc = document()
    stored = store.write_current(doc)
    assert (stored.version, stored.fingerprint, stored.current) == ("1", fingerprint(doc.private_key), True)
    assert application_reads(store) == doc
    assert custom(store) == {"imburse-current": doc.public_key, "imburse-current-version": "1"}


def test_writing_the_same_document_again_makes_no_second_version(store: VaultKV2Store) -> None:
    doc = document()
    store.write_current(doc)
    assert store.write_current(doc).version == "1"
    current = store.current()
    assert current is not None and current.version == "1"


def test_a_write_whose_metadata_update_was_lost_is_not_written_twice(store: VaultKV2Store) -> None:
    old, new = document(), document()
    store.write_current(old)
    vault(store.address).secrets.kv.v2.create_or_update_secret(  # a write that got no further than the data
        path=store.path, secret=__import__("json").loads(new.to_json()), mount_point="secret")
    assert store.write_current(new).version == "2"
    assert custom(store)["imburse-current"] == new.public_key
    assert custom(store)["imburse-previous"] == old.public_key


def test_a_rotation_makes_the_old_key_previous_and_retire_destroys_it(store: VaultKV2Store) -> None:
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    assert application_reads(store) == new
    assert custom(store) == {"imburse-current": new.public_key, "imburse-current-version": "2",
                             "imburse-previous": old.public_key, "imburse-previous-version": "1"}
    found = store.find(old.public_key)
    assert found is not None and found.previous and not found.current
    store.retire(old.public_key)
    assert custom(store) == {"imburse-current": new.public_key, "imburse-current-version": "2"}
    assert destroyed(store) == {1}
    assert application_reads(store) == new


def test_withdrawing_the_current_key_puts_the_one_before_back_on_top(store: VaultKV2Store) -> None:
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    store.withdraw(new.public_key)  # the new key was revoked (its create failed after the write)
    assert application_reads(store) == old
    assert custom(store) == {"imburse-current": old.public_key, "imburse-current-version": "3"}
    assert destroyed(store) == {2}
    assert store.find(new.public_key) is None


def test_withdrawing_the_only_key_deletes_the_secret(store: VaultKV2Store) -> None:
    doc = document()
    store.write_current(doc)
    store.withdraw(doc.public_key)
    assert application_reads(store) is None
    assert store.current() is None
    store.write_current(document())  # a new create starts the path again
    assert store.current() is not None


def test_withdrawing_the_only_key_with_keep_metadata_destroys_its_versions_and_keeps_the_path(
        vault_address: str) -> None:
    store = VaultKV2Store(vault_address, f"imburse/test/{uuid.uuid4().hex}", token=VAULT_TOKEN, keep_metadata=True)
    doc = document()
    store.write_current(doc)
    store.withdraw(doc.public_key)
    assert destroyed(store) == {1}  # the metadata is still there, and names no key
    assert custom(store) == {}
    assert application_reads(store) is None and store.current() is None and store.find(doc.public_key) is None
    again = document()
    assert store.write_current(again).version == "2"
    assert application_reads(store) == again


def test_check_and_set_refuses_a_write_based_on_a_stale_version(store: VaultKV2Store) -> None:
    store.write_current(document())
    other = VaultKV2Store(store.address, store.path, token=VAULT_TOKEN)
    stale = other._metadata()  # what a second writer read before the first one wrote
    store.write_current(document())
    with pytest.raises(StoreError, match=r"write of 'secret/.*' at .* failed: HTTP 400 InvalidRequest: check-and-set "
                                         r".*Another writer wrote version 2 .* based on version 1") as caught:
        other._write(document(), cas=int(stale["current_version"]) if stale else 0)
    assert "privateKey" not in str(caught.value)


def test_delete_destroys_everything(store: VaultKV2Store) -> None:
    store.write_current(document())
    store.write_current(document())
    store.delete()
    assert store.current() is None
    store.delete()  # gone already: done


def test_keep_metadata_destroys_the_versions_only(vault_address: str) -> None:
    store = VaultKV2Store(vault_address, f"imburse/test/{uuid.uuid4().hex}", token=VAULT_TOKEN, keep_metadata=True)
    store.write_current(document())
    store.write_current(document())
    store.delete()
    assert destroyed(store) == {1, 2}
    assert application_reads(store) is None


def test_a_wrong_token_fails_naming_the_store_and_path_only(vault_address: str) -> None:
    store = VaultKV2Store(vault_address, "imburse/forbidden", token="not-a-token")
    doc = document()
    with pytest.raises(StoreError, match=r"vault-kv2 read metadata of 'secret/imburse/forbidden' at .* failed: "
                                         r"HTTP 403 Forbidden: permission denied; invalid token\. The token is "
                                         r"invalid or expired, "
                                         r"or its policy lacks capabilities \[\"read\"\] on path "
                                         r"\"secret/metadata/imburse/forbidden\"") as caught:
        store.write_current(doc)
    assert doc.private_key not in str(caught.value) and "not-a-token" not in str(caught.value)


def test_no_token_is_refused_at_once(vault_address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    with pytest.raises(StoreError, match="no Vault token: set VAULT_TOKEN"):
        VaultKV2Store(vault_address, "imburse/x")


@pytest.mark.parametrize("address", ["http://vault.example.invalid:8200", "file:///etc/passwd"])
def test_an_address_that_is_not_https_or_loopback_is_refused_before_any_connection(address: str) -> None:
    with pytest.raises(StoreError, match="vault-kv2 address"):
        VaultKV2Store(address, "imburse/x", token="t")


def test_no_private_key_in_repr(store: VaultKV2Store) -> None:
    doc = document()
    store.write_current(doc)
    assert doc.private_key not in repr(store) + repr(store.current())
