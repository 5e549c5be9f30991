"""Secret stores: where a key's private key goes instead of Pulumi state (the store the application reads).

A store holds, per key resource, one secret whose versions are key documents (:class:`KeyDocument`:
``{publicKey, privateKey, tenantId, accountId, name, createdAt}`` as JSON). One version is *current* (what an
application reads) and, during a rotation's grace period, one is *previous*. Pulumi keeps only a
:class:`StoredVersion`: where the secret is, which version, and a fingerprint of the private key.

Every store implements :class:`SecretStore`; each is one module (:mod:`.aws`: AWS Secrets Manager; a Vault
KV v2, Kubernetes Secret or cloud key-vault store is another module of the same shape). The rules every store
keeps:

- **One version per key, found by the key's public key.** A write is idempotent by the public key (AWS: the
  ``ClientRequestToken``), so a write whose answer was lost is simply written again, and
  :meth:`SecretStore.find` tells whether a key's document is stored.
- **Current never names a revoked key.** :meth:`SecretStore.withdraw` takes a key's version out of *current*
  (back to the version before it) and out of *previous*; with no version before it the secret is deleted the
  way :meth:`SecretStore.delete` deletes it (AWS: with the recovery window; Vault: versions destroyed, metadata
  kept or not). :meth:`SecretStore.retire` ends a previous key's grace period in the store.
- **Deleted is deleted, until the next write.** A secret scheduled for deletion (AWS's recovery window) counts as
  missing: :meth:`SecretStore.find` and :meth:`SecretStore.current` answer ``None``, withdraw and retire do
  nothing, delete is done. :meth:`SecretStore.write_current` to it restores it first (its versions, all revoked
  keys', stay unlabelled).
- **Every operation may be repeated.** Each store retries connection errors, lost answers, timeouts, throttling
  and server errors itself (a bounded number of tries); a write whose answer was lost and that is repeated
  converges on one version (AWS: the token; Vault: check-and-set, then the latest version read back).
- **No secret in any message or log.** :class:`StoreError` names the store kind, the secret (name, ARN or path),
  the operation, the store's own error code and what to do (for a refusal, the permission the credentials lack;
  the least-privilege lists are in each module's docs); never a value or a token. No store logs a request or
  response body at any level.

Nothing here imports Pulumi.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from ..errors import ImburseError

__all__ = ["KeyDocument", "SecretStore", "StoreError", "StoredVersion", "fingerprint"]

FINGERPRINT_PREFIX = "sha256:"


def fingerprint(private_key: str) -> str:
    """``sha256:<64 hex digits>`` of the private key's text: tells two private keys apart, reveals neither (a
    private key is 32 random bytes, so its hash cannot be reversed by guessing)."""
    return FINGERPRINT_PREFIX + hashlib.sha256(private_key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyDocument:
    """What a store keeps of one tenant API key: the key pair and where it belongs. ``repr`` hides the private
    key."""

    public_key: str
    private_key: str = dataclasses.field(repr=False)
    tenant_id: str
    account_id: str
    name: str
    created_at: str

    def fields(self) -> dict[str, str]:
        """The document's fields under the wire names an application reads (``publicKey``, ``privateKey``, ...)."""
        return {"publicKey": self.public_key, "privateKey": self.private_key, "tenantId": self.tenant_id,
                "accountId": self.account_id, "name": self.name, "createdAt": self.created_at}

    def to_json(self) -> str:
        """The stored form of a store that keeps one text value: :meth:`fields` as JSON."""
        return json.dumps(self.fields(), sort_keys=True)

    @classmethod
    def from_fields(cls, data: Any) -> KeyDocument:
        """A document from its fields; :class:`StoreError` if they are not one (someone else's secret value)."""
        try:
            return cls(public_key=str(data["publicKey"]), private_key=str(data["privateKey"]),
                       tenant_id=str(data.get("tenantId", "")), account_id=str(data.get("accountId", "")),
                       name=str(data.get("name", "")), created_at=str(data.get("createdAt", "")))
        except (KeyError, TypeError, AttributeError):
            raise StoreError("the stored value is not a key document ({publicKey, privateKey, ...})") from None

    @classmethod
    def from_json(cls, text: str) -> KeyDocument:
        """A document from its :meth:`to_json` form; :class:`StoreError` if it is not one."""
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = None
        return cls.from_fields(data)

    @property
    def fingerprint(self) -> str:
        """:func:`fingerprint` of the private key."""
        return fingerprint(self.private_key)


@dataclass(frozen=True)
class StoredVersion:
    """Where one key's document is: the secret (an ARN or a path), the version, the private key's fingerprint,
    and whether the version is the store's current or previous one."""

    reference: str
    version: str
    fingerprint: str
    public_key: str
    current: bool = False
    previous: bool = False


class StoreError(ImburseError):
    """A secret store refused or failed an operation (after its retries). The message names the store kind, the
    secret, the operation and the store's own error code, then what to do; never a secret value."""


@runtime_checkable
class SecretStore(Protocol):
    """One secret in one store, holding the versions of one key resource's key documents."""

    kind: ClassVar[str]
    """The destination's ``type``, e.g. ``aws-secretsmanager``."""

    @property
    def reference(self) -> str:
        """The secret's name as the user gave it (ARN or path) for messages."""
        ...

    def write_current(self, document: KeyDocument) -> StoredVersion:
        """Store ``document`` as a new version and make it current (the version that was current becomes
        previous). Idempotent by ``document.public_key``: writing the same document again changes nothing. A secret
        scheduled for deletion is restored first."""
        ...

    def find(self, public_key: str) -> StoredVersion | None:
        """The version holding ``public_key``'s document, or ``None`` if none does (or the secret is missing or
        scheduled for deletion)."""
        ...

    def current(self) -> StoredVersion | None:
        """The current version, or ``None`` if the secret does not exist, is scheduled for deletion, or has no
        current version (what an application reads then: nothing)."""
        ...

    def withdraw(self, public_key: str) -> None:
        """``public_key``'s key is revoked (or never made it into any state): its version stops being current
        (the version before it becomes current again; with none, the secret is deleted as :meth:`delete` does it,
        the recovery window or ``keep_metadata`` included) or previous."""
        ...

    def retire(self, public_key: str) -> None:
        """``public_key``'s grace period ended and the key was revoked: its version stops being previous."""
        ...

    def delete(self) -> None:
        """Delete the whole secret, every key's version in it (the store's recovery rules apply: AWS's recovery
        window, 0 for at once; Vault's ``keep_metadata``). Missing or scheduled for deletion already: done."""
        ...
