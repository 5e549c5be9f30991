"""``create_key`` with a destination (``pulumi_imburse.keys.deliver``): the named key is written to the store before
the create returns; a key that cannot be stored is revoked (no live key whose secret is not stored) and the error
names the store's; what cannot be cleaned up stays in the journal for the next create; an interrupted create's
delivered key is taken out of the store only once the new key is current there.

The store here is a recording stand-in that keeps the ordering the real stores keep (tests/stores runs the real
ones against moto_server and a Vault dev server); it fails where told, and is never more permissive than they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from pulumi_imburse.journal import OPEN, SETTLED, Journal
from pulumi_imburse.keys import create
from pulumi_imburse.keys.deliver import Delivery
from pulumi_imburse.ledger import Ledger
from pulumi_imburse.models import ApiKey
from pulumi_imburse.stores import KeyDocument, StoredVersion, StoreError, fingerprint

from .test_journal import TENANT, URN, FakeService, failing

pytestmark = pytest.mark.unit

DESTINATION = {"type": "vault-kv2", "address": "https://vault.example.invalid", "path": "imburse/ci"}


class MemoryStore:
    """One secret: its versions by public key, which is current and previous; fails an operation when told."""

    kind: ClassVar[str] = "vault-kv2"

    def __init__(self, calls: list[str], fail: dict[str, Exception]) -> None:
        self.calls, self.fail = calls, fail
        self.documents: dict[str, KeyDocument] = {}
        self.current_key: str | None = None
        self.previous_key: str | None = None

    @property
    def reference(self) -> str:
        return "secret/imburse/ci"

    def _call(self, name: str, public_key: str = "") -> None:
        self.calls.append(f"{name} {public_key}".strip())
        if name in self.fail:
            raise self.fail[name]

    def write_current(self, document: KeyDocument) -> StoredVersion:
        self._call("write_current", document.public_key)
        if self.current_key != document.public_key:
            self.previous_key, self.current_key = self.current_key, document.public_key
        self.documents[document.public_key] = document
        return StoredVersion("secret/imburse/ci", "1", document.fingerprint, document.public_key, current=True)

    def find(self, public_key: str) -> StoredVersion | None:
        raise AssertionError("not used by a create")

    def current(self) -> StoredVersion | None:
        raise AssertionError("not used by a create")

    def withdraw(self, public_key: str) -> None:
        self._call("withdraw", public_key)
        if self.current_key == public_key:
            self.current_key, self.previous_key = self.previous_key, None
        if self.previous_key == public_key:
            self.previous_key = None
        self.documents.pop(public_key, None)

    def retire(self, public_key: str) -> None:
        raise AssertionError("not used by a create")

    def delete(self) -> None:
        raise AssertionError("not used by a create")


class World:
    """A service, a journal and a store, with one call log across service and store."""

    def __init__(self, tmp_path: Path, *, fail: Mapping[str, Exception] = (), store_fail: Mapping[str, Exception] = ()
                 ) -> None:
        self.journal = Journal(tmp_path / "journal.db")
        self.service = FakeService(self.journal, fail=dict(fail))
        self.store = MemoryStore(self.service.calls, dict(store_fail))
        self.warnings: list[str] = []

    def delivery(self) -> Delivery:
        return Delivery(DESTINATION, lambda _d: self.store)

    def create(self, delivery: Delivery | None = None) -> ApiKey:
        return create.create_key(self.service, TENANT, ["tenant-app-read"], "ci",  # type: ignore[arg-type]
                                 ledger=Ledger(self.journal), warn=self.warnings.append, owner=URN,
                                 delivery=delivery or self.delivery())


def test_the_named_key_is_written_current_before_the_create_returns(tmp_path: Path) -> None:
    world = World(tmp_path)
    delivery = world.delivery()
    key = world.create(delivery)
    stored = world.store.documents[key.public_key]
    assert (stored.name, stored.private_key, stored.tenant_id) == ("ci", "secret", TENANT)  # named, not provisional
    assert world.store.current_key == key.public_key
    assert delivery.stored is not None and delivery.stored.fingerprint == fingerprint("secret")
    assert world.service.calls.index("update_key") < world.service.calls.index(f"write_current {key.public_key}")
    [entry] = world.journal.entries()
    assert entry.destination and "vault.example.invalid" in entry.destination and "secret\"" not in entry.destination


def test_a_key_that_cannot_be_stored_is_revoked_and_the_error_names_the_stores(tmp_path: Path) -> None:
    world = World(tmp_path, store_fail={"write_current": StoreError("vault-kv2 write failed: permission denied")})
    with pytest.raises(StoreError) as caught:
        world.create()
    message = str(caught.value)
    assert "permission denied" in message and "revoked, so nothing is left behind" in message
    assert "secret" not in message.replace("secret/", "").replace("secret ", "")  # no private key in it
    assert world.service.keys == {}  # no live key whose secret is not stored
    assert [e.state for e in world.journal.entries()] == [SETTLED]


@pytest.mark.parametrize(("fail", "store_fail", "says"), [
    ({"delete_key": failing()}, {}, "nor the key revoked"),  # the key could not be revoked
    ({}, {"withdraw": StoreError("vault-kv2 down")}, "could not be taken out"),  # the write may have landed
])
def test_what_cannot_be_cleaned_up_stays_open_for_the_next_create(
        tmp_path: Path, fail: dict[str, Exception], store_fail: dict[str, Exception], says: str) -> None:
    world = World(tmp_path, fail=fail, store_fail={"write_current": StoreError("vault-kv2 timeout"), **store_fail})
    with pytest.raises(StoreError, match=says):
        world.create()
    [entry] = world.journal.entries()
    assert entry.state == OPEN and entry.public_key  # the next create of the resource settles it


def test_a_store_that_cannot_be_opened_makes_no_key(tmp_path: Path) -> None:
    world = World(tmp_path)

    def no_token(_destination: Mapping[str, Any]) -> MemoryStore:
        raise StoreError("vault-kv2: no Vault token: set VAULT_TOKEN")

    with pytest.raises(StoreError, match="no Vault token"):
        world.create(Delivery(DESTINATION, no_token))
    assert world.service.made == 0 and world.journal.entries() == []


def test_an_interrupted_delivered_key_leaves_the_store_only_once_the_new_key_is_current(tmp_path: Path) -> None:
    world = World(tmp_path)
    interrupted = world.create()  # delivered, then the engine never got the answer (a kill)
    world.service.calls.clear()
    again = world.create()
    calls = world.service.calls
    assert interrupted.public_key not in world.service.keys
    assert calls.index(f"write_current {again.public_key}") < calls.index(f"withdraw {interrupted.public_key}")
    assert world.store.current_key == again.public_key and world.store.previous_key is None
    states = {e.public_key: e.state for e in world.journal.entries()}
    assert states == {interrupted.public_key: SETTLED, again.public_key: OPEN}
    assert any("interrupted" in w for w in world.warnings)


def test_a_store_that_fails_to_take_an_interrupted_key_out_keeps_its_row_open(tmp_path: Path) -> None:
    world = World(tmp_path)
    interrupted = world.create()
    world.store.fail["withdraw"] = StoreError("vault-kv2 down")
    world.create()
    states = {e.public_key: e.state for e in world.journal.entries()}
    assert states[interrupted.public_key] == OPEN  # the next create tries again
    assert any("could not take the revoked key" in w for w in world.warnings)


def test_a_journal_from_before_destinations_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE creates (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, account TEXT NOT "
                   "NULL, tenant_id TEXT NOT NULL, name TEXT NOT NULL, public_key TEXT, state TEXT NOT NULL DEFAULT "
                   "'open', created REAL NOT NULL, changed REAL NOT NULL, pid INTEGER NOT NULL)")
        db.execute("INSERT INTO creates (owner, account, tenant_id, name, state, created, changed, pid) VALUES "
                   "('u', 'a', 't', 'n', 'open', 0, 0, 1)")
    journal = Journal(path)
    journal.begin("u", "a", "t", "m", '{"type": "vault-kv2"}')
    assert [e.destination for e in journal.entries()] == ["", '{"type": "vault-kv2"}']
