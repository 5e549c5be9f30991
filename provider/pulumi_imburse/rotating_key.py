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
:func:`~pulumi_imburse.keys.create.create_key` (a create only ever revokes a key it made: a provisional name,
then the rename). So a failed run leaves the state as it was (at most it names a previous key that is already
revoked, which a refresh drops), and the next run converges from it. A provider killed while creating leaves a
provisionally named key that no state holds, revoked by a later create in the tenant as ``TenantKey``
describes. ``pulumi refresh`` notices either key revoked outside Pulumi, and says so: a gone previous key is
dropped; a gone current key leaves ``public_key`` empty and the next update makes a new one, keeping the previous
key (whose grace period then counts from the new key). Destroy revokes both.

The resource id is ``<tenantId>/<series id>``: a random id fixed for the resource's life (an update cannot change
an id, and the keys change). The keys are in the outputs. Import is not supported (a rotating key's state is
more than one key); declare it and let it create its first key.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from . import shapes
from ._base import (
    ImburseProvider,
    WireNames,
    declared_inputs,
    document_init,
    owner_of,
    split_args,
    strip_provider,
    with_secret_outputs,
    with_urn,
)
from .client import ImburseClient
from .errors import ImburseError, NotFoundError
from .keys.create import create_key, name_for_create, revoke_key
from .keys.deliver import STORE_OUTPUTS, lost, stored_outputs
from .keys.rules import (
    ROTATE_ON,
    RotationPlan,
    changed,
    check_grace_period,
    compared,
    grace_over,
    id_key,
    key_name,
    key_problems,
    moved,
    normalize_key_inputs,
    plan,
    previous_expires_at,
    read_inputs,
    resolve_destination,
    roles_key,
)
from .models import ApiKey
from .refresh import key_or_gone
from .roles import normalize_roles
from .stores import StoredVersion
from .stores.destination import check_destination, is_store
from .validation import check_unknown
from .values import format_time, now

__all__ = ["INPUTS", "OUTPUTS", "PREVIOUS", "PY_NAMES", "REPLACE_ON", "ROTATE_ON", "SECRET_OUTPUTS", "SHAPE",
           "TYPE_TOKEN", "UPDATE_ON", "RotatingTenantKey", "RotatingTenantKeyArgs", "RotatingTenantKeyProvider",
           "RotationPlan", "check_grace_period", "grace_over", "plan", "previous_expires_at"]

TYPE_TOKEN: Final = "pulumi-python:dynamic/imburse:RotatingTenantKey"

SHAPE: Final = shapes.ROTATING_KEY
INPUTS: Final = SHAPE.inputs()
PREVIOUS: Final = ("previousPublicKey", "previousPrivateKey", "previousExpiresAt", "previousSecretVersion")
"""The previous key's outputs, present only while a previous key is in (or past) its grace period."""
OUTPUTS: Final = SHAPE.outputs()
REPLACE_ON: Final = SHAPE.changes("replace")
"""Inputs whose change replaces the resource (a new resource, then the old one's keys revoked)."""
UPDATE_ON: Final = SHAPE.changes("update")
"""Inputs whose change updates the resource in place (roles and name on both keys; the periods)."""
SECRET_OUTPUTS: Final = SHAPE.secret_outputs()
PY_NAMES: Final = SHAPE.py_names()
"""``{wire name: Python name}`` of the properties whose names differ."""


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
        destination: pulumi.Input[Mapping[str, Any]] | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.roles = roles
        self.grace_days = grace_days
        self.rotation_days = rotation_days
        self.keepers = keepers
        self.name = name
        self.destination = destination


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

    _py_names = PY_NAMES

    tenant_id: pulumi.Output[str]
    roles: pulumi.Output[list[str]]
    name: pulumi.Output[str]
    name_prefix: pulumi.Output[str]
    keepers: pulumi.Output[dict[str, str] | None]
    rotation_days: pulumi.Output[int | None]
    grace_days: pulumi.Output[int]
    account_id: pulumi.Output[str]
    public_key: pulumi.Output[str]
    private_key: pulumi.Output[str]
    created_at: pulumi.Output[str]
    previous_public_key: pulumi.Output[str | None]
    previous_private_key: pulumi.Output[str | None]
    previous_expires_at: pulumi.Output[str | None]
    destination: pulumi.Output[dict[str, Any] | None]
    secret_reference: pulumi.Output[str | None]
    secret_version: pulumi.Output[str | None]
    private_key_fingerprint: pulumi.Output[str | None]
    previous_secret_version: pulumi.Output[str | None]

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
        destination: pulumi.Input[Mapping[str, Any]] | None = None,
    ) -> None:
        ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        args_obj, opts = split_args(RotatingTenantKeyArgs, args, kwargs)
        props = with_urn(SHAPE.props(args_obj, resource_name), resource_name, TYPE_TOKEN, opts)
        super().__init__(RotatingTenantKeyProvider(), resource_name, props,
                         with_secret_outputs(opts, SECRET_OUTPUTS))


