"""How a tenant API key is created so that a create only ever revokes a key that it made itself.

Key names are not unique in Imburse (a hand-made key, a sibling resource, another stack's key or the old key of a
rotation may all share the declared name), and a create whose answer is lost (no answer, 502, 504, 500) may or may
not have made a key, whose private key is then lost: it must be revoked, and only it. So :func:`create_key`

1. makes the key under a *provisional* name no one else uses, ``pulumi-pending-<32 random hex digits>``
   (:func:`~pulumi_imburse.keys.rules.pending_name`, one per create). After an unknown outcome it revokes every key
   of that exact name (only this create's attempts carry it) and tries again (``RECONCILE_ATTEMPTS``, one time
   budget);
2. gives the key it got, whose public and private key it now holds, the declared name with a ``PUT`` (idempotent,
   retried by the transport). If that fails it revokes that key (by its public key) and fails: nothing is
   recorded, nothing is left behind;
3. lists the tenant once more if an attempt was unknown (a late commit of an earlier attempt still carries the
   provisional name) and, once per tenant per provider process, sweeps stale leftovers (below).

State therefore only ever holds a key made by its own create, under its declared name, with its private key.

A key with no declared ``name`` skips the provisional name: the name Check generated for it in this provider
process moments ago (``<resource name>-<8 random hex digits>``, remembered in the ledger's ``fresh_names``) is
carried by no other key, so the create makes the key under that name at once and reconciles by it exactly as
above, in one request. A declared name, even one copied from a generated name, always takes the provisional route.
(If the clean-up after a lost answer then fails too, the key it could not revoke carries that generated name,
which no state holds; the error names it, to be revoked by hand: the later sweep knows provisional names only.)

**Leftovers.** If revoking fails too (the service failing for a whole time budget; in step 1 the create then
stops instead of making more keys), the key it could not revoke carries its provisional name, which no state
ever holds and whose private key nobody holds. The error names it. The first create of a key in that tenant at
least ``PENDING_STALE_SECONDS`` (15 minutes, by the service's clock) after it was made revokes it, whichever stack
runs it; the age keeps a provisional key that another create still holds (at most three operation budgets) from
being touched. To clean up by hand, list the tenant's keys and revoke those named ``pulumi-pending-...``; names
of that form are refused as ``name``. (A create suspended for longer than that, e.g. a laptop asleep mid-``up``,
finds its key revoked and fails cleanly at step 2. A service that answers without ``createdAt`` gives no age:
nothing is swept.)

**Interrupted creates** (a ``kill -9`` of the provider process, the dynamic provider host or the CLI): the engine
never gets the answer, so no state holds the key, and once renamed nothing in the service tells it from a key
made by hand. So every create is written to the create journal (:mod:`pulumi_imburse.journal`) *before* its
``POST``, under its owner (the resource's URN) with the name it is created under (the provisional name, or the
fresh generated name: an auto-named key keeps its one request and is as findable), and its public key as soon as
the ``POST`` answers. A failure that left nothing behind settles the row; a success leaves it open until the
engine names the key again (Diff, Read, Update, Delete: the key is then in a state). Before a create for owner X,
:func:`settle_interrupted` revokes what every other open row of X in that account and tenant made (by public key,
and every key of the tenant carrying the row's name) and warns once per row: the engine creates X only when no
state holds it, and a replacement's Diff names the old key first. A create with no known owner journals its row
but settles nothing.

The protocol's memory (fresh names, tenants swept) is the :class:`~pulumi_imburse.ledger.Ledger` passed in, and
its warnings go to the ``warn`` passed in (the providers pass ``pulumi.log.warn``). No Pulumi import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..client import ImburseClient
from ..errors import (
    ImburseAPIError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from ..journal import Entry, Journal, process_alive
from ..ledger import Ledger
from ..models import ApiKey
from ..stores import StoreError
from ..validation import PENDING_NAME, PENDING_NAME_PREFIX
from ..values import parse_time
from .deliver import Delivery, undelivered
from .rules import autoname, key_name, pending_name

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
"""Where a warning for the user goes (the CLI's output, through ``pulumi.log.warn``)."""

RECONCILE_ATTEMPTS: Final = 8
"""Creates tried when the outcome is unknown, each after revoking what the previous one may have made.
At the 30% refused + 10% commit-then-504 rate CI sees, an attempt ends unknown ~21% of the time: 3
attempts lost 1 key in 100 (a 64-key apply failed about half the time), 8 lose fewer than 1 in 250,000.
All of them share one operation time budget (``ImburseClient.operation()``)."""
RENAME_ROUNDS: Final = 2
"""Rounds of the transport's retries (``RetryPolicy.attempts`` each) given to the rename of a new key before it
is revoked. At 30% refused + 10% commit-then-504 one round of 10 attempts fails about 1 rename in 20,000 (one
such failure turned a CI run red); two fail fewer than 1 in 10^8."""
TRANSIENT: Final = (ServerError, OutcomeUnknownError, RateLimitedError, TransportError)
"""Failures another round of a repeatable request may get past."""
PENDING_STALE_SECONDS: Final = 900
"""A provisionally named key at least this old (by the service's clock) is a leftover of a failed create.
A create holds its provisional key for at most three operation budgets (reconcile, rename, revoke: 3 x 60 s
by default); 15 minutes leaves a wide margin."""
LEFT_BEHIND: Final = "left_behind"
"""The attribute set (``True``) on the error of a create that may have left a key it could not revoke: its journal
row stays open, so the next create of the resource settles it."""
LIVE_WAIT_SECONDS: Final = 5.0
"""How long a create waits for another live process whose create of the same resource was interrupted to exit
(see :func:`settle_interrupted`)."""
STALE_HINT: Final = (f"The first key created by a TenantKey or RotatingTenantKey in that tenant "
                     f"{PENDING_STALE_SECONDS // 60} or more minutes later revokes any key named "
                     f"{PENDING_NAME_PREFIX}<32 hex digits> that old, by any stack.")


def name_for_create(props: Mapping[str, Any], ledger: Ledger) -> str:
    """The declared (or Check's generated) name of ``props``, else a new generated one recorded in ``ledger`` as
    fresh (a create whose inputs have no name: a name-less adopted key being replaced)."""
    if key_name(props):
        return str(key_name(props))
    name, fresh = autoname({}, props)
    return ledger.fresh_names.add(name) if fresh else name


def create_key(client: ImburseClient, tenant_id: str, roles: list[str], name: str, *, ledger: Ledger,
               warn: Warn, owner: str = "", delivery: Delivery | None = None) -> ApiKey:
    """Create a key named ``name`` that only this call can have made, with its private key.

    The module docs tell how: the interrupted creates of ``owner`` settled, the create written to the journal,
    a provisional name, reconciled by revoking only that name after an unknown outcome, then the rename to
    ``name`` (a key that cannot be named is revoked), then the sweep of stale leftovers. On failure it raises
    with nothing left behind that it could revoke (the error names any key it could not). Every resource that
    makes tenant keys creates them through this function. ``owner``: the resource's URN; empty (unknown) journals
    the create but settles nothing by it. ``delivery``: where the private key goes (:mod:`.deliver`): with a
    destination, the named key is written there before this returns (``delivery.stored``), and a key that cannot be
    stored is revoked; the returned key still carries its private key, for the caller to drop.
    """
    fresh = ledger.fresh_names.take(name)
    journal = ledger.journal
    if delivery is not None and delivery.active:
        _ = delivery.store  # opened before any key exists: a store that cannot be opened (no token) makes no key
    account = account_of(client)
    stored_elsewhere = (settle_interrupted(client, tenant_id, owner, account, ledger=ledger, warn=warn)
                        if owner else [])
    # A name this process generated for this key is unique, so it serves as its own provisional name: one request,
    # no rename. Either way the name is journalled before the POST, so a kill at any moment leaves it findable.
    pending = name if fresh else pending_name()
    row = journal.begin(owner, account, tenant_id, pending, delivery.record() if delivery is not None else "")
    try:
        key, unknown = create_pending(client, tenant_id, roles, name, pending)
    except ImburseAPIError as exc:
        if not getattr(exc, LEFT_BEHIND, False):
            journal.settle([row])  # refused, or every attempt's key revoked: nothing is left
        raise
    journal.made(row, key.public_key)
    if not fresh:
        # The key exists and its private key is known: from here on nothing is guessed, only this key is touched.
        try:
            named = rename(client, tenant_id, key.public_key, roles, name)
        except ImburseAPIError as exc:
            error = unnamed(client, tenant_id, key, pending, name, exc)
            if not getattr(error, LEFT_BEHIND, False):
                journal.settle([row])
            raise error from None
        key = dataclasses.replace(named, private_key=key.private_key, created_at=named.created_at or key.created_at)
    if delivery is not None and delivery.active:
        try:
            delivery.write(key, tenant_id=tenant_id)
        except StoreError as exc:
            failure, clean = undelivered(client, tenant_id, key, name, delivery, exc)
            if clean:
                journal.settle([row])
            raise failure from None
    if delivery is not None:
        withdraw_settled(stored_elsewhere, delivery, journal=journal, owner=owner, warn=warn)
    sweep(client, tenant_id, name if fresh else pending, keep=key.public_key, now=key.created_at,
          own_leftovers=unknown, ledger=ledger, warn=warn)
    return key


def account_of(client: ImburseClient) -> str:
    """The journal's name for the client's account: its base URL and account id (else its account key's public
    key, which is no secret)."""
    return f"{client.base_url} {client.account_id or client.public_key}"


def settle_interrupted(client: ImburseClient, tenant_id: str, owner: str, account: str, *, ledger: Ledger,
                       warn: Warn) -> list[Entry]:
    """Revoke the keys of ``owner``'s interrupted creates in the tenant (its open journal rows: no state holds
    them, see :mod:`pulumi_imburse.journal`) and settle those rows; warn once for each, without secrets. Rows whose
    key was delivered to a store are returned instead of settled: :func:`withdraw_settled` takes their versions out
    of the store once the new key is current there (so an application reading the store never meets an empty
    secret), then settles them.

    A row of another process still alive may be a create still running: it is waited for (the provider processes
    of a killed CLI exit within about a second, :mod:`pulumi_imburse.lifeline`) up to ``LIVE_WAIT_SECONDS``, then
    left for a later create. Best effort: a failure to list or revoke is reported and leaves the rows open.
    """
    journal = ledger.journal
    rows = journal.interrupted(owner, account, tenant_id)
    if not rows:
        return []
    deadline = time.monotonic() + LIVE_WAIT_SECONDS
    others = {r.pid for r in rows if r.pid != os.getpid()}
    while others and time.monotonic() < deadline:
        others = {pid for pid in others if process_alive(pid)}
        if others:
            time.sleep(0.1)
    rows = [r for r in rows if r.pid not in others]
    if not rows:
        return []
    try:
        with client.operation():
            live = client.list_keys(tenant_id)
            for r in rows:
                for k in live:
                    if k.public_key == r.public_key or k.name == r.name:
                        with contextlib.suppress(NotFoundError):
                            client.delete_key(tenant_id, k.public_key)
    except ImburseAPIError as exc:
        warn(f"{owner}: could not revoke the key(s) of {len(rows)} interrupted create(s) in tenant {tenant_id} "
             f"({exc.message}); the next create of this resource tries again.")
        return []
    stored = [r for r in rows if r.destination and r.public_key]
    journal.settle(r.id for r in rows if r not in stored)
    for r in rows:
        made = dt.datetime.fromtimestamp(r.created, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        what = f"key {r.public_key}" if r.public_key else f"any key named {r.name!r}"
        warn(f"{owner}: revoked {what} in tenant {tenant_id}, made at {made} by a create that was interrupted "
             "(the provider or the Pulumi CLI stopped before the key reached the state): no state holds it and "
             "nobody holds its private key. This create makes the resource's key again.")
    return stored


def withdraw_settled(rows: list[Entry], delivery: Delivery, *, journal: Journal, owner: str, warn: Warn) -> None:
    """Take the revoked keys of interrupted creates (``rows``, from :func:`settle_interrupted`) out of the stores
    they were delivered to, and settle their rows. Best effort: a store that fails is reported and its row stays
    open, for the next create of the resource."""
    done = []
    for r in rows:
        try:
            store = delivery.store_of(r.destination)
            if store is not None:
                store.withdraw(str(r.public_key))
        except StoreError as exc:
            warn(f"{owner}: could not take the revoked key {r.public_key} of an interrupted create out of its "
                 f"secret store ({exc}); the next create of this resource tries again.")
            continue
        done.append(r.id)
    journal.settle(done)


def create_pending(client: ImburseClient, tenant_id: str, roles: list[str], name: str,
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
                raise create_error(exc, tenant_id, name, pending, tries=attempt) from None
            try:
                revoke_named(client, tenant_id, pending)
            except ImburseAPIError as exc:
                raise create_error(last, tenant_id, name, pending, tries=attempt, left=exc) from None
    assert last is not None
    raise create_error(last, tenant_id, name, pending, tries=RECONCILE_ATTEMPTS) from None


def rename(client: ImburseClient, tenant_id: str, public_key: str, roles: list[str], name: str) -> ApiKey:
    """Give the new key its declared name: at most ``RENAME_ROUNDS`` rounds of the transport's retries.

    The rename is idempotent, and the key it names is ours with its private key in hand, so a transient
    failure (a round of refusals, 5xx or a lost answer) is worth another round rather than revoking a
    good key. All rounds share one operation time budget.
    """
    with client.operation():
        for round_ in range(1, RENAME_ROUNDS + 1):
            try:
                return client.update_key(tenant_id, public_key, roles, name)
            except TRANSIENT as exc:
                if round_ == RENAME_ROUNDS:
                    raise
                log.info("renaming key %s to %r (round %d): %s; trying again", public_key, name, round_,
                         exc.status)
    raise AssertionError("unreachable")


def revoke_named(client: ImburseClient, tenant_id: str, name: str, *, keep: str | None = None) -> int:
    """Revoke every key of the tenant named ``name`` except ``keep``; how many were revoked."""
    revoked = 0
    for k in client.list_keys(tenant_id):
        if k.name == name and k.public_key != keep:
            with contextlib.suppress(NotFoundError):  # already revoked: the goal is met
                client.delete_key(tenant_id, k.public_key)
            revoked += 1
    return revoked


def unnamed(client: ImburseClient, tenant_id: str, key: ApiKey, pending: str, name: str,
            exc: ImburseAPIError) -> ImburseAPIError:
    """The error of a create whose key could not be given its name: the key (ours) is revoked first."""
    what = f"Key {name!r}: the key {key.public_key} was created in tenant {tenant_id}"
    try:
        with contextlib.suppress(NotFoundError):
            client.delete_key(tenant_id, key.public_key)
    except ImburseAPIError as revoke:
        return left_behind(with_message(exc, (
            f"{what} but could not be given its name ({exc.message}) nor revoked ({revoke.message}). It is "
            f"named {pending!r} (or {name!r}, if the rename was carried out unanswered) and nobody holds its "
            f"private key. {STALE_HINT} Or revoke key {key.public_key} yourself. Then run the update again.")))
    return with_message(exc, f"{what} but could not be given its name ({exc.message}); it was revoked, so "
                             "nothing is left behind. Run the update again.")


def sweep(client: ImburseClient, tenant_id: str, pending: str, *, keep: str, now: str | None,
          own_leftovers: bool, ledger: Ledger, warn: Warn) -> None:
    """Revoke what failed creates left in the tenant: this create's other ``pending`` keys, and stale ones.

    A provisional name is never in any state and its private key is held by no one once its create
    ended, so a provisionally named key older than ``PENDING_STALE_SECONDS`` (by the service's clock: this
    create's own ``createdAt`` is "now") is a leftover of a create that failed. The tenant is listed when
    this create had an unknown outcome, and otherwise once per tenant per ledger (provider process). Best
    effort: a failure is reported and leaves the leftovers to a later create.
    """
    first = ledger.swept.claim(tenant_id)
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
        ledger.swept.release(tenant_id)
        warn(f"Could not look for keys left over by failed creates in tenant {tenant_id} "
             f"({exc.message}). {STALE_HINT}")
        return
    if stale:
        warn(f"Revoked {stale} key(s) named {PENDING_NAME_PREFIX}... in tenant {tenant_id}: "
             "left over by creates that failed at least "
             f"{PENDING_STALE_SECONDS // 60} minutes ago; nobody held their private keys.")


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


def with_message(exc: ImburseAPIError, message: str) -> ImburseAPIError:
    """``exc``'s class, status, request and extras (``retry_after``) with ``message``."""
    new = type(exc)(message, status=exc.status, method=exc.method, path=exc.path)
    for k, v in vars(exc).items():
        if k not in ("status", "method", "path", "message"):
            setattr(new, k, v)
    return new


def create_error(exc: ImburseAPIError, tenant_id: str, name: str, pending: str, *, tries: int,
                 left: ImburseAPIError | None = None) -> ImburseAPIError:
    """The error of a create that got no key, saying whether an attempt may have left one and what becomes of it.

    ``exc`` as it is for a first attempt that was simply refused; ``left`` is why a key an attempt may have
    made could not be revoked.
    """
    if tries == 1 and left is None:
        return exc
    what = f"creating key {name!r} in tenant {tenant_id} failed after {tries} attempts ({exc.message})."
    if left is None:
        return with_message(exc, f"{what} Every key an earlier attempt may have made was revoked: nothing is left "
                                 "behind. Run the update again.")
    hint = (STALE_HINT if PENDING_NAME.fullmatch(pending) else
            f"No state will ever hold it: revoke the tenant's keys named {pending!r} yourself (a name generated "
            "for this create, so no other key carries it).")
    return left_behind(with_message(exc, (
        f"{what} The last attempt may have made a key, named {pending!r}, that could not be revoked "
        f"({left.message}); nobody holds its private key. {hint}")))


def left_behind(exc: ImburseAPIError) -> ImburseAPIError:
    """``exc``, marked as the error of a create that may have left a key behind (see :data:`LEFT_BEHIND`)."""
    setattr(exc, LEFT_BEHIND, True)
    return exc
