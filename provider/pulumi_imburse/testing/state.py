"""The :class:`StackRunner` state file: resources and stack outputs as JSON, secrets encrypted.

Property values are kept in the engine's *wire* form (what ``google.protobuf.Struct`` carries between the
SDK, the engine and providers): plain JSON, plus "signature" objects for secrets
(``{"4dabf1...": "1b4706...", "value": ...}``), assets, archives and resource references, and the
unknown sentinel during previews. The helpers here implement the engine's secret rules on that form.

On disk every secret is an envelope ``{"4dabf1...": "1b4706...", "ciphertext": "v1:<nonce>:<data>"}``
(the shape the Pulumi CLI writes into its own checkpoints): AES-256-GCM with a 96-bit random nonce per
value, under a key derived from the passphrase with scrypt (n=2**15, r=8, p=1) and a random 128-bit salt
kept in the file's ``secrets_providers`` block next to an encrypted check value, so that a wrong passphrase
fails clearly instead of producing garbage. Nothing secret is ever written in plain text.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import secrets as _secrets
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import PassphraseError, StateError

# Wire-format signatures, identical to ``pulumi.runtime.rpc`` and the engine's ``resource/sig`` package.
SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIG: Final = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIG: Final = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_SIG: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_SIG: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

STATE_VERSION: Final = 1
_KDF_N: Final = 2**15
_KDF_R: Final = 8
_KDF_P: Final = 1
_CHECK_PLAINTEXT: Final = b"pulumi_imburse.testing.StackRunner"

PropertyMap = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Wire-value helpers (engine rules on secrets)
# --------------------------------------------------------------------------------------------------


def is_secret(value: Any) -> bool:
    """True for a wire secret ``{SIG_KEY: SECRET_SIG, "value": ...}``."""
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def make_secret(value: Any) -> Any:
    """Wrap ``value`` as a wire secret (no-op if it already is one)."""
    return value if is_secret(value) else {SIG_KEY: SECRET_SIG, "value": value}


def is_object(value: Any) -> bool:
    """True for a plain object (a dict that is not a secret, asset, archive or resource reference)."""
    return isinstance(value, dict) and SIG_KEY not in value


def contains_secrets(value: Any) -> bool:
    """True if ``value`` is, or holds anywhere inside it, a secret."""
    if is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secrets(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secrets(v) for v in value)
    return False


def contains_unknowns(value: Any) -> bool:
    """True if ``value`` holds the unknown sentinel anywhere (only happens during previews)."""
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknowns(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknowns(v) for v in value)
    return False


def strip_secrets(value: Any) -> Any:
    """Replace every secret by its element.

    Engine rule: ``MarshalProperties(..., KeepSecrets: protocol.acceptSecrets)`` in
    ``pkg/resource/plugin/provider_plugin.go``; a provider whose ``Configure`` answered
    ``acceptSecrets=false`` (the Python dynamic provider host always does) never sees secret markers.
    """
    if is_secret(value):
        return strip_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def annotate_secrets(outs: PropertyMap, ins: Mapping[str, Any]) -> None:
    """Mark as secret every output whose same-named input held a secret, recursing into objects.

    Engine rule: ``annotateSecrets`` in ``pkg/resource/plugin/provider_plugin.go``, applied to the results of
    Check, Create, Update and Read of a provider that does not accept secrets (arrays are marked whole).
    """
    for key, in_value in ins.items():
        if key not in outs:
            continue
        out_value = outs[key]
        if is_object(out_value) and is_object(in_value):
            annotate_secrets(out_value, in_value)
        elif not is_secret(out_value) and contains_secrets(in_value):
            outs[key] = make_secret(out_value)


def unwrap_for_display(value: Any) -> tuple[Any, bool]:
    """``(plain value, contained a secret)`` for handing values back to users (stack outputs)."""
    return strip_secrets(value), contains_secrets(value)


def redacted(value: Any) -> str:
    """A printable form of a wire value with every secret shown as ``[secret]``."""

    def walk(v: Any) -> Any:
        if is_secret(v):
            return "[secret]"
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if v == UNKNOWN:
            return "[unknown]"
        return v

    shown = walk(value)
    return shown if isinstance(shown, str) else json.dumps(shown, sort_keys=True)


def normalize_numbers(value: Any) -> Any:
    """``google.protobuf.Struct`` carries every number as a double; give integral ones back as ``int``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# State model
