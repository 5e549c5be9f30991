"""Each resource's shape, declared once: one row per property, read by everything that names a property.

A :class:`Prop` row holds a property's wire name (the API's camelCase, what the engine and the schema use), its
Python name, its type, what it means as an input and as an output, whether it is required, what a change of it
does, and whether it is secret. From these tables come the resource modules' name lists (``INPUTS``,
``OUTPUTS``, ``REPLACE_ON``, ``SECRET_OUTPUTS``, the Python names), the dynamic resources' constructor properties
and ``help()`` text (:func:`pulumi_imburse._base.document_init`), and the provider plugin's package schema
(:mod:`pulumi_imburse.plugin.schema`). The hand-written typed signatures (the ``*Args`` classes, the constructors'
overloads and the output annotations, there for type checkers) are held to these tables by
``tests/unit/test_shapes.py``.

Descriptions are written as docstrings are (Python names in double backquotes); the schema turns them into wire
names. ``python_note`` is what only the Python classes accept: it goes to ``help()``, never to the schema.

Adding an optional input to a key resource is one row here and its rule (:data:`pulumi_imburse.keys.rules.KEY_RULES`
for a rule every key resource shares), plus the typed lines the test asks for.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Mapping
from typing import Any, Final, Literal

from .stores import destination as _destination

Kind = Literal["input", "resource-name", "create-only", "output"]
"""``input``: declared by the user; ``resource-name``: an input the constructor sets to the resource name
(``namePrefix``); ``create-only``: an input read by the first create only (never diffed, never in the schema's
outputs); ``output``: set by the provider."""
Change = Literal["replace", "rotate", "update", "none"]
"""What a change of an input does: replace the resource, rotate its key in place, update it in place, nothing."""
Type = Literal["string", "integer", "roles", "string-map", "address", "destination"]
"""The schema types in use: a string, a whole number, a list of tenant roles, a map of strings, a tenant address, a
key's destination (:mod:`pulumi_imburse.stores.destination`)."""

REPLACE: Final = "replace"
ROTATE: Final = "rotate"
UPDATE: Final = "update"


@dataclasses.dataclass(frozen=True)
class Prop:
    """One property of a resource."""

    wire: str
    """The wire name (camelCase): what the engine, the state and the schema call it."""
    py: str
    """The Python name (snake_case): the ``*Args`` parameter and the resource's attribute."""
    type: Type
    """Its type in the schema."""
    kind: Kind = "input"
    input_type: str = ""
    """The Python annotation of the ``*Args`` parameter (inputs declared by the user)."""
    output_type: str = ""
    """The Python annotation of the resource's output attribute (``""``: not an output attribute)."""
    doc: str = ""
    """What the input does and what a change of it does (an input declared by the user)."""
    python_note: str = ""
    """What only the Python classes accept (``help()`` only)."""
    output_doc: str = ""
    """What the output holds."""
    required: bool = False
    """A required input (no default)."""
    default: Any = None
    """The default of an optional input."""
    change: Change = "update"
    secret: bool = False
    """Always a secret output."""
    always_set: bool = False
    """An output every resource of the type has (the schema's ``required``)."""

    @property
    def is_input(self) -> bool:
        """Whether the engine gets it as an input (declared, set by the constructor or read by the first create)."""
        return self.kind != "output"

    @property
    def declared(self) -> bool:
        """Whether the user declares it (an ``*Args`` parameter)."""
        return self.kind in ("input", "create-only")


