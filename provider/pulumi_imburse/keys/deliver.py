"""How a new key's private key reaches its destination (a secret store) and leaves it, without orphans.

With a destination (:mod:`pulumi_imburse.stores.destination`), a key's private key is written to the store the
application reads and to nothing else: Pulumi keeps a reference, the version and a fingerprint. The rules:

- **Deliver before answering.** :func:`~pulumi_imburse.keys.create.create_key` writes the key's document as the
  store's new *current* version (:meth:`Delivery.write`) once the key is made and named, before the create
  returns. The write is idempotent by the public key, so a write whose answer was lost is written again.
- **No live key whose secret is not stored.** A write that fails revokes the key just made
  (:func:`undelivered`), takes its version out of the store if it landed after all, and fails naming the store's
  error; a revoke or withdrawal that fails too leaves the create's journal row open, so the next create of the
  resource settles it (revokes, withdraws) as it does an interrupted create.
- **No current version of a revoked key.** Every revoke of a delivered key is followed by
  :meth:`~pulumi_imburse.stores.SecretStore.withdraw` (the version before it becomes current again) or, at the end
  of a grace period, :meth:`~pulumi_imburse.stores.SecretStore.retire`.

No Pulumi import.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ..client import ImburseClient
from ..errors import ImburseAPIError, NotFoundError
from ..models import ApiKey
from ..stores import KeyDocument, SecretStore, StoredVersion, StoreError
from ..stores.destination import StoreOpener, from_record, is_store, to_record


class Delivery:
    """Where a create delivers its key's private key: a resolved destination (or none) and how to open stores.

    After :meth:`write` succeeded, :attr:`stored` is the version written."""

    def __init__(self, destination: Any, opener: StoreOpener) -> None:
        """``destination``: a resolved destination; anything that names no store (none, ``state``) delivers
        nowhere."""
        self.destination = dict(destination) if isinstance(destination, Mapping) and is_store(destination) else None
        self.opener = opener
        self.stored: StoredVersion | None = None
        self._store: SecretStore | None = None

    def __repr__(self) -> str:
        return f"Delivery({self.destination!r})"

    @property
    def active(self) -> bool:
        """Whether the key goes to a store (else its private key is an output, as without a destination)."""
        return self.destination is not None

    @property
    def store(self) -> SecretStore:
        """The destination's store, opened on first use."""
        assert self.destination is not None, "no destination"
        if self._store is None:
            self._store = self.opener(self.destination)
        return self._store

    def record(self) -> str:
        """The destination as the create journal keeps it (empty for none)."""
        return to_record(self.destination) if self.destination is not None else ""

    def write(self, key: ApiKey, *, tenant_id: str) -> StoredVersion:
        """Write ``key``'s document as the store's current version; :attr:`stored` is then that version."""
        document = KeyDocument(public_key=key.public_key, private_key=key.private_key or "", tenant_id=tenant_id,
                               account_id=key.account_id, name=key.name, created_at=key.created_at or "")
        self.stored = self.store.write_current(document)
        return self.stored

    def store_of(self, record: str) -> SecretStore | None:
        """The store a journal row's destination names, opened by this delivery's opener (a provider's opens each
        secret's store once, so this delivery's own comes back as it is)."""
        destination = from_record(record)
        return self.opener(destination) if destination is not None and is_store(destination) else None


def undelivered(client: ImburseClient, tenant_id: str, key: ApiKey, name: str, delivery: Delivery,
                exc: StoreError) -> tuple[StoreError, bool]:
    """The error of a create whose key could not be stored, and whether nothing is left behind.

    The key (ours, just made) is revoked first; then its version is taken out of the store in case the write landed
    unanswered. If either fails the error says so, and the caller leaves the journal row open for the next create."""
    where = f"{delivery.store.kind} secret {delivery.store.reference!r}"
    what = f"Key {name!r}: the key {key.public_key} was created in tenant {tenant_id}"
    try:
        with contextlib.suppress(NotFoundError):
            client.delete_key(tenant_id, key.public_key)
    except ImburseAPIError as revoke:
        return StoreError(
            f"{what} but its private key could not be stored in {where} ({exc}) nor the key revoked "
            f"({revoke.message}). The next create of this resource revokes it; or revoke key {key.public_key} "
            "yourself. Then run the update again."), False
    try:
        delivery.store.withdraw(key.public_key)
    except StoreError as withdraw:
        return StoreError(
            f"{what} but its private key could not be stored in {where} ({exc}). The key was revoked; its version "
            f"may be in the store, and could not be taken out ({withdraw}): the next create of this resource takes "
            "it out. Fix the store and run the update again."), False
    return StoreError(f"{what} but its private key could not be stored in {where} ({exc}). The key was revoked, "
                      "so nothing is left behind. Fix the store (its address, permissions) and run the update "
                      "again."), True



STORE_OUTPUTS = ("secretReference", "secretVersion", "privateKeyFingerprint")
"""The outputs that say where a delivered key is (empty without a destination)."""


def stored_outputs(stored: StoredVersion | None, prior: Mapping[str, Any]) -> dict[str, str]:
    """The :data:`STORE_OUTPUTS` of a key just delivered as ``stored``, else as ``prior`` (outputs) had them."""
    if stored is not None:
        return {"secretReference": stored.reference, "secretVersion": stored.version,
                "privateKeyFingerprint": stored.fingerprint}
    return {k: str(prior.get(k) or "") for k in STORE_OUTPUTS}


def lost(store: SecretStore, public_key: str, fingerprint: str) -> str | None:
    """Why the store no longer gives an application ``public_key``'s private key (deleted, or its current version
    is another key or another private key), or ``None`` when it does. Reads the store once."""
    current = store.current()
    if current is None:
        return f"{store.kind} secret {store.reference!r} no longer exists (or has no current version)"
    if current.public_key != public_key:
        return (f"the current version of {store.kind} secret {store.reference!r} is no longer this key (it holds "
                f"key {current.public_key or 'unknown'})")
    if fingerprint and current.fingerprint != fingerprint:
        return f"the current version of {store.kind} secret {store.reference!r} holds another private key"
    return None