document_init(RotatingTenantKey, RotatingTenantKeyArgs, SHAPE)


class RotatingTenantKeyProvider(ImburseProvider):
    """The dynamic provider behind :class:`RotatingTenantKey`. Check and Diff make no API calls."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = declared_inputs(news, INPUTS, OUTPUTS)
        problems = check_unknown(inputs, INPUTS) + key_problems(inputs)
        problems += check_grace_period("graceDays", inputs.get("graceDays"), inputs.get("rotationDays"), "rotationDays")
        problems += check_destination("destination", inputs.get("destination"), default=self.stores.default)
        if not problems:
            fresh = normalize_key_inputs(inputs, olds)
            resolve_destination(inputs, self.stores.default)
            if fresh is not None:
                self.ledger.fresh_names.add(fresh)  # its create may skip the provisional name (keys.create)
        return CheckResult(inputs, self.failures(problems))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the prior outputs (refreshed by a refresh), `news` the checked inputs.
        self.ledger.journal.record(_keys_of(olds))  # a state holds them (see pulumi_imburse.journal)
        replaces = [k for k in REPLACE_ON if changed(id_key(olds.get(k)), id_key(news.get(k)))]
        if moved(olds, news):  # a new secret: new keys there, then both old keys revoked and out of the old secret
            replaces.append("destination")
        if replaces:
            return DiffResult(changes=True, replaces=replaces)
        decided = plan(olds, news, now=now())
        updates = [k for k in UPDATE_ON if changed(*compared(k, olds, news))]
        if decided.acts:
            self.say_once(f"RotatingTenantKey {news.get('namePrefix')}: " + "; ".join(decided.reasons))
        return DiffResult(changes=bool(updates or decided.acts), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        tenant_id = str(props["tenantId"])
        name = name_for_create(props, self.ledger)
        delivery = self.delivery(props.get("destination"))
        key = create_key(self.client, tenant_id, list(props["roles"]), name, ledger=self.ledger, warn=self.warn,
                         owner=owner_of(props), delivery=delivery)
        return CreateResult(f"{tenant_id}/{uuid.uuid4()}", _outputs({**props, "name": name}, key, None,
                                                                     stored=delivery.stored))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        tenant_id = _tenant_of(id_)
        prior = strip_provider(props)
        self.ledger.journal.record(_keys_of(prior))
        if "publicKey" not in prior:
            raise ImburseError(f"RotatingTenantKey {id_}: cannot be imported (its state is two keys and their "
                               "private keys, which Imburse never returns). Declare it and let it create its key, "
                               "or adopt one key with TenantKey(adopt_public_key=...).")
        client = self.client
        account, what = str(prior.get("accountId") or ""), f"RotatingTenantKey {prior.get('namePrefix') or id_}"
        current = (key_or_gone(client, tenant_id, prior["publicKey"], account, what)
                   if prior.get("publicKey") else None)
        previous = (key_or_gone(client, tenant_id, prior["previousPublicKey"], account, what)
                    if prior.get("previousPublicKey") else None)
        store = self.store_of(prior)
        if store is not None:  # a key confirmed revoked is never left current (nor previous) in its store
            for gone, k in ((previous, "previousPublicKey"), (current, "publicKey")):
                if gone is None and prior.get(k):
                    store.withdraw(str(prior[k]))
        if current is None and previous is None:
            return ReadResult("", {})  # both gone from the service: the engine drops the resource, nothing is left
        what = f"RotatingTenantKey {prior.get('namePrefix') or id_}"
        if current is None:
            if prior.get("publicKey"):
                self.warn(f"{what}: its current key {prior['publicKey']} was revoked outside Pulumi. The next "
                                "update makes a new one and keeps the previous key for graceDays from then.")
            outs = {**prior, "publicKey": "", "privateKey": "", "createdAt": ""}
        else:
            outs = _outputs(prior, current, _previous_of(prior) if previous is not None else None,
                            private_key=str(prior.get("privateKey") or ""))
            recorded = str(prior.get("privateKeyFingerprint") or "")
            why = lost(store, current.public_key, recorded) if store is not None and recorded else None
            if why is not None:
                self.warn(f"{what}: {why}, so an application reading it no longer gets the current key's private "
                          "key. Nobody can recover it: the next update rotates the key and delivers the new one "
                          "(unless destination.onLoss is keep).")
                outs["privateKeyFingerprint"] = ""
        if previous is None:
            if prior.get("previousPublicKey"):
                ends = f" (its grace period was to end {prior['previousExpiresAt']})" \
                    if prior.get("previousExpiresAt") else ""
                self.warn(f"{what}: its previous key {prior['previousPublicKey']} was revoked outside Pulumi{ends}; "
                          "the state no longer holds it. The current key is unchanged.")
            for k in PREVIOUS:
                outs.pop(k, None)
        return ReadResult(id_, outs, read_inputs(outs, INPUTS))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        tenant_id = _tenant_of(id_)
        self.ledger.journal.record(_keys_of(olds))
        client = self.client
        decided = plan(olds, news, now=now())
        what = f"RotatingTenantKey {news.get('namePrefix')}"
        current = _current_of(olds, tenant_id)
        previous = _previous_of(olds)
        # 1. What can fail and be retried comes first: nothing new exists yet, so a failure leaves the state as it
        #    was (a revoked previous key there is dropped by a refresh, or revoked again: already gone is fine).
        # What it did is said once done (Diff said what it would do, before the preview and before this update).
        delivery = self.delivery(news.get("destination"))
        if decided.revoke_previous and previous is not None:
            revoke_key(client, tenant_id, previous.public_key)
            if delivery.active:  # out of the store's previous version too (AWSPREVIOUS; Vault's metadata)
                delivery.store.retire(previous.public_key)
            if decided.cut_short:
                self.warn(f"{what}: revoked the previous key {previous.public_key} before its grace period ended "
                          f"({olds.get('previousExpiresAt')}), because keepers changed while it was still kept.")
            else:
                self.info(f"{what}: revoked the previous key {previous.public_key}: its grace period ended "
                          f"({olds.get('previousExpiresAt')}).")
            previous = None
        roles, name = list(news["roles"]), str(key_name(news))
        if changed(roles_key(olds.get("roles")), roles_key(roles)) or changed(olds.get("name"), name):
            current, previous = (_renamed(client, tenant_id, current, roles, name),
                                 previous and _renamed(client, tenant_id, previous, roles, name))
        # 2. The new key last: once it exists, nothing else can fail before the engine records it.
        made = decided.rotate or current is None
        if made:
            # The keys this update keeps carry `name` now, so a name Check generated for it (the declared name
            # removed) is not fresh: its create must take the provisional route, whose sweep revokes only its own
            # provisional name, never a key the state names (issue 17, bug 4: the fresh route's sweep of the
            # generated name revoked the renamed current and previous keys).
            self.ledger.fresh_names.take(name)
            key = create_key(client, tenant_id, roles, name, ledger=self.ledger, warn=self.warn,
                             owner=owner_of(news), delivery=delivery)
            if current is not None:
                previous = current
            current = key
        assert current is not None  # made, or kept
        carried = {**news, **{k: olds.get(k) for k in STORE_OUTPUTS}}
        if made and previous is not None:
            carried["previousSecretVersion"] = olds.get("secretVersion")
        elif previous is not None:
            carried["previousSecretVersion"] = olds.get("previousSecretVersion")
        outs = _outputs(carried, current, previous, private_key=current.private_key or "",
                        stored=delivery.stored if made else None)
        if made:
            self.info(f"{what}: made a new current key {current.public_key}"
                      + (f"; the previous key {previous.public_key} keeps working until its grace period ends "
                         f"({outs.get('previousExpiresAt')})" if previous is not None else ""))
        return UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        tenant_id = _tenant_of(id_)
        self.ledger.journal.record(_keys_of(props))
        keys = [str(props[k]) for k in ("previousPublicKey", "publicKey") if props.get(k)]
        for public_key in keys:
            revoke_key(self.client, tenant_id, public_key)
        store = self.store_of(props)
        if store is not None:  # then out of the store (the secret goes when nothing is left)
            for public_key in keys:
                store.withdraw(public_key)


# ------------------------------------------------------------------ helpers

def _keys_of(outs: Mapping[str, Any]) -> list[str]:
    """The public keys a state's outputs name: the current and the previous key."""
    return [str(outs[k]) for k in ("publicKey", "previousPublicKey") if outs.get(k)]