@dataclasses.dataclass(frozen=True)
class Shape:
    """A resource's properties, in wire order; ``args`` is the ``*Args`` parameter order (Python names) when it
    differs from the rows' (required parameters come first in Python)."""

    rows: tuple[Prop, ...]
    args: tuple[str, ...] = ()
    extra_py_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Python names of nested fields (a tenant address's), translated like the top-level ones."""

    def inputs(self, *, create_only: bool = True) -> tuple[str, ...]:
        """The wire names of the inputs (with the create-only ones unless ``create_only=False``)."""
        return tuple(p.wire for p in self.rows if p.is_input and (create_only or p.kind != "create-only"))

    def create_only(self) -> tuple[str, ...]:
        """The inputs read by the first create only."""
        return tuple(p.wire for p in self.rows if p.kind == "create-only")

    def outputs(self) -> tuple[str, ...]:
        """Every property's wire name (what the state's outputs may hold)."""
        return tuple(p.wire for p in self.rows)

    def changes(self, change: Change) -> tuple[str, ...]:
        """The inputs whose change does ``change``."""
        return tuple(p.wire for p in self.rows if p.is_input and p.change == change)

    def secret_outputs(self) -> tuple[str, ...]:
        """The outputs that are always secret."""
        return tuple(p.wire for p in self.rows if p.secret)

    def always_set(self) -> tuple[str, ...]:
        """The outputs every resource of the type has."""
        return tuple(p.wire for p in self.rows if p.always_set)

    def py_names(self) -> dict[str, str]:
        """``{wire name: Python name}`` where they differ (nested fields included)."""
        return {**{p.wire: p.py for p in self.rows if p.wire != p.py}, **self.extra_py_names}

    def declared(self) -> tuple[Prop, ...]:
        """The inputs the user declares, in the ``*Args`` parameter order."""
        rows = {p.py: p for p in self.rows if p.declared}
        return tuple(rows[n] for n in self.args) if self.args else tuple(rows.values())

    def required_inputs(self) -> tuple[str, ...]:
        """The wire names of the required inputs, in the ``*Args`` parameter order."""
        return tuple(p.wire for p in self.declared() if p.required)

    def row(self, wire: str) -> Prop:
        """The row of ``wire``."""
        return next(p for p in self.rows if p.wire == wire)

    def props(self, args: Any, resource_name: str) -> dict[str, Any]:
        """The constructor's properties (Python names, as the SDK translates them): the declared inputs from
        ``args``, the resource name, and every output as ``None`` (so the SDK creates its attribute)."""
        return {p.py: getattr(args, p.py) if p.declared else resource_name if p.kind == "resource-name" else None
                for p in self.rows}

    def param_doc(self) -> str:
        """The ``:param`` lines of the ``*Args`` constructor, for ``help()``."""
        lines: list[str] = []
        for p in self.declared():
            text = f":param {p.py}: {p.doc}" + (f" {p.python_note}" if p.python_note else "")
            lines += textwrap.wrap(text, 110, subsequent_indent="    ", break_on_hyphens=False)
        return "\n".join(lines)


# ------------------------------------------------------------------ the key resources

_NAME_RESERVED: Final = ("Names of the form ``pulumi-pending-<32 hex digits>`` are reserved (a key being created "
                         "carries one).")
_KEY_OUTPUTS: Final = (
    Prop("accountId", "account_id", "string", kind="output", output_type="pulumi.Output[str]",
         output_doc="The account that owns the tenant.", always_set=True),
)
_WHERE: Final = ", ".join(f"``{f.py}``" for f in _destination.FIELDS if f.location)


def _destination_row(replaces: str) -> Prop:
    return Prop(
        "destination", "destination", "destination",
        input_type="pulumi.Input[Mapping[str, Any]] | None", output_type="pulumi.Output[dict[str, Any] | None]",
        doc="where the private key goes instead of the state: a secret store the application reads, e.g. "
            "``{type: vault-kv2, path: imburse/{tenantId}/{resourceName}}`` or ``{type: aws-secretsmanager, "
            "secret_id: ...}`` (the Destination fields). Every key is written there before its create or rotation "
            "returns; ``private_key`` is then empty and ``secret_reference``, ``secret_version`` and "
            "``private_key_fingerprint`` say where it is. Default: the provider's ``destination`` (stack config "
            f"``imburse:destination``), whose fields a key's own override; ``type: state`` opts out. A change of "
            f"where the secret is ({_WHERE}) {replaces}; other fields change in place.",
        python_note="In Python: a mapping with camelCase (``secretId``) or snake_case (``secret_id``) keys.",
        output_doc="The destination the key was delivered to, as resolved from its own and the provider's.")


_STORE_OUTPUTS: Final = (
    Prop("secretReference", "secret_reference", "string", kind="output", output_type="pulumi.Output[str | None]",
         output_doc="With a destination: the secret holding the private key (AWS: its ARN; Vault: its URL). "
                    "Unset without one."),
    Prop("secretVersion", "secret_version", "string", kind="output", output_type="pulumi.Output[str | None]",
         output_doc="With a destination: the store's version holding the current key (AWS: the version id, which is "
                    "the public key; Vault: the version number)."),
    Prop("privateKeyFingerprint", "private_key_fingerprint", "string", kind="output",
         output_type="pulumi.Output[str | None]",
         output_doc="With a destination: ``sha256:`` and 64 hex digits of the stored private key (tells keys apart, "
                    "reveals none). Empty once a refresh found the stored key deleted or overwritten: the next "
                    "update then makes a new key, unless the destination's ``on_loss`` is ``keep``."),
)

TENANT_KEY: Final = Shape((
    Prop("tenantId", "tenant_id", "string", input_type="pulumi.Input[str]", output_type="pulumi.Output[str]",
         required=True, change=REPLACE, always_set=True,
         doc="the tenant that owns the key (a GUID, any letter case: it is kept in the service's lower case). "
             "Changing it replaces the key. A value that is not a GUID fails Check without being shown (it may come "
             "from a secret).",
         output_doc="The owning tenant's id."),
    Prop("roles", "roles", "roles", input_type="pulumi.Input[Sequence[pulumi.Input[str]]]",
         output_type="pulumi.Output[list[str]]", required=True, always_set=True,
         doc="the key's tenant roles; order and duplicates do not matter. Changes in place.",
         output_doc="The key's roles, sorted."),
    Prop("name", "name", "string", input_type="pulumi.Input[str] | None", output_type="pulumi.Output[str]",
         always_set=True,
         doc="the key's name (at most 100 characters; names need not be unique); default: the resource name plus "
             "``-`` and 8 random hex digits, the resource name cut to its first 91 characters so the whole fits. "
             f"Changes in place. {_NAME_RESERVED} With ``adopt_public_key`` and no ``name``, the adopted key keeps "
             "its name, unmanaged.",
         output_doc="The key's name (generated from the resource name when not given)."),
    Prop("namePrefix", "name_prefix", "string", kind="resource-name", output_type="pulumi.Output[str]",
         change="none", output_doc="The prefix of a generated name (the resource name)."),
    Prop("keepers", "keepers", "string-map", input_type="pulumi.Input[Mapping[str, pulumi.Input[str]]] | None",
         output_type="pulumi.Output[dict[str, str] | None]", change=REPLACE,
         doc="arbitrary strings; any change replaces (rotates) the key.",
         output_doc="Values whose change rotates the key."),
    Prop("rotationDays", "rotation_days", "integer", input_type="pulumi.Input[int] | None",
         output_type="pulumi.Output[int | None]",
         doc="once the key is this many days old (by the service's ``createdAt``), the next update replaces it: a "
             "whole number from 1 to 36500 (100 years). ``pulumi refresh`` (or ``up --refresh``) reads the key's age.",
         output_doc="Maximum age in days before the next update rotates the key."),
    Prop("adoptPublicKey", "adopt_public_key", "string", kind="create-only", input_type="pulumi.Input[str] | None",
         output_type="pulumi.Output[str | None]", change="none",
         doc="the public key (a GUID) of an existing key in ``tenant_id`` to take over at the first create instead "
             "of creating one. Its roles (as a set) must equal ``roles`` and, when ``name`` is given, its name must "
             "equal ``name``; otherwise the create fails and nothing changes. Its private key is unknowable: "
             "``private_key`` is ``\"\"`` until a rotation (change ``keepers``) makes a key whose private key Pulumi "
             "knows. A create-time instruction: changing or removing it later changes nothing.",
         output_doc="The existing key this resource was declared to adopt at its first create, if any."),
    _destination_row("replaces the key (a new key, delivered there, then the old one revoked and taken out of "
                     "the old secret)"),
    *_KEY_OUTPUTS,
    Prop("publicKey", "public_key", "string", kind="output", output_type="pulumi.Output[str]",
         output_doc="The key's public key.", always_set=True),
    Prop("privateKey", "private_key", "string", kind="output", output_type="pulumi.Output[str]", secret=True,
         always_set=True,
         output_doc="The key's private key (secret). Empty for an adopted key, whose private key is unknowable, "
                    "and for a key with a ``destination``, whose private key is only in the store."),
    Prop("createdAt", "created_at", "string", kind="output", output_type="pulumi.Output[str]", always_set=True,
         output_doc="When the service created the key (ISO 8601, UTC); ``rotation_days`` counts from it."),
    *_STORE_OUTPUTS,
), extra_py_names=_destination.PY_NAMES)
"""``TenantKey`` (:mod:`pulumi_imburse.tenant_key`)."""

ROTATING_KEY: Final = Shape((
    Prop("tenantId", "tenant_id", "string", input_type="pulumi.Input[str]", output_type="pulumi.Output[str]",
         required=True, change=REPLACE, always_set=True,
         doc="the tenant that owns the keys (a GUID, any letter case: it is kept in the service's lower case). "
             "Changing it replaces the resource: new keys in the new tenant, then both old keys revoked.",
         output_doc="The owning tenant's id."),
    Prop("roles", "roles", "roles", input_type="pulumi.Input[Sequence[pulumi.Input[str]]]",
         output_type="pulumi.Output[list[str]]", required=True, always_set=True,
         doc="the keys' tenant roles; order and duplicates do not matter. Changes in place, on the previous key too.",
         output_doc="The keys' roles, sorted."),
    Prop("name", "name", "string", input_type="pulumi.Input[str] | None", output_type="pulumi.Output[str]",
         always_set=True,
         doc="the keys' name (at most 100 characters; names need not be unique); default: the resource name plus "
             "``-`` and 8 random hex digits, the resource name cut to its first 91 characters so the whole fits. "
             f"Both keys carry it. Changes in place. {_NAME_RESERVED}",
         output_doc="The keys' name (generated from the resource name when not given)."),
    Prop("namePrefix", "name_prefix", "string", kind="resource-name", output_type="pulumi.Output[str]",
         change="none", output_doc="The prefix of a generated name (the resource name)."),
    Prop("keepers", "keepers", "string-map", input_type="pulumi.Input[Mapping[str, pulumi.Input[str]]] | None",
         output_type="pulumi.Output[dict[str, str] | None]", change=ROTATE,
         doc="arbitrary strings; any change rotates the key in place, at once (a previous key still in its grace "
             "period is revoked first).",
         output_doc="Values whose change rotates the key."),
    Prop("rotationDays", "rotation_days", "integer", input_type="pulumi.Input[int] | None",
         output_type="pulumi.Output[int | None]",
         doc="once the current key is this many days old (by the service's ``createdAt``), the next update rotates "
             "it in place: a new current key, the old one kept as the previous key for ``grace_days``. A whole "
             "number from 1 to 36500; ``pulumi refresh`` (or ``up --refresh``) reads the key's age.",
         output_doc="Age in days of the current key at which the next update rotates it."),
    Prop("graceDays", "grace_days", "integer", input_type="pulumi.Input[int]", output_type="pulumi.Output[int]",
         required=True, always_set=True,
         doc="how long the previous key keeps working after a rotation, counted from the new key's ``createdAt``: "
             "a whole number of days from 0 to 36500, less than ``rotation_days``. The first update after that "
             "revokes it. 0 keeps it until the next update. Changes in place.",
         output_doc="Days the previous key keeps working after a rotation, counted from the current key's "
                    "``created_at``."),
    _destination_row("rotates the key in place (a new current key in the new secret; the previous key, if any, is "
                     "revoked and the old secret's versions taken out)"),
    *_KEY_OUTPUTS,
    Prop("publicKey", "public_key", "string", kind="output", output_type="pulumi.Output[str]", always_set=True,
         output_doc="The current key's public key (empty once a refresh found it revoked outside Pulumi, until the "
                    "next update makes a new one)."),
    Prop("privateKey", "private_key", "string", kind="output", output_type="pulumi.Output[str]", secret=True,
         always_set=True, output_doc="The current key's private key (secret); empty with a ``destination``, whose "
                                     "store holds it."),
    Prop("createdAt", "created_at", "string", kind="output", output_type="pulumi.Output[str]", always_set=True,
         output_doc="When the service created the current key (ISO 8601, UTC); ``rotation_days`` and ``grace_days`` "
                    "count from it."),
    Prop("previousPublicKey", "previous_public_key", "string", kind="output",
         output_type="pulumi.Output[str | None]",
         output_doc="The previous key's public key while it is kept after a rotation; unset otherwise."),
    Prop("previousPrivateKey", "previous_private_key", "string", kind="output",
         output_type="pulumi.Output[str | None]", secret=True,
         output_doc="The previous key's private key (secret) while it is kept; unset otherwise, and empty with a "
                    "``destination``."),
    Prop("previousExpiresAt", "previous_expires_at", "string", kind="output", output_type="pulumi.Output[str | None]",
         output_doc="When the previous key's grace period ends (ISO 8601, UTC): the first update after it revokes "
                    "the key."),
    *_STORE_OUTPUTS,
    Prop("previousSecretVersion", "previous_secret_version", "string", kind="output",
         output_type="pulumi.Output[str | None]",
         output_doc="With a destination: the store's version holding the previous key while it is kept (AWS: "
                    "staged ``AWSPREVIOUS``; Vault: named in the secret's metadata); unset otherwise."),
), args=("tenant_id", "roles", "grace_days", "rotation_days", "keepers", "name", "destination"),
   extra_py_names=_destination.PY_NAMES)
"""``RotatingTenantKey`` (:mod:`pulumi_imburse.rotating_key`)."""


# ------------------------------------------------------------------ the tenant

TENANT: Final = Shape((
    Prop("name", "name", "string", input_type="pulumi.Input[str]", output_type="pulumi.Output[str]", required=True,
         always_set=True, doc="the tenant's name. Changes in place.", output_doc="The tenant's name."),
    Prop("address", "address", "address",
         input_type="TenantAddressArgs | pulumi.Input[Mapping[str, pulumi.Input[str]]] | None",
         output_type="pulumi.Output[dict[str, str]]", always_set=True,
         doc="the tenant's postal address; fields not given are empty. Changes in place.",
         python_note="In Python: a :class:`TenantAddressArgs`, or a mapping with the API's camelCase "
                     "(``streetAddress``) or snake_case (``street_address``) keys.",
         output_doc="The tenant's address (keys ``street_address``, ``extended_street_address``, ``locality``, "
                    "``region``, ``post_code``, ``country``)."),
    Prop("adoptTenantId", "adopt_tenant_id", "string", kind="create-only", input_type="pulumi.Input[str] | None",
         output_type="pulumi.Output[str | None]", change="none",
         doc="the id (a GUID) of an existing tenant to take over at the first create instead of creating one. Its "
             "name must equal ``name`` and its address must equal ``address`` (fields not given are empty); "
             "otherwise the create fails and nothing changes. A create-time instruction: changing or removing it "
             "later changes nothing.",
         output_doc="The existing tenant this resource was declared to adopt at its first create, if any."),
    Prop("tenantId", "tenant_id", "string", kind="output", output_type="pulumi.Output[str]", always_set=True,
         output_doc="The tenant's id (a GUID)."),
    Prop("accountId", "account_id", "string", kind="output", output_type="pulumi.Output[str]", always_set=True,
         output_doc="The account that holds the tenant."),
), extra_py_names={"streetAddress": "street_address", "extendedStreetAddress": "extended_street_address",
                   "postCode": "post_code"})
"""``Tenant`` (:mod:`pulumi_imburse.tenant`)."""


# ------------------------------------------------------------------ the names a message uses

Face = Literal["wire", "python"]
"""How the user's language names properties: ``wire`` (the plugin's: Pulumi YAML, TypeScript, Go, the Python SDK's
schema names in the engine's messages) or ``python`` (the dynamic resources' snake_case)."""

PY_NAMES: Final = {**TENANT.py_names(), **TENANT_KEY.py_names(), **ROTATING_KEY.py_names()}
"""``{wire name: Python name}`` of every property whose names differ, from the tables above."""
_WIRE_NAMES: Final = {py: wire for wire, py in PY_NAMES.items()}
_QUOTED: Final = r"(?<!\w)'[^'\n]*'|(?<!\w)\"[^\"\n]*\""
"""A quoted value in a message (a user's string, never renamed); an apostrophe inside a word starts none."""
_SPELLINGS: Final = {
    face: re.compile(rf"{_QUOTED}|\b({'|'.join(sorted(names, key=len, reverse=True))})\b")
    for face, names in (("python", PY_NAMES), ("wire", _WIRE_NAMES))}


def spell(text: str, face: Face) -> str:
    """``text`` with every property named as ``face`` names it (``rotationDays`` / ``rotation_days``), wherever it
    was written with the other spelling; quoted values are left as they are. Messages are written with either
    spelling; each face (the plugin, the dynamic resources) renders its own, from the tables above."""
    names = PY_NAMES if face == "python" else _WIRE_NAMES
    return _SPELLINGS[face].sub(lambda m: names[m.group(1)] if m.group(1) else m.group(0), text)
