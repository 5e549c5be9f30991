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

Deletion: :meth:`~VaultKV2Store.delete`, and a :meth:`~VaultKV2Store.withdraw` of the only key, destroy every version;
the metadata (the path's history) goes too, unless ``keep_metadata`` (then only the custom metadata is cleared).

Retries and lost answers: hvac retries nothing, so its client gets a ``requests`` session whose urllib3 ``Retry``
repeats every method (:data:`ATTEMPTS` tries, exponential backoff with jitter up to :data:`BACKOFF_MAX_S`, a
``Retry-After`` honoured up to :data:`RETRY_AFTER_MAX_S`: about 10 s in all) on connection errors, lost answers,
timeouts and 429/500/502/503/504. Every write may be repeated: a data write is a check-and-set, so a repeat of one
whose answer was lost meets "check-and-set parameter did not match": the store then reads the latest version and,
if it is the document it wrote, goes on (anything else is another writer's, an error); metadata writes, destroys
and deletes are idempotent by content.

Errors: :class:`~pulumi_imburse.stores.StoreError` naming the path, the operation, Vault's status and errors, and
what to do (for a 403, the capability and API path the token's policy lacks). Logging: hvac and requests log no
bodies, urllib3 only the method, path and status of each request (no header, so no token).

The token comes from ``token``, else ``VAULT_TOKEN``; or AppRole (``role_id`` + ``secret_id``) logs in.
``namespace`` (Vault Enterprise / HCP) is sent as ``X-Vault-Namespace``. The address must be ``https://`` or
``http://`` to this machine, checked before any connection.

Least privilege for the provider (HCL, for mount ``secret`` and paths under ``imburse/``)::

    path "secret/data/imburse/*"     { capabilities = ["create", "update", "read"] }
    path "secret/metadata/imburse/*" { capabilities = ["create", "update", "read", "delete"] }
    path "secret/destroy/imburse/*"  { capabilities = ["update"] }
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final, TypeVar

import hvac
import hvac.exceptions
import requests
import requests.adapters
import urllib3.exceptions
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from ..config import base_url_problem
from . import KeyDocument, StoredVersion, StoreError

KIND: Final = "vault-kv2"
CURRENT: Final = "imburse-current"
CURRENT_VERSION: Final = "imburse-current-version"
PREVIOUS: Final = "imburse-previous"
PREVIOUS_VERSION: Final = "imburse-previous-version"
TIMEOUT_S: Final = 30.0
"""Seconds an attempt waits for an answer."""
ATTEMPTS: Final = 6
"""Tries per request: the first and 5 retries."""
BACKOFF_FACTOR_S: Final = 0.3
"""urllib3's backoff: 0, 0.6, 1.2, 2.4, 4 s (capped at :data:`BACKOFF_MAX_S`) between the tries, with jitter."""
BACKOFF_MAX_S: Final = 4.0
RETRY_AFTER_MAX_S: Final = 5
RETRY_STATUSES: Final = (429, 500, 502, 503, 504)
CAS_MISMATCH: Final = "check-and-set parameter did not match"
LEAST_PRIVILEGE: Final = ('path "<mount>/data/<path>" {capabilities = ["create", "update", "read"]}, '
                          'path "<mount>/metadata/<path>" {capabilities = ["create", "update", "read", "delete"]}, '
                          'path "<mount>/destroy/<path>" {capabilities = ["update"]}')
_STATUSES: Final[Mapping[type[hvac.exceptions.VaultError], int]] = {
    hvac.exceptions.InvalidRequest: 400, hvac.exceptions.Unauthorized: 401, hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404, hvac.exceptions.UnsupportedOperation: 405,
    hvac.exceptions.PreconditionFailed: 412, hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500, hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502, hvac.exceptions.VaultDown: 503}
_NEEDS: Final[Mapping[str, tuple[str, str]]] = {
    "read metadata": ("metadata", '"read"'), "write metadata": ("metadata", '"create", "update"'),
    "read": ("data", '"read"'), "write": ("data", '"create", "update"'), "destroy": ("destroy", '"update"'),
    "delete": ("metadata", '"delete"')}
"""What each operation needs of the token's policy: the API path's part after the mount, the capabilities."""

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
    :param attempts: tries per request (:data:`ATTEMPTS`).
    :param timeout_s: seconds an attempt waits for an answer (:data:`TIMEOUT_S`).
    """

    kind: ClassVar[str] = KIND

    def __init__(self, address: str, path: str, *, mount: str = "secret", namespace: str | None = None,
                 token: str | None = None, role_id: str | None = None, secret_id: str | None = None,
                 keep_metadata: bool = False, approle_mount: str = "approle", attempts: int = ATTEMPTS,
                 timeout_s: float = TIMEOUT_S) -> None:
        problem = base_url_problem(address, f"{KIND} address")
        if problem:
            raise StoreError(problem.replace("such as https://sandbox-api.imbursepayments.com ", ""))
        if not path.strip("/"):
            raise StoreError(f"{KIND}: path is empty: give the secret's path inside mount {mount!r}")
        self.address = address
        self.path = path.strip("/")
        self.mount = mount.strip("/")
        self.keep_metadata = keep_metadata
        self.attempts = attempts
        self.timeout_s = timeout_s
        approle = bool(role_id and secret_id)
        chosen = None if approle else token or os.environ.get("VAULT_TOKEN")
        if not approle and not chosen:
            raise StoreError(f"{KIND}: no Vault token: set VAULT_TOKEN, give a token, or AppRole role_id and "
                             "secret_id")
        # One logged-in client per Vault, namespace and credentials for the whole process: a key resource's store is
        # one path, and an AppRole login (or a client) for each of 100 keys would cost more than their writes.
        identity = hashlib.sha256("\0".join((str(chosen), str(role_id), str(secret_id), approle_mount)).encode())
        key = (address, namespace, attempts, timeout_s, identity.hexdigest())
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                # hvac's stubs say int; requests takes seconds as a float.
                client = hvac.Client(url=address, namespace=namespace, timeout=timeout_s,  # type: ignore[arg-type]
                                     session=retrying_session(attempts))
                self._client = client
                if approle:
                    self._call("login", lambda: client.auth.approle.login(role_id=role_id, secret_id=secret_id,
                                                                          mount_point=approle_mount))
                else:
                    client.token = str(chosen)
                _clients[key] = client
        self._client = client

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
        again (with no previous key, the secret goes as :meth:`delete` does it, ``keep_metadata`` honoured); its
        versions are destroyed."""
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
            if document is None:  # only revoked keys' documents left: the secret goes, as delete() does it
                self._delete(meta)
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
        if meta is not None:
            self._delete(meta)

    # ------------------------------------------------------------------ helpers

    def _delete(self, meta: Mapping[str, Any]) -> None:
        if self.keep_metadata:
            self._destroy([int(v) for v in (meta.get("versions") or {})])
            self._set_custom({})
        else:
            self._call("delete", lambda: self._client.secrets.kv.v2.delete_metadata_and_all_versions(
                path=self.path, mount_point=self.mount))

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
        """Write ``document`` on top of version ``cas``; the new version's number. A write repeated after its
        answer was lost meets its own first try ("check-and-set parameter did not match"): if the latest version
        is ``document``, that is this write's."""
        try:
            answer = self._call("write", lambda: self._client.secrets.kv.v2.create_or_update_secret(
                path=self.path, secret=document.fields(), cas=cas, mount_point=self.mount))
        except _CasMismatch as mismatch:
            meta = self._metadata()
            latest = int(meta.get("current_version") or 0) if meta else 0
            if latest > cas and self._read(latest) == document:
                return latest
            raise StoreError(f"{mismatch}. Another writer wrote version {latest} of the path meanwhile (this write "
                             f"was based on version {cas}): run again") from None
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
        """``fn()``, its failures as :class:`StoreError` naming the store, path, operation, Vault's status and
        errors, and what to do (never a value)."""
        where = f"{KIND} {operation} of {self.reference!r} at {self.address}"
        try:
            return fn()
        except hvac.exceptions.InvalidPath:
            raise _NotFound(f"{where} failed: HTTP 404: no such path") from None
        except hvac.exceptions.VaultError as exc:
            errors = _errors(exc.errors)
            status = _STATUSES.get(type(exc))
            code = f"HTTP {status} {type(exc).__name__}" if status else type(exc).__name__
            message = f"{where} failed: {code}" + (f": {errors}" if errors else "")
            if isinstance(exc, hvac.exceptions.InvalidRequest) and CAS_MISMATCH in errors:
                raise _CasMismatch(message) from None
            hint = self._hint(operation, status)
            raise StoreError(message + (f". {hint}" if hint else "")) from None
        except requests.RequestException as exc:
            reason: Any = exc.args[0] if exc.args else exc
            if isinstance(reason, MaxRetryError) and reason.reason is not None:
                reason = reason.reason  # what the last try met
            # (urllib3's NewConnectionError, a refused connection, is a ConnectTimeoutError too)
            timed_out = isinstance(exc, requests.Timeout) or isinstance(reason, TimeoutError
                                                                        | urllib3.exceptions.TimeoutError)
            if timed_out and not isinstance(reason, urllib3.exceptions.NewConnectionError):
                hint = (f"No answer from {self.address} within {self.timeout_s:g} s, {self.attempts} tries: Vault is "
                        "overloaded or unreachable; a repeated write is safe")
            elif isinstance(reason, urllib3.exceptions.ProtocolError):
                hint = (f"{self.address} closed the connection without an answer, {self.attempts} tries: Vault (or a "
                        "proxy or load balancer before it) is failing; a repeated write is safe")
            else:
                hint = (f"Nothing answered at {self.address} after {self.attempts} tries: is Vault running, and the "
                        "address (VAULT_ADDR) right?")
            raise StoreError(f"{where} failed: {type(reason).__name__}: {reason}. {hint}") from None

    def _hint(self, operation: str, status: int | None) -> str:
        tries = f"after {self.attempts} tries"
        if status == 403:
            if operation == "login":
                return "Vault refused the AppRole login: check VAULT_ROLE_ID and VAULT_SECRET_ID"
            part, capabilities = _NEEDS.get(operation, ("data", '"read"'))
            return (f"The token is invalid or expired, or its policy lacks capabilities [{capabilities}] on path "
                    f'"{self.mount}/{part}/{self.path}"; the provider needs: '
                    + LEAST_PRIVILEGE.replace("<mount>", self.mount).replace("<path>", self.path))
        if status == 429:
            return (f"Vault's rate limit quota still refused the request {tries}: deploy with a lower `--parallel`, "
                    "or raise the quota")
        if status == 503:
            return f"Vault is sealed, a standby that cannot forward, or down ({tries}): unseal it or try again later"
        if status in (500, 502, 504):
            return f"Vault kept failing {tries}: try again later"
        return ""


_clients: dict[tuple[str, str | None, int, float, str], hvac.Client] = {}
_clients_lock = threading.Lock()


class _NotFound(StoreError):
    """The path (or version) does not exist."""


class _CasMismatch(StoreError):
    """A check-and-set write found another version than the one it was based on."""


def _errors(errors: Any) -> str:
    """Vault's ``errors`` on one line: ``2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token`` as
    ``permission denied; invalid token``."""
    if not isinstance(errors, list):
        return ""
    items: list[str] = []
    for error in errors:
        lines = [line.strip().removeprefix("* ").strip() for line in str(error).splitlines() if line.strip()]
        if len(lines) > 1 and re.fullmatch(r"\d+ errors? occurred:", lines[0]):
            lines = lines[1:]
        items.extend(lines)
    return "; ".join(items)


def retrying_session(attempts: int = ATTEMPTS) -> requests.Session:
    """A ``requests`` session whose every request (every method) is tried up to ``attempts`` times on connection
    errors, lost answers, timeouts and :data:`RETRY_STATUSES`, with backoff and ``Retry-After`` honoured (module
    docs). The last answer of a status that kept coming back is returned, for hvac to raise as Vault's error."""
    retries = max(attempts - 1, 0)
    retry = Retry(total=retries, connect=retries, read=retries, status=retries, other=retries,
                  allowed_methods=None, status_forcelist=RETRY_STATUSES, backoff_factor=BACKOFF_FACTOR_S,
                  backoff_max=BACKOFF_MAX_S, backoff_jitter=0.2, respect_retry_after_header=True,
                  retry_after_max=RETRY_AFTER_MAX_S, raise_on_status=False)
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _custom(meta: Mapping[str, Any] | None) -> dict[str, str]:
    custom = (meta or {}).get("custom_metadata") or {}
    return {str(k): str(v) for k, v in custom.items() if v}

