"""A key's *destination*: which secret store receives its private key, declared once for every face.

A destination is an object input of ``TenantKey`` and ``RotatingTenantKey`` (``destination``), and the provider-wide
default (stack config / provider input ``imburse:destination``). Its fields are the rows of :data:`FIELDS`, read by
Check (:func:`check_destination`), the resources' diffs (:func:`location`), the plugin's schema (the
``imburse:index:Destination`` object type) and the Python names (:data:`PY_NAMES`). :func:`resolve` merges a key's
destination over the default and fills ``{tenantId}`` / ``{resourceName}`` in ``secretId`` and ``path``;
:class:`StoreCredentials` opens the store a resolved destination names (:meth:`StoreCredentials.open`).

``type: state`` is no store: the private key stays in Pulumi state (encrypted), as without a destination; it lets
one key opt out of a provider-wide default. No Pulumi import.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from ..config import base_url_problem
from ..validation import Problem
from ..values import UNKNOWN, is_unknown
from . import SecretStore, StoreError

AWS: Final = "aws-secretsmanager"
VAULT: Final = "vault-kv2"
STATE: Final = "state"
TYPES: Final = (AWS, VAULT, STATE)
STORE_TYPES: Final = (AWS, VAULT)
ON_LOSS: Final = ("rotate", "keep")
PLACEHOLDERS: Final = ("tenantId", "resourceName")
"""What ``secretId`` and ``path`` may hold in braces: the key's tenant id and its resource name."""
PROPERTY: Final = "destination"
"""The input's wire (and Python) name."""
DEFAULT_SETTING: Final = "imburse:destination"
"""Where the provider-wide default is set (stack config; an explicit provider's ``destination`` input)."""

