"""``TenantKey``: an Imburse tenant API key managed by Pulumi.

Replacement (a new key, then the old one revoked) is forced by a change of ``tenantId`` or
``keepers``, or by ``rotationDays`` running out (counted from the service's ``createdAt``).
``name`` and ``roles`` change in place. ``adoptPublicKey`` takes over an existing key at the first
create instead of making one; changing or removing it later changes nothing.

**How a key is created: a create only ever revokes a key that it made itself.** Key names are not unique in
Imburse (a hand-made key, a sibling resource, another stack's key or the old key of a rotation may all share
the declared name), and a create whose answer is lost (no answer, 502, 504, 500) may or may not have made a
key, whose private key is then lost: it must be revoked, and only it. So a create

1. makes the key under a *provisional* name no one else uses, ``pulumi-pending-<32 random hex digits>``
   (:func:`pending_name`, one per create). After an unknown outcome it revokes every key of that exact name
   (only this create's attempts carry it) and tries again (``RECONCILE_ATTEMPTS``, one time budget);
2. gives the key it got, whose public and private key it now holds, the declared name with a ``PUT``
   (idempotent, retried by the transport). If that fails it revokes that key (by its public key) and fails:
   nothing is recorded, nothing is left behind;
3. lists the tenant once more if an attempt was unknown (a late commit of an earlier attempt still carries the
   provisional name) and, once per tenant per provider process, sweeps stale leftovers (below).

State therefore only ever holds a key made by its own create, under its declared name, with its private key.

A key with no declared ``name`` skips the provisional name: the name Check generated for it in this provider
process moments ago (``<resource name>-<8 random hex digits>``, see ``_FreshNames``) is carried by no other
key, so the create makes the key under that name at once and reconciles by it exactly as above, in one
request. A declared name, even one copied from a generated name, always takes the provisional route. (If the
clean-up after a lost answer then fails too, the key it could not revoke carries that generated name, which no
state holds; the error names it, to be revoked by hand: the later sweep knows provisional names only.)

**Leftovers.** If revoking fails too (the service failing for a whole time budget; in step 1 the create then
stops instead of making more keys), the key it could not revoke carries its provisional name, which no state
ever holds and whose private key nobody holds. The error names it. The first create of a ``TenantKey`` in
that tenant at least ``PENDING_STALE_SECONDS`` (15 minutes, by the service's clock) after it was made revokes
it, whichever stack runs it; the age keeps a provisional key that another create still holds (at most three
operation budgets) from being touched. To clean up by hand, list the tenant's keys and revoke those named
``pulumi-pending-...``; names of that form are refused as ``name``.
(A create suspended for longer than that, e.g. a laptop asleep mid-``up``, finds its key revoked and fails
cleanly at step 2. A service that answers without ``createdAt`` gives no age: nothing is swept.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from ._adopt import (
    AdoptionError,
    AdoptionLedger,
    check_adopt_id,
    differences,
    import_problems,
    refuse,
    refuse_import_differences,
)
from ._base import (
    UNKNOWN,
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
from .errors import (
    ImburseAPIError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from .models import ApiKey
from .roles import normalize_roles
from .validation import (
    NAME_MAX_LENGTH,
    PENDING_NAME,
    PENDING_NAME_PREFIX,
    Problem,
    check_guid,
    check_keepers,
    check_key_name,
    check_rotation_days,
    check_tenant_roles,
    check_unknown,
    normalize_guid,
)

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
"""Random bytes (hex digits / 2) at the end of a generated name: ``<resource name>-<8 hex digits>``."""
AUTONAME_PREFIX_MAX: Final = NAME_MAX_LENGTH - 1 - 2 * AUTONAME_SUFFIX_BYTES
"""Longest part of a resource name a generated name keeps (91): the whole name then fits the API's 100."""
RECONCILE_ATTEMPTS: Final = 8
"""Creates tried when the outcome is unknown, each after revoking what the previous one may have made.
At the 30% refused + 10% commit-then-504 rate CI sees, an attempt ends unknown ~21% of the time: 3
attempts lost 1 key in 100 (a 64-key apply failed about half the time), 8 lose fewer than 1 in 250,000.
All of them share one operation time budget (``ImburseClient.operation()``)."""
RENAME_ROUNDS: Final = 2
"""Rounds of the transport's retries (``RetryPolicy.attempts`` each) given to the rename of a new key before it
is revoked. At 30% refused + 10% commit-then-504 one round of 10 attempts fails about 1 rename in 20,000 (one
such failure turned a CI run red); two fail fewer than 1 in 10^8."""
_TRANSIENT: Final = (ServerError, OutcomeUnknownError, RateLimitedError, TransportError)
"""Failures another round of a repeatable request may get past."""
PENDING_STALE_SECONDS: Final = 900
"""A provisionally named key at least this old (by the service's clock) is a leftover of a failed create.
A create holds its provisional key for at most three operation budgets (reconcile, rename, revoke: 3 x 60 s
by default); 15 minutes leaves a wide margin."""