# --------------------------------------------------------------------------------------------------


@dataclass
class ResourceState:
    """One resource in the state file (the fields of the engine's ``resource.State`` that the runner uses)."""

    urn: str
    type: str
    custom: bool
    id: str = ""
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    inputs: PropertyMap = field(default_factory=dict)
    outputs: PropertyMap = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    additional_secret_outputs: list[str] = field(default_factory=list)
    delete_before_replace: bool | None = None
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    import_id: str = ""
    external: bool = False
    delete: bool = False
    """Engine's ``Delete`` flag: an old copy left behind by a create-before-delete replacement, deleted later."""

    def all_dependencies(self) -> set[str]:
        """URNs this resource depends on, as the engine's ``DependencyGraph`` sees them (parent included)."""
        deps = set(self.dependencies)
        for urns in self.property_dependencies.values():
            deps.update(urns)
        if self.parent:
            deps.add(self.parent)
        deps.discard(self.urn)
        return deps

    def copy(self) -> ResourceState:
        """A deep copy."""
        return copy.deepcopy(self)

    @property
    def name(self) -> str:
        """The resource name: the URN's last ``::`` component (names may themselves contain ``::``)."""
        return urn_name(self.urn)

    def to_json(self, seal: Callable[[Any], Any]) -> dict[str, Any]:
        """The on-disk form, with every secret sealed by ``seal``."""
        data: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "custom": self.custom,
            "id": self.id,
            "parent": self.parent,
            "dependencies": list(self.dependencies),
            "property_dependencies": {k: list(v) for k, v in self.property_dependencies.items()},
            "inputs": seal(self.inputs),
            "outputs": seal(self.outputs),
            "protect": self.protect,
            "retain_on_delete": self.retain_on_delete,
            "additional_secret_outputs": list(self.additional_secret_outputs),
            "delete_before_replace": self.delete_before_replace,
        }
        for key, value in (("ignore_changes", self.ignore_changes), ("replace_on_changes", self.replace_on_changes),
                           ("import_id", self.import_id), ("external", self.external), ("delete", self.delete)):
            if value:
                data[key] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], unseal: Callable[[Any], Any]) -> ResourceState:
        """Parse the on-disk form, opening every sealed secret with ``unseal``."""
        try:
            return cls(
                urn=str(data["urn"]),
                type=str(data["type"]),
                custom=bool(data["custom"]),
                id=str(data.get("id") or ""),
                parent=str(data.get("parent") or ""),
                dependencies=[str(u) for u in data.get("dependencies") or []],
                property_dependencies={str(k): [str(u) for u in v]
                                       for k, v in (data.get("property_dependencies") or {}).items()},
                inputs=unseal(data.get("inputs") or {}),
                outputs=unseal(data.get("outputs") or {}),
                protect=bool(data.get("protect", False)),
                retain_on_delete=bool(data.get("retain_on_delete", False)),
                additional_secret_outputs=[str(k) for k in data.get("additional_secret_outputs") or []],
                delete_before_replace=data.get("delete_before_replace"),
                ignore_changes=[str(k) for k in data.get("ignore_changes") or []],
                replace_on_changes=[str(k) for k in data.get("replace_on_changes") or []],
                import_id=str(data.get("import_id") or ""),
                external=bool(data.get("external", False)),
                delete=bool(data.get("delete", False)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"malformed resource in state file: {exc!r}") from exc


def urn_name(urn: str) -> str:
    """The name part of a URN ``urn:pulumi:<stack>::<project>::<qualified type>::<name>``."""
    parts = urn.split("::")
    return "::".join(parts[3:]) if len(parts) >= 4 else urn


def urn_qualified_type(urn: str) -> str:
    """The qualified type part of a URN (parent types joined with ``$``)."""
    parts = urn.split("::")
    return parts[2] if len(parts) >= 4 else ""


@dataclass
class StackState:
    """Everything the runner keeps between operations: resources in dependency order, and stack outputs."""

    project: str
    stack: str
    resources: list[ResourceState] = field(default_factory=list)

    @property
    def outputs(self) -> PropertyMap:
        """The root ``pulumi:pulumi:Stack`` resource's outputs (what ``pulumi stack output`` shows)."""
        for res in self.resources:
            if res.type == "pulumi:pulumi:Stack" and not res.parent and not res.delete:
                return res.outputs
        return {}


# --------------------------------------------------------------------------------------------------
# Encryption and the file itself
# --------------------------------------------------------------------------------------------------


def resolve_passphrase(passphrase: str | None, environ: Mapping[str, str]) -> str:
    """The passphrase from the argument, else ``PULUMI_CONFIG_PASSPHRASE``, else ``PULUMI_CONFIG_PASSPHRASE_FILE``.

    Mirrors the CLI's passphrase secrets provider, which refuses to run when neither variable is set.
    """
    if passphrase is not None:
        return passphrase
    if "PULUMI_CONFIG_PASSPHRASE" in environ:
        return environ["PULUMI_CONFIG_PASSPHRASE"]
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise PassphraseError(f"unable to read PULUMI_CONFIG_PASSPHRASE_FILE {path!r}: {exc}") from exc
    raise PassphraseError(
        "the state file's secrets are encrypted with a passphrase, and none was given: pass "
        "passphrase=... to StackRunner, or set the PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
        "environment variable"
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@functools.lru_cache(maxsize=16)
def _derive_key(passphrase: str, salt: bytes) -> bytes:
    # scrypt is deliberately slow (~0.1 s); a test process runs many operations on the same state file.
    return Scrypt(salt=salt, length=32, n=_KDF_N, r=_KDF_R, p=_KDF_P).derive(passphrase.encode("utf-8"))


class Crypter:
    """AES-256-GCM sealing of wire secrets under a scrypt-derived key."""

    def __init__(self, passphrase: str, salt: bytes) -> None:
        self.salt = salt
        self._aead = AESGCM(_derive_key(passphrase, salt))

    @classmethod
    def new(cls, passphrase: str) -> Crypter:
        """A crypter with a fresh random salt."""
        return cls(passphrase, os.urandom(16))

    def encrypt(self, plaintext: bytes) -> str:
        """``v1:<base64 nonce>:<base64 ciphertext+tag>``."""
        nonce = _secrets.token_bytes(12)
        return f"v1:{_b64(nonce)}:{_b64(self._aead.encrypt(nonce, plaintext, None))}"

    def decrypt(self, token: str) -> bytes:
        """Open a token made by :meth:`encrypt`; :class:`PassphraseError` if the key is wrong."""
        try:
            version, nonce, data = token.split(":")
            if version != "v1":
                raise ValueError(version)
            return self._aead.decrypt(_unb64(nonce), _unb64(data), None)
        except InvalidTag as exc:
            raise PassphraseError("incorrect passphrase: the state file's secrets cannot be decrypted") from exc
        except ValueError as exc:
            raise StateError(f"malformed ciphertext in state file: {exc}") from exc

    def seal(self, value: Any) -> Any:
        """Replace every secret in ``value`` by an encrypted envelope."""
        if is_secret(value):
            plaintext = json.dumps(value.get("value"), sort_keys=True).encode("utf-8")
            return {SIG_KEY: SECRET_SIG, "ciphertext": self.encrypt(plaintext)}
        if isinstance(value, dict):
            return {k: self.seal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.seal(v) for v in value]
        return value

    def unseal(self, value: Any) -> Any:
        """Open every encrypted envelope in ``value`` back into a (plain-text, in memory) wire secret."""
        if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
            if "ciphertext" not in value:
                raise StateError("state file holds a secret that is not encrypted")
            return make_secret(json.loads(self.decrypt(str(value["ciphertext"]))))
        if isinstance(value, dict):
            return {k: self.unseal(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unseal(v) for v in value]
        return value

    def provider_state(self) -> dict[str, Any]:
        """The ``secrets_providers`` block: salt, KDF parameters and an encrypted check value."""
        return {
            "type": "passphrase",
            "state": {
                "cipher": "AES-256-GCM",
                "kdf": {"name": "scrypt", "n": _KDF_N, "r": _KDF_R, "p": _KDF_P, "salt": _b64(self.salt)},
                "check": self.encrypt(_CHECK_PLAINTEXT),
            },
        }

    @classmethod
    def from_provider_state(cls, block: Mapping[str, Any], passphrase: str) -> Crypter:
        """Rebuild the crypter recorded in a state file, verifying the passphrase against its check value."""
        try:
            state = block["state"]
            kdf = state["kdf"]
            if block.get("type") != "passphrase" or kdf.get("name") != "scrypt":
                raise StateError(f"unsupported secrets provider in state file: {block.get('type')!r}")
            if (kdf.get("n"), kdf.get("r"), kdf.get("p")) != (_KDF_N, _KDF_R, _KDF_P):
                raise StateError("unsupported key-derivation parameters in state file")
            crypter = cls(passphrase, _unb64(str(kdf["salt"])))
            check = str(state["check"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"malformed secrets_providers block in state file: {exc!r}") from exc
        if crypter.decrypt(check) != _CHECK_PLAINTEXT:
            raise PassphraseError("incorrect passphrase: the state file's secrets cannot be decrypted")
        return crypter


class StateFile:
    """Load and save :class:`StackState` at ``path``: written atomically, never with a plaintext secret."""

    def __init__(self, path: Path, passphrase_source: Callable[[], str]) -> None:
        self.path = path
        self._passphrase_source = passphrase_source
        self._crypter: Crypter | None = None

    def _raw(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"{self.path} is not a StackRunner state file (version {STATE_VERSION})")
        return data

    def crypter(self) -> Crypter:
        """The file's crypter (created with a fresh salt for a new file)."""
        if self._crypter is None:
            passphrase = self._passphrase_source()
            raw = self._raw()
            block = raw.get("secrets_providers") if raw else None
            self._crypter = (Crypter.from_provider_state(block, passphrase) if block
                             else Crypter.new(passphrase))
        return self._crypter

    def load(self, project: str, stack: str) -> StackState:
        """The saved state, or an empty one when the file does not exist yet."""
        raw = self._raw()
        if raw is None:
            return StackState(project, stack)
        if raw.get("project") != project or raw.get("stack") != stack:
            raise StateError(
                f"{self.path} holds stack {raw.get('project')!r}/{raw.get('stack')!r}, "
                f"not {project!r}/{stack!r}"
            )
        crypter = self.crypter()
        return StackState(project, stack, [ResourceState.from_json(r, crypter.unseal)
                                           for r in raw.get("resources") or []])

    def save(self, state: StackState) -> None:
        """Write ``state`` (secrets sealed) atomically: a temporary file in the same directory, then rename."""
        crypter = self.crypter()
        data = {
            "version": STATE_VERSION,
            "kind": "pulumi_imburse.testing.StackRunner state (a testing tool, not a Pulumi checkpoint)",
            "project": state.project,
            "stack": state.stack,
            "secrets_providers": crypter.provider_state(),
            "resources": [r.to_json(crypter.seal) for r in state.resources],
            "outputs": crypter.seal(state.outputs),
        }
        text = json.dumps(data, indent=2, sort_keys=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def dependency_order(resources: Iterable[ResourceState]) -> list[ResourceState]:
    """``resources`` sorted so every resource comes after the ones it depends on (stable otherwise)."""
    items = list(resources)
    by_urn: dict[str, list[int]] = {}
    for i, res in enumerate(items):
        by_urn.setdefault(res.urn, []).append(i)
    done: set[int] = set()
    out: list[ResourceState] = []
    visiting: set[int] = set()

    def visit(i: int) -> None:
        if i in done or i in visiting:
            return
        visiting.add(i)
        for dep in sorted(items[i].all_dependencies()):
            for j in by_urn.get(dep, []):
                if j != i:
                    visit(j)
        visiting.discard(i)
        done.add(i)
        out.append(items[i])

    for i in range(len(items)):
        visit(i)
    return out
