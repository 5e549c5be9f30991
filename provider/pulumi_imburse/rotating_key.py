"""``RotatingTenantKey``: a tenant API key that rotates without downtime (a grace period for the previous key).

A :class:`~pulumi_imburse.TenantKey` rotation is a replacement: the new key is created and the old one revoked
in the same ``pulumi up``, so an application still holding the old key fails until it picks up the new one. A
``RotatingTenantKey`` holds two slots instead, the *current* key and the *previous* one:

- **Rotation** (``rotation_days`` since the current key's ``createdAt``, or a ``keepers`` change) is one
  in-place update: it creates a new key first, then keeps the old current key, working, as the previous one.
  Both keys, and both private keys (secret), are outputs; ``previous_expires_at`` says when the previous one
  stops working: the current key's ``createdAt`` plus ``grace_days``.
- **Grace over**: the first update after ``previous_expires_at`` revokes the previous key.
- Every time decision counts from the ``createdAt`` the service returns for the current key, read again by
  every ``pulumi refresh`` (or ``preview --refresh``, ``up --refresh``): without a refresh the state holds the
  age the key had when Pulumi last read it. Nothing happens unless something runs the stack: run
  ``pulumi up --refresh`` on a schedule (daily).

Timeline for ``rotation_days=90, grace_days=7`` and a daily ``pulumi up --refresh``::

    day 0    key A created                      current A
    day 90   rotation due: key B created        current B, previous A (expires day 97)
    day 97   grace over: A revoked              current B
    day 180  rotation due: key C created        current C, previous B (expires day 187) ...

If no run happens for a while, the previous key keeps working past ``previous_expires_at`` until the next
run revokes it; a run that finds the rotation due and the grace over does both (revokes the previous key,
then makes a new one). ``grace_days`` must be less than ``rotation_days``, so a scheduled rotation never cuts a
grace period short. A ``keepers`` change always rotates at once: if a previous key is still in its grace
period then, it is revoked first (a warning says so), since a resource holds two keys at most.

**No orphan.** An update does what may fail and can be retried first: it revokes the previous key (already
revoked is fine), then changes roles and name of the keys it keeps, and only then creates the new key, through
:func:`~pulumi_imburse.tenant_key.create_key` (a create only ever revokes a key it made: a provisional name,
then the rename). So a failed run leaves the state as it was (at most it names a previous key that is already
revoked, which a refresh drops), and the next run converges from it. A provider killed while creating leaves a
provisionally named key that no state holds, revoked by a later create in the tenant as ``TenantKey``
describes. ``pulumi refresh`` notices either key revoked outside Pulumi: a gone previous key is dropped; a
gone current key leaves ``public_key`` empty and the next update makes a new one, keeping the previous key
(whose grace period then counts from the new key). Destroy revokes both.

The resource id is ``<tenantId>/<series id>``: a random id fixed for the resource's life (an update cannot change
an id, and the keys change). The keys are in the outputs. Import is not supported (a rotating key's state is
more than one key); declare it and let it create its first key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from ._base import (
    ImburseProvider,
    WireNames,
    declared_inputs,
    document_init,
    failures,
    is_unknown,
    split_args,
    strip_provider,
    with_secret_outputs,
)
from .client import ImburseClient
from .errors import ImburseError, NotFoundError
from .models import ApiKey
from .roles import normalize_roles
from .tenant_key import (
    _autoname,
    _changed,
    _check_known,
    _id_key,
    _roles_key,
    create_key,
    days_after,
    key_problems,
    normalize_key_inputs,
    read_key,
    revoke_key,
    rotation_due,
)
from .validation import Problem, check_grace_days, check_rotation_days, check_unknown

TYPE_TOKEN: Final = "pulumi-python:dynamic/imburse:RotatingTenantKey"

INPUTS: Final = ("tenantId", "roles", "name", "namePrefix", "keepers", "rotationDays", "graceDays")
PREVIOUS: Final = ("previousPublicKey", "previousPrivateKey", "previousExpiresAt")
"""The previous key's outputs, present only while a previous key is in (or past) its grace period."""
OUTPUTS: Final = (*INPUTS, "accountId", "publicKey", "privateKey", "createdAt", *PREVIOUS)
REPLACE_ON: Final = ("tenantId",)
"""Inputs whose change replaces the resource (a new resource, then the old one's keys revoked)."""
ROTATE_ON: Final = ("keepers",)
"""Inputs whose change rotates the key in place (a new current key; the old one kept as the previous)."""
SECRET_OUTPUTS: Final = ("privateKey", "previousPrivateKey")