_ADOPTIONS: Final = AdoptionLedger()


class _TenantMemo:
    """Tenants already swept for leftovers by this provider process (so a create lists a tenant once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: set[str] = set()

    def claim(self, tenant_id: str) -> bool:
        """Whether this caller is the first to claim ``tenant_id``."""
        with self._lock:
            if tenant_id in self._done:
                return False
            self._done.add(tenant_id)
            return True

    def release(self, tenant_id: str) -> None:
        """Let a later caller claim ``tenant_id`` again (the sweep failed)."""
        with self._lock:
            self._done.discard(tenant_id)


_SWEPT: Final = _TenantMemo()


class _FreshNames:
    """Names this provider process generated for new keys and no create has used yet. Thread-safe.

    The engine calls Check, then Create, of a new resource in the same provider process, so a generated name
    found here was made moments ago from 32 random bits by this process's Check: no other key carries it. A
    name a user declared (even one copied from a generated name) or kept from a prior state is never here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def add(self, name: str) -> str:
        with self._lock:
            self._names.add(name)
        return name

    def take(self, name: str) -> bool:
        """Whether ``name`` is a fresh generated name; it is fresh for one create only."""
        with self._lock:
            if name in self._names:
                self._names.discard(name)
                return True
            return False


_FRESH_NAMES: Final = _FreshNames()
_STALE_HINT: Final = (f"The first key created by a TenantKey or RotatingTenantKey in that tenant "
                      f"{PENDING_STALE_SECONDS // 60} or more minutes later revokes any key named "
                      f"{PENDING_NAME_PREFIX}<32 hex digits> that old, by any stack.")


def pending_name() -> str:
    """A provisional key name no other create uses: ``pulumi-pending-<32 random hex digits>`` (47 characters)."""
    return f"{PENDING_NAME_PREFIX}{secrets.token_hex(16)}"


def generated_name(prefix: str) -> str:
    """``<prefix>-<8 random hex digits>``; a prefix longer than ``AUTONAME_PREFIX_MAX`` is cut to fit 100."""
    return f"{prefix[:AUTONAME_PREFIX_MAX]}-{secrets.token_hex(AUTONAME_SUFFIX_BYTES)}"