FieldType = Literal["string", "integer", "boolean", "string-map"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a destination."""

    wire: str
    py: str
    type: FieldType
    kinds: tuple[str, ...]
    """The destination types it applies to."""
    doc: str
    location: bool = False
    """Part of where the secret is: a change moves the key to another secret, so its key is made again (the old
    private key cannot be copied: Pulumi never held it)."""
    enum: tuple[str, ...] = ()


FIELDS: Final[tuple[Field, ...]] = (
    Field("type", "type", "string", TYPES, "the store: ``aws-secretsmanager`` (AWS Secrets Manager), ``vault-kv2`` "
          "(HashiCorp Vault's KV version 2 engine), or ``state`` (no store: the private key stays in Pulumi state, "
          "encrypted; opts one key out of a provider-wide default).", location=True, enum=TYPES),
    Field("secretId", "secret_id", "string", (AWS,), "the secret's name (created at the first write) or ARN (which "
          "must exist). May hold ``{tenantId}`` and ``{resourceName}``.", location=True),
    Field("region", "region", "string", (AWS,), "the AWS region; default: the standard chain's (``AWS_REGION``, "
          "the shared config).", location=True),
    Field("endpoint", "endpoint", "string", (AWS,), "another Secrets Manager endpoint (a VPC endpoint; ``https://``, "
          "or ``http://`` to this machine).", location=True),
    Field("kmsKeyId", "kms_key_id", "string", (AWS,), "the KMS key that encrypts a secret the provider creates; "
          "default: ``aws/secretsmanager``."),
    Field("tags", "tags", "string-map", (AWS,), "tags of a secret the provider creates."),
    Field("recoveryWindowInDays", "recovery_window_in_days", "integer", (AWS,), "days a deleted secret can be "
          "restored: 7 to 30, or 0 to delete at once; default 30."),
    Field("address", "address", "string", (VAULT,), "Vault's address (``https://``, or ``http://`` to this "
          "machine); default: ``VAULT_ADDR``.", location=True),
    Field("mount", "mount", "string", (VAULT,), "the KV version 2 mount; default ``secret``.", location=True),
    Field("path", "path", "string", (VAULT,), "the secret's path inside the mount. May hold ``{tenantId}`` and "
          "``{resourceName}``.", location=True),
    Field("namespace", "namespace", "string", (VAULT,), "a Vault namespace (Enterprise, HCP); default: none "
          "(``VAULT_NAMESPACE``).", location=True),
    Field("keepMetadata", "keep_metadata", "boolean", (VAULT,), "when the secret is deleted, destroy every version "
          "but keep its metadata (its history); default ``false``: delete it all."),
    Field("onLoss", "on_loss", "string", STORE_TYPES, "what the next update does when a refresh found the stored "
          "key deleted or overwritten: ``rotate`` (default: a new key, delivered again) or ``keep``.", enum=ON_LOSS),
)
"""Every field of a destination, in the order the schema lists them."""

BY_WIRE: Final = {f.wire: f for f in FIELDS}
PY_NAMES: Final = {f.wire: f.py for f in FIELDS if f.wire != f.py}
"""``{wire name: Python name}`` of the fields whose names differ (Python programs may use either)."""
_BY_PY: Final = {f.py: f for f in FIELDS}
REQUIRED: Final = {AWS: ("secretId",), VAULT: ("path",)}
DEFAULT_MOUNT: Final = "secret"
DEFAULT_RECOVERY_DAYS: Final = 30
_PLACEHOLDER: Final = re.compile(r"\{([^{}]*)\}")


def normalized(value: Any) -> dict[str, Any] | None:
    """``value`` (a mapping with wire or Python field names) with wire names, empty fields dropped; ``None`` for
    no destination. Not a mapping: returned as it is inside a dict under ``""`` (Check reports it)."""
    if value is None or is_unknown(value):
        return None
    if not isinstance(value, Mapping):
        return {"": value}
    out: dict[str, Any] = {}
    for k, v in value.items():
        field = BY_WIRE.get(k) or _BY_PY.get(k)
        if v is None or v == "":
            continue
        out[field.wire if field else str(k)] = v
    return out


def check_destination(prop: str, value: Any, *, default: Mapping[str, Any] | None = None,
                      environ: Mapping[str, str] | None = None) -> list[Problem]:
    """What is wrong with a destination (a key's ``value`` over the provider-wide ``default``), before any call.

    Unknown values (preview) are left to the apply's Check. Messages name the field (``destination.secretId``) and,
    for a closed set, the allowed values; they never show a value that may be a secret (none of these is)."""
    environ = os.environ if environ is None else environ
    if is_unknown(value):
        return []
    own = normalized(value)
    if own is not None and "" in own:
        return [Problem(prop, f"{prop} must be an object such as {{type: vault-kv2, path: imburse/app}}, got "
                              f"{type(own['']).__name__}")]
    merged = merge(own, normalized(default))
    if merged is None:
        return []
    problems: list[Problem] = []
    kind = merged.get("type")
    if is_unknown(kind):
        return []
    if kind not in TYPES:
        return [Problem(prop, f"{prop}.type must be one of {', '.join(TYPES)}, got {kind!r}" if kind is not None
                        else f"{prop}.type is required: one of {', '.join(TYPES)}")]
    for name, v in merged.items():
        field = BY_WIRE.get(name)
        found: list[Problem] = []
        if field is None:
            allowed = ", ".join(f.wire for f in FIELDS if kind in f.kinds)
            found.append(Problem(prop, f"{prop}.{name} is not a field of {_a(kind)} destination; its fields: "
                                       f"{allowed}"))
        elif kind not in field.kinds:
            found.append(Problem(prop, f"{prop}.{name} applies to {' and '.join(field.kinds)} only, not to "
                                       f"{_a(kind)} destination"))
        elif not is_unknown(v):
            found += _check_field(prop, field, v)
        if own is None or name not in own:  # the provider's default gave it: say where to fix it
            found = [Problem(p.property, f"{p.reason} (from the provider's default, {DEFAULT_SETTING})") for p in found]
        problems += found
    for name in REQUIRED.get(kind, ()):
        if merged.get(name) is None:
            problems.append(Problem(prop, f"{prop}.{name} is required for {_a(kind)} destination"))
    if kind == VAULT and merged.get("address") is None and not environ.get("VAULT_ADDR"):
        problems.append(Problem(prop, f"{prop}.address is required for {_a(VAULT)} destination (or set VAULT_ADDR)"))
    return problems


def _a(kind: str) -> str:
    """``kind`` with its indefinite article: ``an aws-secretsmanager``, ``a vault-kv2``."""
    return f"{'an' if kind[:1] in 'aeio' else 'a'} {kind}"


def _check_field(prop: str, field: Field, value: Any) -> list[Problem]:
    where = f"{prop}.{field.wire}"
    if field.type == "string":
        if not isinstance(value, str):
            return [Problem(prop, f"{where} must be a string, got {type(value).__name__}")]
        if field.enum and value not in field.enum:
            return [Problem(prop, f"{where} must be one of {', '.join(field.enum)}, got {value!r}")]
        if field.wire in ("secretId", "path"):
            bad = [p for p in _PLACEHOLDER.findall(value) if p not in PLACEHOLDERS]
            if bad:
                return [Problem(prop, f"{where} may hold {{tenantId}} and {{resourceName}} only, got {{{bad[0]}}}")]
        if field.wire in ("endpoint", "address"):
            problem = base_url_problem(value, where)
            if problem:
                return [Problem(prop, problem.replace("such as https://sandbox-api.imbursepayments.com ", ""))]
        return []
    if field.type == "integer":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()
        if not ok or not (int(value) == 0 or 7 <= int(value) <= 30):
            return [Problem(prop, f"{where} must be 0 (delete at once) or a whole number from 7 to 30, got "
                                  f"{value!r}")]
        return []
    if field.type == "boolean":
        return [] if isinstance(value, bool) else [Problem(prop, f"{where} must be true or false, got {value!r}")]
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        return [Problem(prop, f"{where} must be a map of strings")]
    return []


def merge(own: dict[str, Any] | None, default: dict[str, Any] | None) -> dict[str, Any] | None:
    """A key's destination over the provider-wide default: the key's fields win; a key whose ``type`` differs from
    the default's replaces it wholesale."""
    if own is None:
        return dict(default) if default else None
    if default and own.get("type", default.get("type")) == default.get("type"):
        return {**default, **own}
    return dict(own)


def resolve(value: Any, default: Any, *, tenant_id: Any, resource_name: Any) -> Any:
    """The destination Check records for a key: :func:`merge` of the key's and the default, integers as integers,
    placeholders filled; ``None`` for none; :data:`~pulumi_imburse.values.UNKNOWN` when a value it needs is not
    known yet (preview). Call after :func:`check_destination` found nothing wrong."""
    if is_unknown(value) or is_unknown(default):
        return UNKNOWN
    merged = merge(normalized(value), normalized(default))
    if merged is None:
        return None
    if any(is_unknown(v) for v in merged.values()):
        return UNKNOWN
    if "recoveryWindowInDays" in merged:
        merged["recoveryWindowInDays"] = int(merged["recoveryWindowInDays"])
    values = {"tenantId": tenant_id, "resourceName": resource_name}
    for name in ("secretId", "path"):
        text = merged.get(name)
        if isinstance(text, str) and _PLACEHOLDER.search(text):
            if any(is_unknown(values[p]) for p in _PLACEHOLDER.findall(text)):
                return UNKNOWN
            merged[name] = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)
    return merged


def is_store(destination: Any) -> bool:
    """Whether a resolved destination names a store (not none, not ``state``, known)."""
    return isinstance(destination, Mapping) and destination.get("type") in STORE_TYPES


def location(destination: Any) -> Any:
    """Where a resolved destination's secret is (its :attr:`Field.location` fields), to compare two of them: a
    change moves the key to another secret. ``None`` for no store; unknown stays unknown."""
    if is_unknown(destination):
        return UNKNOWN
    if not is_store(destination):
        return None
    return tuple(sorted((k, str(v)) for k, v in destination.items() if k in BY_WIRE and BY_WIRE[k].location))


def keeps_on_loss(destination: Any) -> bool:
    """Whether ``onLoss`` is ``keep`` (a lost stored key does not rotate the key)."""
    return isinstance(destination, Mapping) and destination.get("onLoss") == "keep"


def to_record(destination: Mapping[str, Any]) -> str:
    """A resolved destination as the create journal keeps it (JSON; it holds no secret)."""
    return json.dumps(dict(destination), sort_keys=True)


def from_record(text: str) -> dict[str, Any] | None:
    """:func:`to_record`'s destination again (``None`` for an empty or unreadable record)."""
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclasses.dataclass(frozen=True)
class StoreCredentials:
    """How the provider reaches the stores: the Vault token (``imburse:vaultToken``, else ``VAULT_TOKEN``) or AppRole
    (``VAULT_ROLE_ID`` + ``VAULT_SECRET_ID``); AWS uses boto3's standard chain. ``repr`` hides every credential."""

    vault_token: str | None = dataclasses.field(default=None, repr=False)
    vault_role_id: str | None = dataclasses.field(default=None, repr=False)
    vault_secret_id: str | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_settings(cls, vault_token: str | None, environ: Mapping[str, str] | None = None) -> StoreCredentials:
        """The credentials of a provider whose ``vaultToken`` setting is ``vault_token`` (may be empty)."""
        environ = os.environ if environ is None else environ
        return cls(vault_token=(vault_token or environ.get("VAULT_TOKEN") or None),
                   vault_role_id=environ.get("VAULT_ROLE_ID") or None,
                   vault_secret_id=environ.get("VAULT_SECRET_ID") or None)

    def open(self, destination: Mapping[str, Any]) -> SecretStore:
        """The store a resolved destination names (nothing is contacted until its first operation, but AppRole's
        login). A store whose library is not installed fails naming the extra to install."""
        kind = destination.get("type")
        if kind == AWS:
            try:
                from .aws import AwsSecretsManagerStore
            except ImportError:
                raise StoreError(f"a {AWS} destination needs boto3: pip install 'pulumi-imburse[aws]'") from None
            return AwsSecretsManagerStore(
                str(destination["secretId"]), region=destination.get("region"),
                kms_key_id=destination.get("kmsKeyId"), tags=destination.get("tags"),
                endpoint_url=destination.get("endpoint"),
                recovery_window_days=int(destination.get("recoveryWindowInDays", DEFAULT_RECOVERY_DAYS)))
        if kind == VAULT:
            try:
                from .vault import VaultKV2Store
            except ImportError:
                raise StoreError(f"a {VAULT} destination needs hvac: pip install 'pulumi-imburse[vault]'") from None
            address = destination.get("address") or os.environ.get("VAULT_ADDR") or ""
            approle = bool(self.vault_role_id and self.vault_secret_id and not self.vault_token)
            return VaultKV2Store(
                str(address), str(destination["path"]), mount=str(destination.get("mount") or DEFAULT_MOUNT),
                namespace=destination.get("namespace") or os.environ.get("VAULT_NAMESPACE") or None,
                token=self.vault_token, role_id=self.vault_role_id if approle else None,
                secret_id=self.vault_secret_id if approle else None,
                keep_metadata=bool(destination.get("keepMetadata", False)))
        raise StoreError(f"destination type {kind!r} names no store")


class StoreConfig:
    """A provider's store settings: its default destination and credentials, and the stores it opened (one per
    secret, reused by every operation of the provider; thread-safe)."""

    def __init__(self, default: Any = None, credentials: StoreCredentials | None = None) -> None:
        self.default = parse_default(default)
        self.credentials = credentials or StoreCredentials.from_settings(None)
        self._lock = threading.Lock()
        self._stores: dict[str, SecretStore] = {}

    def __repr__(self) -> str:
        return f"StoreConfig(default={self.default!r})"

    @classmethod
    def from_settings(cls, destination: Any, vault_token: Any) -> StoreConfig:
        """A provider's store settings from its ``destination`` and ``vaultToken`` settings as given (unset, or not a
        string: ``VAULT_TOKEN`` and AppRole from the environment)."""
        return cls(destination, StoreCredentials.from_settings(vault_token if isinstance(vault_token, str) else None))

    def open(self, destination: Mapping[str, Any]) -> SecretStore:
        """The store of a resolved destination (opened once: the same object for the same destination)."""
        record = to_record(destination)
        with self._lock:
            found = self._stores.get(record)
        if found is None:
            found = self.credentials.open(destination)
            with self._lock:
                found = self._stores.setdefault(record, found)
        return found


def parse_default(value: Any) -> Any:
    """The provider-wide default destination from its setting: an object, or its JSON text (stack config); ``None``
    when unset. Unreadable JSON is kept as text, for Check to report."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


StoreOpener = Callable[[Mapping[str, Any]], SecretStore]
"""Opens the store of a resolved destination (a provider's :meth:`StoreCredentials.open`)."""