_PY_NAMES: Final = {
    "tenantId": "tenant_id",
    "namePrefix": "name_prefix",
    "rotationDays": "rotation_days",
    "graceDays": "grace_days",
    "accountId": "account_id",
    "publicKey": "public_key",
    "privateKey": "private_key",
    "createdAt": "created_at",
    "previousPublicKey": "previous_public_key",
    "previousPrivateKey": "previous_private_key",
    "previousExpiresAt": "previous_expires_at",
}


# ------------------------------------------------------------------ the time rules (pure)

def previous_expires_at(created_at: Any, grace_days: Any) -> dt.datetime | None:
    """When a previous key stops being kept: ``grace_days`` after the current key's ``created_at``."""
    return days_after(created_at, grace_days)


def grace_over(created_at: Any, grace_days: Any, *, now: dt.datetime) -> bool:
    """Whether the grace period of the key the current one (created at ``created_at``) replaced is over at
    ``now``. Unknown or missing values: not over (a previous key is never revoked on a guess)."""
    ends = previous_expires_at(created_at, grace_days)
    return ends is not None and now >= ends


@dataclasses.dataclass(frozen=True)
class RotationPlan:
    """What an update of a :class:`RotatingTenantKey` does about its keys, in this order."""

    revoke_previous: bool = False
    """Revoke the previous key: its grace period is over, or a rotation displaces it (``cut_short``)."""
    cut_short: bool = False
    """The previous key is revoked before its grace period ended (a ``keepers`` rotation during it)."""
    rotate: bool = False
    """Create a new current key; the current one (if it still exists) becomes the previous key."""
    reasons: tuple[str, ...] = ()
    """Why, in words, for the CLI's messages."""

    @property
    def acts(self) -> bool:
        """Whether the update touches any key."""
        return self.revoke_previous or self.rotate


def plan(olds: Mapping[str, Any], news: Mapping[str, Any], *, now: dt.datetime) -> RotationPlan:
    """The rotation decisions for prior outputs ``olds`` and checked inputs ``news`` at ``now`` (pure).

    Rotate when the current key is gone (revoked outside Pulumi), when ``keepers`` changed, or when the current
    key is ``rotationDays`` old by its ``createdAt``. Revoke the previous key when the current key is
    ``graceDays`` old (its grace is over), or, cut short, when a rotation happens while it is still in grace.
    """
    current = bool(olds.get("publicKey"))
    created = olds.get("createdAt")
    reasons: list[str] = []
    if not current:
        reasons.append("its current key is gone (revoked outside Pulumi): a new one is made")
    elif any(_changed(olds.get(k), news.get(k)) for k in ROTATE_ON):
        reasons.append("keepers changed: it rotates")
    elif rotation_due(created, news.get("rotationDays"), now=now):
        reasons.append(f"its current key, created {created}, is rotationDays ({_days(news.get('rotationDays'))}) "
                       "old: it rotates")
    rotate = bool(reasons)
    revoke = cut_short = False
    if olds.get("previousPublicKey") and current:
        if grace_over(created, news.get("graceDays"), now=now):
            revoke = True
            reasons.append(f"the previous key's grace period ({_days(news.get('graceDays'))} days from the current "
                           f"key's createdAt) is over: it is revoked")
        elif rotate and not is_unknown(news.get("graceDays")):
            revoke = cut_short = True
            reasons.append("the previous key, still in its grace period, is revoked before the rotation (a "
                           "resource holds two keys at most)")
    return RotationPlan(revoke_previous=revoke, cut_short=cut_short, rotate=rotate, reasons=tuple(reasons))


def check_grace_period(prop: str, grace: Any, rotation: Any, rotation_prop: str) -> list[Problem]:
    """``graceDays`` (at ``prop``) itself, and less than ``rotationDays`` (at ``rotation_prop``) when that is set
    and valid (else a scheduled rotation would come while the previous key is still in its grace period, and
    cut it short). Values not known yet (preview) are left to the apply's Check."""
    problems = _check_known(prop, grace, check_grace_days)
    if (not problems and isinstance(grace, (int, float)) and isinstance(rotation, (int, float))
            and not check_rotation_days(rotation_prop, rotation) and grace >= rotation):
        problems.append(Problem(prop, (
            f"{prop} must be less than {rotation_prop} ({rotation!r}), so a rotation never cuts the previous key's "
            f"grace period short; got {grace!r}")))
    return problems


# ------------------------------------------------------------------ the resource