def _tenant_of(id_: str) -> str:
    tenant_id, sep, series = id_.partition("/")
    if not sep or not tenant_id or not series:
        raise ValueError(f"a RotatingTenantKey id has the form <tenantId>/<series id>, got {id_!r}")
    return tenant_id


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


def _iso(when: Any) -> str | None:
    return format_time(when) if when is not None else None


def _outputs(inputs: Mapping[str, Any], current: ApiKey, previous: ApiKey | None, *,
             private_key: str | None = None, stored: StoredVersion | None = None) -> dict[str, Any]:
    """The outputs: the inputs, the current key (its private key: ``private_key``, else the key's own) and the
    previous key with the end of its grace period, counted from the current key's ``createdAt``. With a
    destination no private key is an output; where the current key is stored: ``stored``, else as ``inputs`` had it
    (``previousSecretVersion`` too)."""
    outs = {k: v for k, v in inputs.items() if k in INPUTS and v is not None}
    created = current.created_at or inputs.get("createdAt") or format_time(now())
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
    if is_store(inputs.get("destination")):
        outs.update(stored_outputs(stored, inputs), privateKey="")
        if previous is not None:
            outs.update(previousPrivateKey="", previousSecretVersion=str(inputs.get("previousSecretVersion") or ""))
    return outs


