"""``TenantKey``: an Imburse tenant API key managed by Pulumi.

Replacement (a new key, then the old one revoked) is forced by a change of ``tenantId`` or
``keepers``, or by ``rotationDays`` running out (counted from the service's ``createdAt``).
``name`` and ``roles`` change in place. ``adoptPublicKey`` takes over an existing key at the first
create instead of making one; changing or removing it later changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from ._adopt import AdoptionError, AdoptionLedger, check_adopt_id, differences, refuse
from ._base import (
    UNKNOWN,
    ImburseProvider,
    WireNames,
    declared_inputs,
    failures,
    is_unknown,
    split_args,
    strip_provider,
    with_secret_outputs,
)
from .errors import NotFoundError, OutcomeUnknownError
from .models import ApiKey
from .roles import normalize_roles
from .validation import Problem, check_guid, check_name, check_tenant_roles, check_unknown

log = logging.getLogger(__name__)

TYPE_TOKEN: Final = "pulumi-python:dynamic/imburse:TenantKey"

INPUTS: Final = ("tenantId", "roles", "name", "namePrefix", "keepers", "rotationDays", "adoptPublicKey")
OUTPUTS: Final = (*INPUTS, "accountId", "publicKey", "privateKey", "createdAt")
CREATE_ONLY: Final = ("adoptPublicKey",)
"""Inputs read by the first create only: never diffed, never in the outputs."""
REPLACE_ON: Final = ("tenantId", "keepers")
SECRET_OUTPUTS: Final = ("privateKey",)

_PY_NAMES: Final = {
    "tenantId": "tenant_id",
    "namePrefix": "name_prefix",
    "rotationDays": "rotation_days",
    "accountId": "account_id",
    "publicKey": "public_key",
    "privateKey": "private_key",
    "createdAt": "created_at",
    "adoptPublicKey": "adopt_public_key",
}

AUTONAME_SUFFIX_BYTES: Final = 4
RECONCILE_ATTEMPTS: Final = 8
"""Creates tried when the outcome is unknown, each after revoking what the previous one may have made.
At the 30% refused + 10% commit-then-504 rate CI sees, an attempt ends unknown ~21% of the time: 3
attempts lost 1 key in 100 (a 64-key apply failed about half the time), 8 lose fewer than 1 in 250,000."""
RECONCILE_WINDOW_SECONDS: Final = 600.0
"""An explicitly named key created this recently by the service may be the outcome of our request."""

_ADOPTIONS: Final = AdoptionLedger()


class TenantKeyArgs:
    """The inputs of a :class:`TenantKey`."""

    def __init__(
        self,
        tenant_id: pulumi.Input[str],
        roles: pulumi.Input[Sequence[pulumi.Input[str]]],
        name: pulumi.Input[str] | None = None,
        keepers: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        rotation_days: pulumi.Input[int] | None = None,
        adopt_public_key: pulumi.Input[str] | None = None,
    ) -> None:
        """
        :param tenant_id: the tenant that owns the key (a GUID). Changing it replaces the key.
        :param roles: the key's tenant roles; order and duplicates do not matter. Changes in place.
        :param name: the key's name; default: the resource name plus a random suffix. Changes in place.
            With ``adopt_public_key`` and no ``name``, the adopted key keeps its name, unmanaged.
        :param keepers: arbitrary strings; any change replaces (rotates) the key.
        :param rotation_days: once the key is this many days old (by the service's ``createdAt``), the
            next update replaces it. ``pulumi refresh`` (or ``up --refresh``) reads the key's age.
        :param adopt_public_key: the public key (a GUID) of an existing key in ``tenant_id`` to take over
            at the first create instead of creating one. Its roles (as a set) must equal ``roles`` and,
            when ``name`` is given, its name must equal ``name``; otherwise the create fails and nothing
            changes. Its private key is unknowable: ``private_key`` is ``""`` until a rotation (change
            ``keepers``) makes a key whose private key Pulumi knows. A create-time instruction: changing or
            removing it later changes nothing.
        """
        self.tenant_id = tenant_id
        self.roles = roles
        self.name = name
        self.keepers = keepers
        self.rotation_days = rotation_days
        self.adopt_public_key = adopt_public_key


class TenantKey(WireNames, Resource, module="imburse", name="TenantKey"):
    """An Imburse tenant API key (a ``publicKey``/``privateKey`` pair with roles).

    ``private_key`` is always a secret output: it is shown once by the service, kept encrypted in
    state, and never printed. Replacement is create-before-delete unless ``delete_before_replace``
    is set, so a rotation never leaves dependents without a working key.

    Both forms work::

        TenantKey("ci", TenantKeyArgs(tenant_id=tid, roles=["tenant-app-read"]))
        TenantKey("ci", tenant_id=tid, roles=["tenant-app-read"], opts=pulumi.ResourceOptions(...))

    The resource id is ``{tenantId}/{publicKey}``. To take over an existing key, declare it as it is
    with ``adopt_public_key="<publicKey>"``: the first create reads it instead of creating one (and
    refuses, changing nothing, if its roles or name differ). After that it is managed like any other
    key: roles and name change in place, a rotation makes a new key and revokes the adopted one, and
    destroy revokes it. The ``import_`` resource option does not work for dynamic resources (the
    engine's import calls Read without the provider, pulumi/pulumi#16175); use ``adopt_public_key``.
    """

    _py_names = _PY_NAMES

    tenant_id: pulumi.Output[str]
    """The owning tenant's id."""
    roles: pulumi.Output[list[str]]
    """The key's roles, sorted."""
    name: pulumi.Output[str]
    """The key's name (generated from the resource name when not given)."""
    name_prefix: pulumi.Output[str]
    """The prefix of a generated name (the resource name)."""
    keepers: pulumi.Output[dict[str, str] | None]
    """Values whose change rotates the key."""
    rotation_days: pulumi.Output[int | None]
    """Maximum age in days before the next update rotates the key."""
    account_id: pulumi.Output[str]
    """The account that owns the tenant."""
    public_key: pulumi.Output[str]
    """The key's public key."""
    private_key: pulumi.Output[str]
    """The key's private key (secret). Empty for an adopted key, whose private key is unknowable."""
    created_at: pulumi.Output[str]
    """When the service created the key (ISO 8601, UTC); ``rotation_days`` counts from it."""
    adopt_public_key: pulumi.Output[str | None]
    """The existing key this resource was declared to adopt at its first create, if any."""

    @overload
    def __init__(self, resource_name: str, args: TenantKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ...

    @overload
    def __init__(
        self,
        resource_name: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        tenant_id: pulumi.Input[str],
        roles: pulumi.Input[Sequence[pulumi.Input[str]]],
        name: pulumi.Input[str] | None = None,
        keepers: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        rotation_days: pulumi.Input[int] | None = None,
        adopt_public_key: pulumi.Input[str] | None = None,
    ) -> None:
        ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        args_obj, opts = split_args(TenantKeyArgs, args, kwargs)
        # Keys are the Python names; translate_input_property gives the engine the wire names.
        props: dict[str, Any] = {
            "tenant_id": args_obj.tenant_id,
            "roles": args_obj.roles,
            "name": args_obj.name,
            "name_prefix": resource_name,
            "keepers": args_obj.keepers,
            "rotation_days": args_obj.rotation_days,
            "adopt_public_key": args_obj.adopt_public_key,
        }
        for out in OUTPUTS:
            props.setdefault(_PY_NAMES.get(out, out), None)
        super().__init__(TenantKeyProvider(), resource_name, props, with_secret_outputs(opts, SECRET_OUTPUTS))



class TenantKeyProvider(ImburseProvider):
    """The dynamic provider behind :class:`TenantKey`. Check and Diff make no API calls."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = declared_inputs(news, INPUTS, OUTPUTS)
        problems = check_unknown(inputs, INPUTS)
        problems += _check_known("tenantId", inputs.get("tenantId"), check_guid)
        problems += _check_known("roles", inputs.get("roles"), check_tenant_roles)
        problems += _check_known("name", inputs.get("name"), check_name)
        problems += _check_known("namePrefix", inputs.get("namePrefix"), check_name)
        problems += _check_rotation_days(inputs.get("rotationDays"))
        problems += _check_keepers(inputs.get("keepers"))
        problems += _check_known("adoptPublicKey", inputs.get("adoptPublicKey"), check_adopt_id)
        if not problems:
            if isinstance(inputs.get("roles"), list) and not is_unknown(inputs["roles"]):
                inputs["roles"] = normalize_roles(inputs["roles"])
            for k in ("keepers", "rotationDays", "adoptPublicKey"):
                if inputs.get(k) is None:
                    inputs.pop(k, None)
            if inputs.get("name") is None:
                inputs.pop("name", None)
                if "adoptPublicKey" not in inputs:
                    inputs["name"] = _autoname(_olds, inputs)
                # else: the adopted key keeps its name, which this resource does not manage.
            if _olds:
                _mark_existing(inputs)  # Check with old inputs: the resource exists (see _adopt)
        return CheckResult(inputs, failures(problems))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the prior outputs, `news` the checked inputs (the engine's Diff contract).
        # adoptPublicKey (CREATE_ONLY) is never compared: it mattered at the first create only.
        _mark_existing(news)
        replaces = [k for k in REPLACE_ON if _changed(olds.get(k), news.get(k))]
        if "rotationDays" not in replaces and _rotation_due(olds.get("createdAt"), news.get("rotationDays")):
            replaces.append("rotationDays")
        updates = [
            k for k in ("name", "rotationDays")
            # No name in the inputs: an adopted key's name, not managed.
            if (k != "name" or "name" in news) and _changed(olds.get(k), news.get(k))
        ]
        if _changed(_roles_key(olds.get("roles")), _roles_key(news.get("roles"))):
            updates.append("roles")
        # Replacement order is left to the engine: create-before-delete unless the resource
        # option delete_before_replace is set.
        return DiffResult(changes=bool(replaces or updates), replaces=replaces)

    def create(self, props: dict[str, Any]) -> CreateResult:
        tenant_id = str(props["tenantId"])
        roles = list(props["roles"])
        adopt = props.get("adoptPublicKey")
        if adopt and not _ADOPTIONS.exists(_adoption(props)):
            return self._adopt(tenant_id, str(adopt), props)
        # A name-less adopted declaration being replaced (a rotation) gets a generated name.
        name = str(props.get("name") or _autoname({}, props))
        key = self._create_reconciled(tenant_id, roles, name, autonamed=_is_autoname({**props, "name": name}))
        return CreateResult(f"{tenant_id}/{key.public_key}", _outputs({**props, "name": name}, key,
                                                                       key.private_key or ""))

    def _adopt(self, tenant_id: str, public_key: str, props: dict[str, Any]) -> CreateResult:
        """Take over an existing key: read it, refuse (with no write) if it differs from the declaration."""
        what = f"key {public_key} of tenant {tenant_id}"
        try:
            key = self.client.get_key(tenant_id, public_key)
        except NotFoundError as exc:
            raise AdoptionError(
                f"cannot adopt {what}: it does not exist ({exc}). Check tenant_id and adopt_public_key, or "
                "remove adopt_public_key to create a new key.") from None
        diffs = differences([("roles", normalize_roles(list(key.roles)), normalize_roles(list(props["roles"])))])
        if props.get("name") is not None:
            diffs += differences([("name", key.name, props["name"])])
        if diffs:
            raise refuse(what, diffs, "Declare the key as it is (change it after adopting it), or adopt another.")
        _ADOPTIONS.record_adopted((tenant_id.lower(), key.public_key.lower()))
        pulumi.log.warn(
            f"TenantKey {key.name!r} ({tenant_id}/{key.public_key}) adopted. Imburse never returns a private key "
            "after creation, so this key's private_key output is empty. To get a key whose private key Pulumi "
            "knows, rotate it: change its keepers (the new key replaces it and the adopted key is revoked)."
        )
        return CreateResult(f"{tenant_id}/{key.public_key}", _outputs(props, key, ""))

    def _create_reconciled(self, tenant_id: str, roles: list[str], name: str, *, autonamed: bool) -> ApiKey:
        """Create a key; if the outcome is unknown, revoke whatever that attempt made and try again.

        An auto-generated name is unique, so every key carrying it is ours. For an explicit name only
        keys the service created within the last ``RECONCILE_WINDOW_SECONDS`` are taken as ours.
        """
        client = self.client
        last: OutcomeUnknownError | None = None
        for _attempt in range(RECONCILE_ATTEMPTS):
            started = time.time()
            try:
                return client.create_key(tenant_id, roles, name)
            except OutcomeUnknownError as exc:
                last = exc
                log.info("create of key %r: outcome unknown (%s); reconciling", name, exc.status)
            for orphan in client.list_keys(tenant_id):
                if orphan.name == name and (autonamed or _created_since(orphan, started - RECONCILE_WINDOW_SECONDS)):
                    try:
                        client.delete_key(tenant_id, orphan.public_key)
                    except NotFoundError:
                        pass
        assert last is not None
        raise last

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        tenant_id, public_key = _parse_id(id_)
        try:
            key = self.client.get_key(tenant_id, public_key)
        except NotFoundError:
            return ReadResult("", {})  # gone from the service: the engine drops the resource
        prior = strip_provider(props)
        private_key = prior.get("privateKey")
        if "publicKey" not in prior:
            # An import (no prior outputs, at most the declared inputs): its secret is unknowable. Say so,
            # clearly. A refresh of an adopted key ("" too) was told at adoption and is not told again.
            pulumi.log.warn(
                f"TenantKey {id_}: the private key of an existing key cannot be read from Imburse; "
                "the private_key output of an imported key stays empty. Rotate it (change keepers) "
                "to get a key whose private key Pulumi knows."
            )
        outs = _outputs(prior, key, str(private_key or ""))
        # The service's createdAt is the truth (rotationDays counts from it): _outputs prefers it.
        # Inputs as the service now has them (the engine needs them to import, and refresh records
        # drift in them); provider-side inputs (namePrefix, keepers, rotationDays) carry over.
        inputs = {k: outs[k] for k in INPUTS if outs.get(k) is not None}
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        tenant_id, public_key = _parse_id(id_)
        name = news.get("name")  # None: an adopted key's unmanaged name, which the service keeps
        if (name is not None and _changed(olds.get("name"), name)) or _changed(
            _roles_key(olds.get("roles")), _roles_key(news.get("roles"))
        ):
            key = self.client.update_key(tenant_id, public_key, list(news["roles"]),
                                         None if name is None else str(name))
        else:
            key = ApiKey(
                account_id=str(olds.get("accountId") or ""),
                tenant_id=tenant_id,
                name=str(olds.get("name") or ""),
                public_key=public_key,
                roles=tuple(olds.get("roles") or ()),
                created_at=olds.get("createdAt"),
            )
        outs = _outputs(news, key, str(olds.get("privateKey") or ""))
        outs["createdAt"] = key.created_at or olds.get("createdAt") or outs["createdAt"]
        return UpdateResult(outs)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        tenant_id, public_key = _parse_id(id_)
        if _ADOPTIONS.adopted_here((tenant_id.lower(), public_key.lower())):
            # This update adopted the same key for a resource that replaces this one (`pulumi up
            # --replace` while adopt_public_key still names it) or another resource: it lives on there.
            pulumi.log.warn(
                f"TenantKey {id_}: not revoked, because this update adopted it again for the resource "
                "that replaces it (adopt_public_key still names it). It stays live and managed. To rotate "
                "an adopted key, change its keepers.")
            return
        try:
            self.client.delete_key(tenant_id, public_key)
        except NotFoundError:
            pass  # already revoked: the goal is met


# ------------------------------------------------------------------ helpers

def _check_known(prop: str, value: Any, rule: Callable[[str, Any], list[Problem]]) -> list[Problem]:
    """Apply ``rule`` unless the value is not known yet (preview): the engine checks again at apply."""
    return [] if is_unknown(value) else rule(prop, value)


def _adoption(props: Mapping[str, Any]) -> tuple[str, str]:
    """The ledger's name for a declaration that adopts a key: resource name and adopted public key."""
    return str(props.get("namePrefix")), str(props.get("adoptPublicKey")).lower()


def _mark_existing(inputs: Mapping[str, Any]) -> None:
    """The resource declared by ``inputs`` exists: a later create of it must not adopt its key again."""
    adopt = inputs.get("adoptPublicKey")
    if isinstance(adopt, str) and not is_unknown(adopt) and not is_unknown(inputs.get("namePrefix")):
        _ADOPTIONS.mark_existing(_adoption(inputs))


def _check_rotation_days(value: Any) -> list[Problem]:
    if value is None or is_unknown(value):
        return []
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value <= 0:
        return [Problem("rotationDays", f"rotationDays must be a positive whole number of days, got {value!r}")]
    return []


def _check_keepers(value: Any) -> list[Problem]:
    if value is None or is_unknown(value):
        return []
    if not isinstance(value, Mapping):
        return [Problem("keepers", f"keepers must be a map of strings, got {type(value).__name__}")]
    return [
        Problem("keepers", f"keepers[{k!r}] must be a string, got {type(v).__name__}")
        for k, v in value.items()
        if not isinstance(v, str)
    ]


def _autoname(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str:
    """Pulumi-style auto-naming: keep the prior generated name, or make ``<resource name>-<random>``.

    On a replacement the engine calls Check again without olds, so the new key gets a new name.
    """
    prefix = news.get("namePrefix")
    old_name = olds.get("name")
    if isinstance(old_name, str) and isinstance(prefix, str) and _is_autoname({"name": old_name, "namePrefix": prefix}):
        return old_name
    if is_unknown(prefix) or not isinstance(prefix, str):
        return UNKNOWN
    return f"{prefix}-{secrets.token_hex(AUTONAME_SUFFIX_BYTES)}"


def _is_autoname(props: Mapping[str, Any]) -> bool:
    name, prefix = props.get("name"), props.get("namePrefix")
    if not isinstance(name, str) or not isinstance(prefix, str) or not name.startswith(prefix + "-"):
        return False
    suffix = name[len(prefix) + 1:]
    return len(suffix) == 2 * AUTONAME_SUFFIX_BYTES and all(c in "0123456789abcdef" for c in suffix)


def _changed(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return (old or None) != (new or None)


def _roles_key(roles: Any) -> Any:
    if isinstance(roles, (list, tuple)) and not is_unknown(roles):
        return normalize_roles(list(roles))
    return roles


def _parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` or offset; naive means UTC), or ``None`` if it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def _rotation_due(created_at: Any, rotation_days: Any) -> bool:
    if not created_at or rotation_days is None or is_unknown(rotation_days):
        return False
    created = _parse_time(created_at)
    return created is not None and dt.datetime.now(dt.timezone.utc) >= created + dt.timedelta(days=float(rotation_days))


def _created_since(key: ApiKey, since: float) -> bool:
    created = _parse_time(key.created_at) if key.created_at else None
    return created is None or created.timestamp() >= since


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _outputs(inputs: Mapping[str, Any], key: ApiKey, private_key: str) -> dict[str, Any]:
    outs = {k: v for k, v in inputs.items() if k in INPUTS and k not in CREATE_ONLY and v is not None}
    outs.update(
        tenantId=key.tenant_id or inputs.get("tenantId"),
        name=key.name,
        roles=normalize_roles(list(key.roles)),
        accountId=key.account_id,
        publicKey=key.public_key,
        privateKey=private_key,
        createdAt=key.created_at or inputs.get("createdAt") or _now_iso(),
    )
    return outs


def _parse_id(id_: str) -> tuple[str, str]:
    tenant_id, sep, public_key = id_.partition("/")
    if not sep or not tenant_id or not public_key:
        raise ValueError(f"a TenantKey id has the form <tenantId>/<publicKey>, got {id_!r}")
    return tenant_id, public_key