class RotatingTenantKeyArgs:
    """The inputs of a :class:`RotatingTenantKey`."""

    def __init__(
        self,
        tenant_id: pulumi.Input[str],
        roles: pulumi.Input[Sequence[pulumi.Input[str]]],
        grace_days: pulumi.Input[int],
        rotation_days: pulumi.Input[int] | None = None,
        keepers: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        name: pulumi.Input[str] | None = None,
    ) -> None:
        """
        :param tenant_id: the tenant that owns the keys (a GUID, any letter case: it is kept in the service's
            lower case). Changing it replaces the resource: new keys in the new tenant, then both old keys
            revoked.
        :param roles: the keys' tenant roles; order and duplicates do not matter. Changes in place, on the
            previous key too.
        :param grace_days: how long the previous key keeps working after a rotation, counted from the new key's
            ``createdAt``: a whole number of days from 0 to 36500, less than ``rotation_days``. The first update
            after that revokes it. 0 keeps it until the next update. Changes in place.
        :param rotation_days: once the current key is this many days old (by the service's ``createdAt``), the
            next update rotates it in place: a new current key, the old one kept as the previous key for
            ``grace_days``.
            A whole number from 1 to 36500; ``pulumi refresh`` (or ``up --refresh``) reads the key's age.
        :param keepers: arbitrary strings; any change rotates the key in place, at once (a previous key still
            in its grace period is revoked first).
        :param name: the keys' name (at most 100 characters; names need not be unique); default: the resource
            name plus ``-`` and 8 random hex digits, the resource name cut to its first 91 characters so the
            whole fits. Both keys carry it. Changes in place. Names of the form ``pulumi-pending-<32 hex
            digits>`` are reserved (a key being created carries one).
        """
        self.tenant_id = tenant_id
        self.roles = roles
        self.grace_days = grace_days
        self.rotation_days = rotation_days
        self.keepers = keepers
        self.name = name