def is_generated_name(name: str, prefix: str) -> bool:
    """Whether ``name`` is one :func:`generated_name` makes from ``prefix``."""
    head = prefix[:AUTONAME_PREFIX_MAX] + "-"
    suffix = name[len(head):]
    return (name.startswith(head) and len(suffix) == 2 * AUTONAME_SUFFIX_BYTES
            and all(c in "0123456789abcdef" for c in suffix))


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
        :param tenant_id: the tenant that owns the key (a GUID, any letter case: it is kept in the service's
            lower case). Changing it replaces the key. A value that is not a GUID fails Check without being
            shown (it may come from a secret).
        :param roles: the key's tenant roles; order and duplicates do not matter. Changes in place.
        :param name: the key's name (at most 100 characters; names need not be unique); default: the
            resource name plus ``-`` and 8 random hex digits, the resource name cut to its first 91 characters
            so the whole fits. Changes in place. Names of the form ``pulumi-pending-<32 hex digits>`` are
            reserved (a key being created carries one).
            With ``adopt_public_key`` and no ``name``, the adopted key keeps its name, unmanaged.
        :param keepers: arbitrary strings; any change replaces (rotates) the key.
        :param rotation_days: once the key is this many days old (by the service's ``createdAt``), the
            next update replaces it: a whole number from 1 to 36500 (100 years). ``pulumi refresh`` (or
            ``up --refresh``) reads the key's age.
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



document_init(TenantKey, TenantKeyArgs)


class TenantKeyProvider(ImburseProvider):
    """The dynamic provider behind :class:`TenantKey`. Check and Diff make no API calls."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = declared_inputs(news, INPUTS, OUTPUTS)
        problems = check_unknown(inputs, INPUTS) + key_problems(inputs)
        problems += _check_known("adoptPublicKey", inputs.get("adoptPublicKey"), check_adopt_id)
        if not problems:
            normalize_key_inputs(inputs, _olds)
            if _olds:
                _mark_existing(inputs)  # Check with old inputs: the resource exists (see _adopt)
                if _imported_unreconciled(_olds):
                    problems += _import_problems(_olds, inputs)
        return CheckResult(inputs, failures(problems))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the prior outputs, `news` the checked inputs (the engine's Diff contract).
        # adoptPublicKey (CREATE_ONLY) is never compared: it mattered at the first create only.
        _mark_existing(news)
        if _ADOPTIONS.imported_here(_key_ref(_id)):
            return _diff_after_import(_id, olds, news)
        replaces = [k for k in REPLACE_ON if _changed(_id_key(olds.get(k)) if k == "tenantId" else olds.get(k),
                                                      _id_key(news.get(k)) if k == "tenantId" else news.get(k))]
        if "rotationDays" not in replaces and rotation_due(olds.get("createdAt"), news.get("rotationDays")):
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
        key = create_key(self.client, tenant_id, roles, name)
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
        if PENDING_NAME.fullmatch(key.name):
            raise AdoptionError(f"cannot adopt {what}: its name {key.name!r} marks a key left over by a create that "
                                f"failed, whose private key nobody holds. {_STALE_HINT} Nothing was changed.")
        _ADOPTIONS.record_adopted((tenant_id.lower(), key.public_key.lower()))
        pulumi.log.warn(
            f"TenantKey {key.name!r} ({tenant_id}/{key.public_key}) adopted. Imburse never returns a private key "
            "after creation, so this key's private_key output is empty. To get a key whose private key Pulumi "
            "knows, rotate it: change its keepers (the new key replaces it and the adopted key is revoked)."
        )
        return CreateResult(f"{tenant_id}/{key.public_key}", _outputs(props, key, ""))

    @staticmethod
    def _create_pending(client: ImburseClient, tenant_id: str, roles: list[str], name: str,
                        pending: str) -> tuple[ApiKey, bool]:
        """Create the key under the provisional name ``pending``: ``(key, whether an attempt was unknown)``.

        An attempt whose outcome is unknown (no answer, 502, 504, or 500: the service may have acted) is
        reconciled by revoking every key named ``pending``: only this create's attempts carry that name. Then
        the create is tried again, at most ``RECONCILE_ATTEMPTS`` times, all within one operation budget. If
        the reconciliation fails (its list or revoke, each already retried by the transport within the
        budget), the create stops rather than make more keys it cannot account for, and its error names what
        may be left and what becomes of it.
        """
        unknown = False
        last: ImburseAPIError | None = None
        with client.operation():
            for attempt in range(1, RECONCILE_ATTEMPTS + 1):
                try:
                    return client.create_key(tenant_id, roles, pending), unknown
                except (OutcomeUnknownError, ServerError) as exc:
                    last, unknown = exc, True
                    log.info("create of key %r (attempt %d): outcome unknown (%s); revoking what it made",
                             name, attempt, exc.status)
                except ImburseAPIError as exc:
                    # Not carried out (refused, not sent, no token): and whatever an earlier attempt made was revoked.
                    raise _create_error(exc, tenant_id, name, pending, tries=attempt) from None
                try:
                    TenantKeyProvider._revoke_named(client, tenant_id, pending)
                except ImburseAPIError as exc:
                    raise _create_error(last, tenant_id, name, pending, tries=attempt, left=exc) from None
        assert last is not None
        raise _create_error(last, tenant_id, name, pending, tries=RECONCILE_ATTEMPTS) from None

    @staticmethod
    def _rename(client: ImburseClient, tenant_id: str, public_key: str, roles: list[str], name: str) -> ApiKey:
        """Give the new key its declared name: at most ``RENAME_ROUNDS`` rounds of the transport's retries.

        The rename is idempotent, and the key it names is ours with its private key in hand, so a transient
        failure (a round of refusals, 5xx or a lost answer) is worth another round rather than revoking a
        good key. All rounds share one operation time budget.
        """
        with client.operation():
            for round_ in range(1, RENAME_ROUNDS + 1):
                try:
                    return client.update_key(tenant_id, public_key, roles, name)
                except _TRANSIENT as exc:
                    if round_ == RENAME_ROUNDS:
                        raise
                    log.info("renaming key %s to %r (round %d): %s; trying again", public_key, name, round_,
                             exc.status)
        raise AssertionError("unreachable")

    @staticmethod
    def _revoke_named(client: ImburseClient, tenant_id: str, name: str, *, keep: str | None = None) -> int:
        """Revoke every key of the tenant named ``name`` except ``keep``; how many were revoked."""
        revoked = 0
        for k in client.list_keys(tenant_id):
            if k.name == name and k.public_key != keep:
                with contextlib.suppress(NotFoundError):  # already revoked: the goal is met
                    client.delete_key(tenant_id, k.public_key)
                revoked += 1
        return revoked

    @staticmethod
    def _unnamed(client: ImburseClient, tenant_id: str, key: ApiKey, pending: str, name: str,
                 exc: ImburseAPIError) -> ImburseAPIError:
        """The error of a create whose key could not be given its name: the key (ours) is revoked first."""
        what = f"Key {name!r}: the key {key.public_key} was created in tenant {tenant_id}"
        try:
            with contextlib.suppress(NotFoundError):
                client.delete_key(tenant_id, key.public_key)
        except ImburseAPIError as revoke:
            return _with_message(exc, (
                f"{what} but could not be given its name ({exc.message}) nor revoked ({revoke.message}). It is "
                f"named {pending!r} (or {name!r}, if the rename was carried out unanswered) and nobody holds its "
                f"private key. {_STALE_HINT} Or revoke key {key.public_key} yourself. Then run the update again."))
        return _with_message(exc, f"{what} but could not be given its name ({exc.message}); it was revoked, so "
                                  "nothing is left behind. Run the update again.")

    @staticmethod
    def _sweep(client: ImburseClient, tenant_id: str, pending: str, *, keep: str, now: str | None,
               own_leftovers: bool) -> None:
        """Revoke what failed creates left in the tenant: this create's other ``pending`` keys, and stale ones.

        A provisional name is never in any state and its private key is held by no one once its create
        ended, so a provisionally named key older than ``PENDING_STALE_SECONDS`` (by the service's clock: this
        create's own ``createdAt`` is "now") is a leftover of a create that failed. The tenant is listed when
        this create had an unknown outcome, and otherwise once per tenant per provider process. Best effort:
        a failure is reported and leaves the leftovers to a later create.
        """
        first = _SWEPT.claim(tenant_id)
        if not (first or own_leftovers):
            return
        created = parse_time(now) if now else None
        stale_before = created - dt.timedelta(seconds=PENDING_STALE_SECONDS) if created else None
        stale = 0
        try:
            with client.operation():
                for k in client.list_keys(tenant_id):
                    if k.public_key == keep:
                        continue
                    made = parse_time(k.created_at) if k.created_at else None
                    old = (PENDING_NAME.fullmatch(k.name) is not None and stale_before is not None
                           and made is not None and made <= stale_before)
                    if k.name == pending or old:
                        with contextlib.suppress(NotFoundError):
                            client.delete_key(tenant_id, k.public_key)
                        stale += old
        except ImburseAPIError as exc:
            _SWEPT.release(tenant_id)
            pulumi.log.warn(f"Could not look for keys left over by failed creates in tenant {tenant_id} "
                            f"({exc.message}). {_STALE_HINT}")
            return
        if stale:
            pulumi.log.warn(f"Revoked {stale} key(s) named {PENDING_NAME_PREFIX}... in tenant {tenant_id}: "
                            "left over by creates that failed at least "
                            f"{PENDING_STALE_SECONDS // 60} minutes ago; nobody held their private keys.")

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        tenant_id, public_key = _parse_id(id_)
        key = read_key(self.client, tenant_id, public_key)
        if key is None:
            return ReadResult("", {})  # gone from the service: the engine drops the resource
        prior = strip_provider(props)
        private_key = prior.get("privateKey")
        if "publicKey" not in prior:
            # An import (no prior outputs, at most the declared inputs): its secret is unknowable. Say so,
            # clearly. A refresh of an adopted key ("" too) was told at adoption and is not told again.
            _ADOPTIONS.record_imported(_key_ref(id_))
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
        revoke_key(self.client, tenant_id, public_key)


# ------------------------------------------------------------------ what other key resources reuse

def create_key(client: ImburseClient, tenant_id: str, roles: list[str], name: str) -> ApiKey:
    """Create a key named ``name`` that only this call can have made, with its private key.

    The module docs tell how: a provisional name, reconciled by revoking only that name after an unknown
    outcome, then the rename to ``name`` (a key that cannot be named is revoked), then the sweep of stale
    leftovers. On failure it raises with nothing left behind that it could revoke (the error names any key it
    could not). Every resource that makes tenant keys creates them through this function.
    """
    if _FRESH_NAMES.take(name):
        # A name this process generated for this key: unique, so it serves as its own provisional name. One
        # request, no rename.
        key, unknown = TenantKeyProvider._create_pending(client, tenant_id, roles, name, name)
        TenantKeyProvider._sweep(client, tenant_id, name, keep=key.public_key, now=key.created_at,
                                 own_leftovers=unknown)
        return key
    pending = pending_name()
    key, unknown = TenantKeyProvider._create_pending(client, tenant_id, roles, name, pending)
    # The key exists and its private key is known: from here on nothing is guessed, only this key is touched.
    try:
        named = TenantKeyProvider._rename(client, tenant_id, key.public_key, roles, name)
    except ImburseAPIError as exc:
        raise TenantKeyProvider._unnamed(client, tenant_id, key, pending, name, exc) from None
    TenantKeyProvider._sweep(client, tenant_id, pending, keep=key.public_key, now=key.created_at,
                             own_leftovers=unknown)
    return dataclasses.replace(named, private_key=key.private_key, created_at=named.created_at or key.created_at)


def normalize_key_inputs(inputs: dict[str, Any], olds: Mapping[str, Any]) -> None:
    """Check's normal form of a key resource's valid inputs, in place: ids in the service's (lower) case, so a
    letter case never replaces a key; roles sorted; optional inputs not given dropped; and, with no declared
    ``name``, a generated one (kept from ``olds``), unless the key is adopted (its name is not managed)."""
    for k in ("tenantId", "adoptPublicKey"):
        if isinstance(inputs.get(k), str) and not is_unknown(inputs[k]):
            inputs[k] = normalize_guid(inputs[k])
    if isinstance(inputs.get("roles"), list) and not is_unknown(inputs["roles"]):
        inputs["roles"] = normalize_roles(inputs["roles"])
    for k in ("keepers", "rotationDays", "adoptPublicKey"):
        if inputs.get(k) is None:
            inputs.pop(k, None)
    if inputs.get("name") is None:
        inputs.pop("name", None)
        if "adoptPublicKey" not in inputs:
            inputs["name"] = _autoname(olds, inputs)


def read_key(client: ImburseClient, tenant_id: str, public_key: str) -> ApiKey | None:
    """The key as the service has it now, or ``None`` if it is gone (revoked, in Pulumi or outside it)."""
    try:
        return client.get_key(tenant_id, public_key)
    except NotFoundError:
        return None


def revoke_key(client: ImburseClient, tenant_id: str, public_key: str) -> bool:
    """Revoke a key; ``False`` if it was already gone (the goal is met either way)."""
    try:
        client.delete_key(tenant_id, public_key)
    except NotFoundError:
        return False
    return True


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` or offset; naive means UTC), or ``None`` if it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def days_after(start: Any, days: Any) -> dt.datetime | None:
    """``days`` after the timestamp ``start``; ``None`` if either is missing or unknown, or past the year 9999."""
    if not start or days is None or is_unknown(days):
        return None
    began = parse_time(start)
    try:
        return began + dt.timedelta(days=float(days)) if began is not None else None
    except OverflowError:  # past the year 9999 (a state from before Check bounded the days): never
        return None


def rotation_due(created_at: Any, rotation_days: Any, *, now: dt.datetime | None = None) -> bool:
    """Whether a key created at ``created_at`` (the service's clock) is ``rotation_days`` old at ``now``
    (default: the current time). No age or no period: never due."""
    due = days_after(created_at, rotation_days)
    return due is not None and (now or dt.datetime.now(dt.timezone.utc)) >= due


# ------------------------------------------------------------------ helpers

def _check_known(prop: str, value: Any, rule: Callable[[str, Any], list[Problem]]) -> list[Problem]:
    """Apply ``rule`` unless the value is not known yet (preview): the engine checks again at apply."""
    return [] if is_unknown(value) else rule(prop, value)


def key_problems(inputs: Mapping[str, Any]) -> list[Problem]:
    """What is wrong with the inputs every tenant key resource has (tenantId, roles, name, namePrefix,
    rotationDays, keepers); values not known yet (preview) are left to the apply's Check."""
    rules: tuple[tuple[str, Callable[[str, Any], list[Problem]]], ...] = (
        ("tenantId", _check_tenant_id), ("roles", check_tenant_roles), ("name", check_key_name),
        ("namePrefix", _check_resource_name), ("rotationDays", check_rotation_days), ("keepers", check_keepers))
    return [p for prop, rule in rules for p in _check_known(prop, inputs.get(prop), rule)]


def _key_ref(id_: str) -> tuple[str, str]:
    """The ledger's name for a key: ``(tenantId, publicKey)`` in lower case."""
    tenant_id, public_key = _parse_id(id_)
    return tenant_id.lower(), public_key.lower()


_IMPORT_HINT: Final = "Declare the key as it is (give its name; change it after importing it), or import another."


def _import_pairs(live: Mapping[str, Any], declared: Mapping[str, Any]) -> list[tuple[str, object, object]]:
    """``(property, live, declared)`` for what the service holds: tenant, roles and, when declared, name."""
    pairs: list[tuple[str, object, object]] = [
        ("tenantId", _id_key(live.get("tenantId")), _id_key(declared.get("tenantId"))),
        ("roles", _roles_key(live.get("roles")), _roles_key(declared.get("roles")))]
    if "name" in declared:
        pairs.append(("name", live.get("name"), declared.get("name")))
    return pairs


def _imported_unreconciled(olds: Mapping[str, Any]) -> bool:
    """Whether the old inputs came straight from an import and no declaration has been accepted since.

    An import's Read returns the inputs the service holds (tenantId, roles, name), never ``namePrefix``, which
    every accepted declaration's checked inputs carry (the resource name). So the state keeps this mark across
    runs until a declaration that matches the live key is accepted (the engine then stores the checked inputs):
    an import that was recorded but refused (``up --skip-preview``) is refused again, never updated silently.
    """
    prior = strip_provider(olds)
    return bool(prior) and "namePrefix" not in prior


def _import_problems(olds: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[Problem]:
    """Check's refusal of a declaration that differs from the key it imports (see :mod:`._adopt`)."""
    return import_problems(f"key {olds.get('name')!r} of tenant {olds.get('tenantId')}", _import_pairs(olds, inputs),
                           _IMPORT_HINT)


def _diff_after_import(id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Diff of a key imported in this deployment: taken over as it is, or refused (see :mod:`._adopt`).

    The properties the service holds (tenant, roles and, when declared, name) must equal the declaration.
    ``keepers`` and ``rotationDays`` have no live value: declared ones are recorded, with no replacement (the
    next update counts ``rotationDays`` from the key's ``createdAt`` as for any key).
    """
    refuse_import_differences(f"key {id_}", _import_pairs(olds, news), _IMPORT_HINT)
    recorded = [k for k in ("keepers", "rotationDays") if _changed(olds.get(k), news.get(k))]
    return DiffResult(changes=bool(recorded), replaces=[])


def _adoption(props: Mapping[str, Any]) -> tuple[str, str]:
    """The ledger's name for a declaration that adopts a key: resource name and adopted public key."""
    return str(props.get("namePrefix")), str(props.get("adoptPublicKey")).lower()


def _mark_existing(inputs: Mapping[str, Any]) -> None:
    """The resource declared by ``inputs`` exists: a later create of it must not adopt its key again."""
    adopt = inputs.get("adoptPublicKey")
    if isinstance(adopt, str) and not is_unknown(adopt) and not is_unknown(inputs.get("namePrefix")):
        _ADOPTIONS.mark_existing(_adoption(inputs))


def _check_tenant_id(prop: str, value: Any) -> list[Problem]:
    # Never echoed: a tenant id may come from a secret (the engine unwraps secrets before Check).
    return check_guid(prop, value, show_value=False)


def _check_resource_name(prop: str, value: Any) -> list[Problem]:
    # namePrefix is the resource name, set by the constructor, never by the user: any length works (a
    # generated name keeps its first AUTONAME_PREFIX_MAX characters).
    if not isinstance(value, str) or not value:
        return [Problem(prop, f"the resource name must be a non-empty string, got {type(value).__name__}")]
    return []


def _autoname(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str:
    """Pulumi-style auto-naming: keep the prior generated name, or make ``<resource name>-<random>``.

    On a replacement the engine calls Check again without olds, so the new key gets a new name.
    """
    prefix = news.get("namePrefix")
    old_name = olds.get("name")
    if isinstance(old_name, str) and isinstance(prefix, str) and is_generated_name(old_name, prefix):
        return old_name
    if is_unknown(prefix) or not isinstance(prefix, str):
        return UNKNOWN
    return _FRESH_NAMES.add(generated_name(prefix))


def _changed(old: Any, new: Any) -> bool:
    if is_unknown(new):
        return True
    return (old or None) != (new or None)


def _id_key(value: Any) -> Any:
    """A GUID compared as the service does: without regard to letter case (states from before Check
    normalised it may hold an upper-case tenantId)."""
    return normalize_guid(value) if isinstance(value, str) and not is_unknown(value) else value


def _roles_key(roles: Any) -> Any:
    if isinstance(roles, (list, tuple)) and not is_unknown(roles):
        return normalize_roles(list(roles))
    return roles


def _with_message(exc: ImburseAPIError, message: str) -> ImburseAPIError:
    """``exc``'s class, status, request and extras (``retry_after``) with ``message``."""
    new = type(exc)(message, status=exc.status, method=exc.method, path=exc.path)
    for k, v in vars(exc).items():
        if k not in ("status", "method", "path", "message"):
            setattr(new, k, v)
    return new


def _create_error(exc: ImburseAPIError, tenant_id: str, name: str, pending: str, *, tries: int,
                  left: ImburseAPIError | None = None) -> ImburseAPIError:
    """The error of a create that got no key, saying whether an attempt may have left one and what becomes of it.

    ``exc`` as it is for a first attempt that was simply refused; ``left`` is why a key an attempt may have
    made could not be revoked.
    """
    if tries == 1 and left is None:
        return exc
    what = f"creating key {name!r} in tenant {tenant_id} failed after {tries} attempts ({exc.message})."
    if left is None:
        return _with_message(exc, f"{what} Every key an earlier attempt may have made was revoked: nothing is left "
                                  "behind. Run the update again.")
    hint = (_STALE_HINT if PENDING_NAME.fullmatch(pending) else
            f"No state will ever hold it: revoke the tenant's keys named {pending!r} yourself (a name generated "
            "for this create, so no other key carries it).")
    return _with_message(exc, (
        f"{what} The last attempt may have made a key, named {pending!r}, that could not be revoked "
        f"({left.message}); nobody holds its private key. {hint}"))


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
