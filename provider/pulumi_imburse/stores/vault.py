"""HashiCorp Vault's KV version 2 secrets engine as a :class:`~pulumi_imburse.stores.SecretStore` (destination type
``vault-kv2``).

A key resource's secret is one KV v2 path. Its *latest* version is what an application reads (``vault kv get``,
``GET <mount>/data/<path>``), so the latest version is always the current key's document. The secret's custom
metadata names the current and previous keys and their versions (``imburse-current``, ``imburse-current-version``,
``imburse-previous``, ``imburse-previous-version``), since KV v2 itself has no labels:

- a write makes a new version with check-and-set (``cas`` = the version the writer read), so two writers never
  overwrite each other unseen, then records it as current and the former current as previous;
- a withdrawn current key gives way to the previous key's document, written again as the latest version; the
  withdrawn key's versions are destroyed (a revoked key's private key is kept nowhere);
- a retired previous key's versions are destroyed and the metadata stops naming it.

The token comes from ``token``, else ``VAULT_TOKEN``; or AppRole (``role_id`` + ``secret_id``) logs in.
``namespace`` (Vault Enterprise / HCP) is sent as ``X-Vault-Namespace``. The address must be ``https://`` or
``http://`` to this machine, checked before any connection.

Least privilege for the provider (HCL, for mount ``secret`` and paths under ``imburse/``)::

    path "secret/data/imburse/*"     { capabilities = ["create", "update", "read"] }
    path "secret/metadata/imburse/*" { capabilities = ["create", "update", "read", "delete"] }
    path "secret/destroy/imburse/*"  { capabilities = ["update"] }
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, TypeVar

import hvac
import hvac.exceptions
import requests

from ..config import base_url_problem
from . import KeyDocument, StoredVersion, StoreError

KIND: Final = "vault-kv2"
CURRENT: Final = "imburse-current"
CURRENT_VERSION: Final = "imburse-current-version"
PREVIOUS: Final = "imburse-previous"
PREVIOUS_VERSION: Final = "imburse-previous-version"
TIMEOUT_S: Final = 30

T = TypeVar("T")


class VaultKV2Store:
    """One KV v2 secret in Vault holding a key resource's key documents.

    :param address: Vault's address, e.g. ``https://vault.example.com:8200``.
    :param path: the secret's path inside the mount, e.g. ``imburse/acme/ci``.
    :param mount: the KV v2 mount point (default ``secret``).
    :param namespace: a Vault namespace (Enterprise, HCP), or none.
    :param token: a Vault token; by default ``VAULT_TOKEN``.
    :param role_id, secret_id: AppRole credentials, used instead of a token when both are given.
    :param keep_metadata: :meth:`delete` destroys every version but keeps the metadata (the path's history).
    """

    kind: ClassVar[str] = KIND

    def __init__(self, address: str, path: str, *, mount: str = "secret", namespace: str | None = None,
                 token: str | None = None, role_id: str | None = None, secret_id: str | None = None,
                 keep_metadata: bool = False, approle_mount: str = "approle") -> None:
        problem = base_url_problem(address, f"{KIND} address")
        if problem:
            raise StoreError(problem.replace("such as https://sandbox-api.imbursepayments.com ", ""))
        if not path.strip("/"):
            raise StoreError(f"{KIND}: path is empty: give the secret's path inside mount {mount!r}")
        self.address = address
        self.path = path.strip("/")
        self.mount = mount.strip("/")
        self.keep_metadata = keep_metadata
        self._client = hvac.Client(url=address, namespace=namespace, timeout=TIMEOUT_S)
        if role_id and secret_id:
            self._call("login", lambda: self._client.auth.approle.login(role_id=role_id, secret_id=secret_id,
                                                                           mount_point=approle_mount))
        else:
            chosen = token or os.environ.get("VAULT_TOKEN")
            if not chosen:
                raise StoreError(f"{KIND}: no Vault token: set VAULT_TOKEN, give a token, or AppRole role_id and "
                                 "secret_id")
            self._client.token = chosen

    def __repr__(self) -> str:
        return f"VaultKV2Store({self.reference!r})"

    @property
    def reference(self) -> str:
        """``<mount>/<path>`` at the address."""
        return f"{self.mount}/{self.path}"

    # ------------------------------------------------------------------ the SecretStore operations

    def write_current(self, document: KeyDocument) -> StoredVersion:
        """Write ``document`` as the latest version (check-and-set) and name it current in the metadata."""
        meta = self._metadata()
        custom = _custom(meta)
        if custom.get(CURRENT) == document.public_key:
            return self._stored(document, int(custom[CURRENT_VERSION]), current=True)
        latest = int(meta.get("current_version") or 0) if meta else 0
        found = self._read(latest) if latest else None
        if found is not None and found.public_key == document.public_key:
            version = latest  # written by an earlier try whose metadata update was lost
        else:
            version = self._write(document, cas=latest)
        previous = ({PREVIOUS: custom[CURRENT], PREVIOUS_VERSION: custom[CURRENT_VERSION]}
                    if custom.get(CURRENT) else {PREVIOUS: "", PREVIOUS_VERSION: ""})
        self._set_custom({**custom, CURRENT: document.public_key, CURRENT_VERSION: str(version), **previous})
        return self._stored(document, version, current=True)

    def find(self, public_key: str) -> StoredVersion | None:
        """The current or previous version holding ``public_key``'s document, else the latest if it does."""
        meta = self._metadata()
        if meta is None:
            return None
        custom = _custom(meta)
        for name, number, current in ((CURRENT, CURRENT_VERSION, True), (PREVIOUS, PREVIOUS_VERSION, False)):
            if custom.get(name) == public_key and custom.get(number):
                document = self._read(int(custom[number]))
                if document is not None and document.public_key == public_key:
                    return self._stored(document, int(custom[number]), current=current, previous=not current)
        latest = int(meta.get("current_version") or 0)
        document = self._read(latest) if latest else None
        if document is not None and document.public_key == public_key:
            return self._stored(document, latest)
        return None

    def current(self) -> StoredVersion | None:
        """The latest version (what an application reads); ``None`` if the path has none."""
        meta = self._metadata()
        latest = int(meta.get("current_version") or 0) if meta else 0
        document = self._read(latest) if latest else None
        if document is None:
            return None
        return self._stored(document, latest, current=_custom(meta).get(CURRENT) == document.public_key)

    def withdraw(self, public_key: str) -> None:
        """``public_key`` is revoked: if it is current, the previous key's document becomes the latest version
        again (with no previous key, the whole secret goes); its versions are destroyed."""
        meta = self._metadata()
        if meta is None:
            return
        custom = _custom(meta)
        mine = [int(v) for name, number in ((CURRENT, CURRENT_VERSION), (PREVIOUS, PREVIOUS_VERSION))
                if custom.get(name) == public_key and (v := custom.get(number))]
        latest = int(meta.get("current_version") or 0)
        latest_document = self._read(latest) if latest else None
        if latest_document is not None and latest_document.public_key == public_key and latest not in mine:
            mine.append(latest)  # written, but its metadata update was lost
        if not mine:
            return
        if latest in mine:  # the application reads it: put the key before it back on top
            before = custom.get(PREVIOUS) if custom.get(PREVIOUS) != public_key else ""
            document = self._read(int(custom[PREVIOUS_VERSION])) if before else None
            if document is None:
                self._call("delete", lambda: self._client.secrets.kv.v2.delete_metadata_and_all_versions(
                    path=self.path, mount_point=self.mount))
                return
            version = self._write(document, cas=latest)
            custom = {**custom, CURRENT: document.public_key, CURRENT_VERSION: str(version)}
        custom = {**custom, PREVIOUS: "", PREVIOUS_VERSION: ""} if custom.get(PREVIOUS) in (public_key, custom.get(
            CURRENT)) else custom
        self._set_custom(custom)
        self._destroy(mine)

    def retire(self, public_key: str) -> None:
        """``public_key``'s grace period ended: the metadata stops naming it previous; its version is destroyed."""
        meta = self._metadata()
        custom = _custom(meta)
        if meta is None or custom.get(PREVIOUS) != public_key:
            return
        version = custom.get(PREVIOUS_VERSION)
        self._set_custom({**custom, PREVIOUS: "", PREVIOUS_VERSION: ""})
        if version:
            self._destroy([int(version)])

    def delete(self) -> None:
        """Destroy every version; the metadata goes too unless ``keep_metadata``. Gone already: done."""
        meta = self._metadata()
        if meta is None:
            return
        if self.keep_metadata:
            self._destroy([int(v) for v in (meta.get("versions") or {})])
            self._set_custom({})
        else:
            self._call("delete", lambda: self._client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=self.path, mount_point=self.mount))

    # ------------------------------------------------------------------ helpers

    def _metadata(self) -> dict[str, Any] | None:
        try:
            answer = self._call("read metadata", lambda: self._client.secrets.kv.v2.read_secret_metadata(
                path=self.path, mount_point=self.mount))
        except _NotFound:
            return None
        data: dict[str, Any] = answer.get("data") or {}
        return data

    def _read(self, version: int) -> KeyDocument | None:
        try:
            answer = self._call("read", lambda: self._client.secrets.kv.v2.read_secret_version(
                path=self.path, version=version, mount_point=self.mount, raise_on_deleted_version=True))
        except _NotFound:
            return None
        data = (answer.get("data") or {}).get("data")
        if not data:
            return None
        return KeyDocument.from_fields(data)

    def _write(self, document: KeyDocument, *, cas: int) -> int:
        answer = self._call("write", lambda: self._client.secrets.kv.v2.create_or_update_secret(
            path=self.path, secret=document.fields(), cas=cas, mount_point=self.mount))
        return int((answer.get("data") or {})["version"])

    def _set_custom(self, custom: Mapping[str, str]) -> None:
        """Replace the custom metadata with ``custom`` (empty values left out: Vault refuses them; a ``POST`` of the
        metadata replaces the whole map, so a key left out is removed)."""
        kept = {k: v for k, v in custom.items() if v}
        self._call("write metadata", lambda: self._client.secrets.kv.v2.update_metadata(
            path=self.path, custom_metadata=kept, mount_point=self.mount))

    def _destroy(self, versions: list[int]) -> None:
        if versions:
            self._call("destroy", lambda: self._client.secrets.kv.v2.destroy_secret_versions(
                path=self.path, versions=sorted(set(versions)), mount_point=self.mount))

    def _stored(self, document: KeyDocument, version: int, *, current: bool = False,
                previous: bool = False) -> StoredVersion:
        return StoredVersion(reference=f"{self.address.rstrip('/')}/v1/{self.mount}/data/{self.path}",
                             version=str(version), fingerprint=document.fingerprint,
                             public_key=document.public_key, current=current, previous=previous)

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """``fn()``, its failures as :class:`StoreError` naming the store, path and operation (never a value)."""
        where = f"{KIND} {operation} of {self.reference!r} at {self.address}"
        try:
            return fn()
        except hvac.exceptions.InvalidPath:
            raise _NotFound(where) from None
        except hvac.exceptions.VaultError as exc:
            errors = "; ".join(str(e) for e in (exc.errors or [])) if isinstance(exc.errors, list) else ""
            raise StoreError(f"{where} failed: {type(exc).__name__}" + (f": {errors}" if errors else "")) from None
        except requests.RequestException as exc:
            raise StoreError(f"{where} failed: {type(exc).__name__}: {exc}") from None


class _NotFound(Exception):
    """The path (or version) does not exist."""


def _custom(meta: Mapping[str, Any] | None) -> dict[str, str]:
    custom = (meta or {}).get("custom_metadata") or {}
    return {str(k): str(v) for k, v in custom.items() if v}