class RotatingTenantKey(WireNames, Resource, module="imburse", name="RotatingTenantKey"):
    """An Imburse tenant API key that rotates without downtime: after a rotation the previous key keeps working
    for ``grace_days``, then a later update revokes it (see the module docs for the timeline).

    ``private_key`` and ``previous_private_key`` are always secret outputs. A rotation (``rotation_days`` running
    out, or a ``keepers`` change) is an in-place update, not a replacement, so the resource, its id and its
    dependents stay; during the grace period applications may use either key. Declare it like a ``TenantKey``::

        RotatingTenantKey("ci", tenant_id=tid, roles=["tenant-app-read"], rotation_days=90, grace_days=7)

    Run ``pulumi up --refresh`` on a schedule: a rotation and the end of a grace period happen only when
    something runs the stack, and only a refresh reads the key's age.
    """

    _py_names = _PY_NAMES

    tenant_id: pulumi.Output[str]
    """The owning tenant's id."""
    roles: pulumi.Output[list[str]]
    """The keys' roles, sorted."""
    name: pulumi.Output[str]
    """The keys' name (generated from the resource name when not given)."""
    name_prefix: pulumi.Output[str]
    """The prefix of a generated name (the resource name)."""
    keepers: pulumi.Output[dict[str, str] | None]
    """Values whose change rotates the key."""
    rotation_days: pulumi.Output[int | None]
    """Age in days of the current key at which the next update rotates it."""
    grace_days: pulumi.Output[int]
    """Days the previous key keeps working after a rotation, counted from the current key's ``created_at``."""
    account_id: pulumi.Output[str]
    """The account that owns the tenant."""
    public_key: pulumi.Output[str]
    """The current key's public key (empty once a refresh found it revoked outside Pulumi, until the next update
    makes a new one)."""
    private_key: pulumi.Output[str]
    """The current key's private key (secret)."""
    created_at: pulumi.Output[str]
    """When the service created the current key (ISO 8601, UTC); ``rotation_days`` and ``grace_days`` count from
    it."""
    previous_public_key: pulumi.Output[str | None]
    """The previous key's public key while it is kept after a rotation; unset otherwise."""
    previous_private_key: pulumi.Output[str | None]
    """The previous key's private key (secret) while it is kept; unset otherwise."""
    previous_expires_at: pulumi.Output[str | None]
    """When the previous key's grace period ends (ISO 8601, UTC): the first update after it revokes the key."""

    @overload
    def __init__(self, resource_name: str, args: RotatingTenantKeyArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        ...

    @overload
    def __init__(
        self,
        resource_name: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        tenant_id: pulumi.Input[str],
        roles: pulumi.Input[Sequence[pulumi.Input[str]]],
        grace_days: pulumi.Input[int],
        rotation_days: pulumi.Input[int] | None = None,
        keepers: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        name: pulumi.Input[str] | None = None,
    ) -> None:
        ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        args_obj, opts = split_args(RotatingTenantKeyArgs, args, kwargs)
        props: dict[str, Any] = {
            "tenant_id": args_obj.tenant_id,
            "roles": args_obj.roles,
            "name": args_obj.name,
            "name_prefix": resource_name,
            "keepers": args_obj.keepers,
            "rotation_days": args_obj.rotation_days,
            "grace_days": args_obj.grace_days,
        }
        for out in OUTPUTS:
            props.setdefault(_PY_NAMES.get(out, out), None)
        super().__init__(RotatingTenantKeyProvider(), resource_name, props,
                         with_secret_outputs(opts, SECRET_OUTPUTS))


document_init(RotatingTenantKey, RotatingTenantKeyArgs)


class RotatingTenantKeyProvider(ImburseProvider):
    """The dynamic provider behind :class:`RotatingTenantKey`. Check and Diff make no API calls."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = declared_inputs(news, INPUTS, OUTPUTS)
        problems = check_unknown(inputs, INPUTS) + key_problems(inputs)
        problems += check_grace_period("graceDays", inputs.get("graceDays"), inputs.get("rotationDays"), "rotationDays")
        if not problems:
            normalize_key_inputs(inputs, olds)
        return CheckResult(inputs, failures(problems))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the prior outputs (refreshed by a refresh), `news` the checked inputs.
        replaces = [k for k in REPLACE_ON if _changed(_id_key(olds.get(k)), _id_key(news.get(k)))]
        if replaces:
            return DiffResult(changes=True, replaces=replaces)
        decided = plan(olds, news, now=_now())
        updates = [k for k in ("name", "rotationDays", "graceDays") if _changed(olds.get(k), news.get(k))]
        if _changed(_roles_key(olds.get("roles")), _roles_key(news.get("roles"))):
            updates.append("roles")
        if decided.acts:
            _say_once(f"RotatingTenantKey {news.get('namePrefix')}: " + "; ".join(decided.reasons))
        return DiffResult(changes=bool(updates or decided.acts), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        tenant_id = str(props["tenantId"])
        name = str(props.get("name") or _autoname({}, props))
        key = create_key(self.client, tenant_id, list(props["roles"]), name)
        return CreateResult(f"{tenant_id}/{uuid.uuid4()}", _outputs({**props, "name": name}, key, None))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        tenant_id = _tenant_of(id_)
        prior = strip_provider(props)
        if "publicKey" not in prior:
            raise ImburseError(f"RotatingTenantKey {id_}: cannot be imported (its state is two keys and their "
                               "private keys, which Imburse never returns). Declare it and let it create its key, "
                               "or adopt one key with TenantKey(adopt_public_key=...).")
        client = self.client
        current = read_key(client, tenant_id, prior["publicKey"]) if prior.get("publicKey") else None
        previous = read_key(client, tenant_id, prior["previousPublicKey"]) if prior.get("previousPublicKey") else None
        if current is None and previous is None:
            return ReadResult("", {})  # both gone from the service: the engine drops the resource, nothing is left
        what = f"RotatingTenantKey {prior.get('namePrefix') or id_}"
        if current is None:
            if prior.get("publicKey"):
                pulumi.log.warn(f"{what}: its current key {prior['publicKey']} was revoked outside Pulumi. The next "
                                "update makes a new one and keeps the previous key for graceDays from then.")
            outs = {**prior, "publicKey": "", "privateKey": "", "createdAt": ""}
        else:
            outs = _outputs(prior, current, _previous_of(prior) if previous is not None else None,
                            private_key=str(prior.get("privateKey") or ""))
        if previous is None:
            for k in PREVIOUS:
                outs.pop(k, None)
        inputs = {k: outs[k] for k in INPUTS if outs.get(k) is not None}
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        tenant_id = _tenant_of(id_)
        client = self.client
        decided = plan(olds, news, now=_now())
        what = f"RotatingTenantKey {news.get('namePrefix')}"
        current = _current_of(olds, tenant_id)
        previous = _previous_of(olds)
        # 1. What can fail and be retried comes first: nothing new exists yet, so a failure leaves the state as it
        #    was (a revoked previous key there is dropped by a refresh, or revoked again: already gone is fine).
        if decided.revoke_previous and previous is not None:
            if decided.cut_short:
                pulumi.log.warn(f"{what}: the previous key {previous.public_key} is revoked before its grace period "
                                f"ended ({olds.get('previousExpiresAt')}), because keepers changed while it was "
                                "still kept.")
            revoke_key(client, tenant_id, previous.public_key)
            previous = None
        roles, name = list(news["roles"]), str(news["name"])
        if _changed(_roles_key(olds.get("roles")), _roles_key(roles)) or _changed(olds.get("name"), name):
            current, previous = (_renamed(client, tenant_id, current, roles, name),
                                 previous and _renamed(client, tenant_id, previous, roles, name))
        # 2. The new key last: once it exists, nothing else can fail before the engine records it.
        if decided.rotate or current is None:
            key = create_key(client, tenant_id, roles, name)
            if current is not None:
                previous = current
            current = key
            pulumi.log.info(f"{what}: new current key {key.public_key}"
                            + (f"; the previous key {previous.public_key} works until the grace period ends"
                               if previous is not None else ""))
        return UpdateResult(_outputs(news, current, previous, private_key=current.private_key or ""))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        tenant_id = _tenant_of(id_)
        for k in ("previousPublicKey", "publicKey"):
            if props.get(k):
                revoke_key(self.client, tenant_id, str(props[k]))


# ------------------------------------------------------------------ helpers

def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_SAID: Final[set[str]] = set()


def _say_once(message: str) -> None:
    """Log ``message`` once per provider process (the engine diffs a resource again after a refresh)."""
    if message not in _SAID:
        _SAID.add(message)
        pulumi.log.info(message)


def _days(value: Any) -> str:
    """A number of days as the user wrote it (the engine sends numbers as floats: 90.0 is 90)."""
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _tenant_of(id_: str) -> str:
    tenant_id, sep, series = id_.partition("/")
    if not sep or not tenant_id or not series:
        raise ValueError(f"a RotatingTenantKey id has the form <tenantId>/<series id>, got {id_!r}")
    return tenant_id


def _iso(when: dt.datetime | None) -> str | None:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if when is not None else None


def _current_of(outs: Mapping[str, Any], tenant_id: str) -> ApiKey | None:
    """The current key as the state holds it, or ``None`` if a refresh found it gone."""
    if not outs.get("publicKey"):
        return None
    return ApiKey(account_id=str(outs.get("accountId") or ""), tenant_id=tenant_id, name=str(outs.get("name") or ""),
                  public_key=str(outs["publicKey"]), roles=tuple(outs.get("roles") or ()),
                  private_key=str(outs.get("privateKey") or ""), created_at=outs.get("createdAt"))


def _previous_of(outs: Mapping[str, Any]) -> ApiKey | None:
    """The previous key as the state holds it (public and private key only), or ``None``."""
    if not outs.get("previousPublicKey"):
        return None
    return ApiKey(account_id="", tenant_id="", name="", public_key=str(outs["previousPublicKey"]), roles=(),
                  private_key=str(outs.get("previousPrivateKey") or ""))


def _renamed(client: ImburseClient, tenant_id: str, key: ApiKey | None, roles: list[str], name: str) -> ApiKey | None:
    """``key`` with ``roles`` and ``name`` set in the service (idempotent); ``None`` if it is gone."""
    if key is None:
        return None
    try:
        done = client.update_key(tenant_id, key.public_key, roles, name)
    except NotFoundError:
        return None
    return dataclasses.replace(done, private_key=key.private_key, created_at=done.created_at or key.created_at)


def _outputs(inputs: Mapping[str, Any], current: ApiKey, previous: ApiKey | None, *,
             private_key: str | None = None) -> dict[str, Any]:
    """The outputs: the inputs, the current key (its private key: ``private_key``, else the key's own) and the
    previous key with the end of its grace period, counted from the current key's ``createdAt``."""
    outs = {k: v for k, v in inputs.items() if k in INPUTS and v is not None}
    created = current.created_at or inputs.get("createdAt") or _iso(_now())
    outs.update(
        tenantId=current.tenant_id or inputs.get("tenantId"),
        name=current.name,
        roles=normalize_roles(list(current.roles)),
        accountId=current.account_id,
        publicKey=current.public_key,
        privateKey=private_key if private_key is not None else current.private_key or "",
        createdAt=created,
    )
    if previous is not None:
        outs.update(previousPublicKey=previous.public_key, previousPrivateKey=previous.private_key or "",
                    previousExpiresAt=_iso(previous_expires_at(created, inputs.get("graceDays"))))
    return outs


