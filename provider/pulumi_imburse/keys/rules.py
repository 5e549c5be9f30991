"""The pure rules of tenant API keys: input checks and their normal form, comparisons, names and the rotation clock.

Shared by every key resource (:mod:`pulumi_imburse.tenant_key`, :mod:`pulumi_imburse.rotating_key`) and free of
side effects: nothing here calls the API, logs or remembers anything (a generated name is returned, and the caller
records it in its :class:`~pulumi_imburse.ledger.Ledger`). No Pulumi import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ..roles import normalize_roles
from ..shapes import ROTATING_KEY, TENANT_KEY
from ..stores import destination as destinations
from ..validation import (
    NAME_MAX_LENGTH,
    PENDING_NAME_PREFIX,
    Problem,
    check_grace_days,
    check_guid,
    check_keepers,
    check_key_name,
    check_rotation_days,
    check_tenant_roles,
    normalize_guid,
    number_text,
)
from ..values import UNKNOWN, is_unknown, parse_time
from ..values import now as current_time

Rule = Callable[[str, Any], list[Problem]]
"""A check of one input: ``rule(property, value)`` is what is wrong with it (nothing: ``[]``)."""

GENERATED_NAME: Final = "__generatedName"
"""Where the checked inputs (so the state's inputs) hold a name the provider generated, rather than ``name``.

The engine compares a resource's stored inputs with the program's own inputs in places where no Check runs (the
line ``pulumi refresh --run-program`` prints for each resource before reading it): a generated ``name`` there,
which the program never declared, showed as ``[diff: -name]``. Properties whose name starts with ``__`` are the
provider's own, never compared or shown (as ``__provider``). Read :func:`key_name` for a key's name."""

AUTONAME_SUFFIX_BYTES: Final = 4
"""Random bytes (hex digits / 2) at the end of a generated name: ``<resource name>-<8 hex digits>``."""
AUTONAME_PREFIX_MAX: Final = NAME_MAX_LENGTH - 1 - 2 * AUTONAME_SUFFIX_BYTES
"""Longest part of a resource name a generated name keeps (91): the whole name then fits the API's 100."""


# ------------------------------------------------------------------ names

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


def key_name(inputs: Mapping[str, Any]) -> Any:
    """The name checked inputs give a key: the declared ``name``, else the generated one, else ``None`` (an adopted
    key's name, not managed)."""
    declared = inputs.get("name")
    return declared if declared is not None else inputs.get(GENERATED_NAME)


def autoname(olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[str, bool]:
    """Pulumi-style auto-naming: ``(name, whether it was generated now)``.

    The prior generated name is kept (``False``); otherwise ``<resource name>-<random>`` is made (``True``: the
    caller records it as fresh). A resource name not known yet gives :data:`~pulumi_imburse.values.UNKNOWN`. On a
    replacement the engine calls Check again without olds, so the new key gets a new name.
    """
    prefix = news.get("namePrefix")
    old_name = olds.get(GENERATED_NAME) or olds.get("name")  # states from before GENERATED_NAME: in ``name``
    if isinstance(old_name, str) and isinstance(prefix, str) and is_generated_name(old_name, prefix):
        return old_name, False
    if is_unknown(prefix) or not isinstance(prefix, str):
        return UNKNOWN, False
    return generated_name(prefix), True


# ------------------------------------------------------------------ checks and the normal form

def check_known(prop: str, value: Any, rule: Rule) -> list[Problem]:
    """Apply ``rule`` unless the value is not known yet (preview): the engine checks again at apply."""
    return [] if is_unknown(value) else rule(prop, value)


def check_tenant_id(prop: str, value: Any) -> list[Problem]:
    """A tenant id: a GUID, never echoed (it may come from a secret; the engine unwraps secrets before Check)."""
    return check_guid(prop, value, show_value=False)


def check_resource_name(prop: str, value: Any) -> list[Problem]:
    """``namePrefix`` is the resource name, set by the constructor, never by the user: any non-empty string works
    (a generated name keeps its first ``AUTONAME_PREFIX_MAX`` characters)."""
    if not isinstance(value, str) or not value:
        return [Problem(prop, f"the resource name must be a non-empty string, got {type(value).__name__}")]
    return []


KEY_RULES: Final[tuple[tuple[str, Rule], ...]] = (
    ("tenantId", check_tenant_id), ("roles", check_tenant_roles), ("name", check_key_name),
    ("namePrefix", check_resource_name), ("rotationDays", check_rotation_days), ("keepers", check_keepers))
"""The rule of each input every tenant key resource has."""


def key_problems(inputs: Mapping[str, Any], rules: tuple[tuple[str, Rule], ...] = KEY_RULES) -> list[Problem]:
    """What is wrong with the inputs (by default those every tenant key resource has: tenantId, roles, name,
    namePrefix, rotationDays, keepers); values not known yet (preview) are left to the apply's Check."""
    return [p for prop, rule in rules for p in check_known(prop, inputs.get(prop), rule)]


def check_grace_period(prop: str, grace: Any, rotation: Any, rotation_prop: str) -> list[Problem]:
    """``graceDays`` (at ``prop``) itself, and less than ``rotationDays`` (at ``rotation_prop``) when that is set
    and valid (else a scheduled rotation would come while the previous key is still in its grace period, and
    cut it short). Values not known yet (preview) are left to the apply's Check."""
    problems = check_known(prop, grace, check_grace_days)
    if (not problems and isinstance(grace, (int, float)) and isinstance(rotation, (int, float))
            and not check_rotation_days(rotation_prop, rotation) and grace >= rotation):
        problems.append(Problem(prop, (
            f"{prop} must be less than {rotation_prop} ({days_text(rotation)}), so a rotation never cuts the previous "
            f"key's grace period short; got {days_text(grace)}")))
    return problems


GUID_INPUTS: Final = ("tenantId", "adoptPublicKey")
"""Inputs kept in the service's (lower) case, so a letter case never replaces a key."""
OPTIONAL_INPUTS: Final = tuple(dict.fromkeys(
    p.wire for shape in (TENANT_KEY, ROTATING_KEY) for p in shape.declared() if not p.required and p.wire != "name"))
"""Optional inputs of the key resources dropped from the checked inputs when not given (``name`` is generated)."""


def normalize_key_inputs(inputs: dict[str, Any], olds: Mapping[str, Any]) -> str | None:
    """Check's normal form of a key resource's valid inputs, in place: ids in the service's (lower) case, so a
    letter case never replaces a key; roles sorted; optional inputs not given dropped; and, with no declared
    ``name``, a generated one (kept from ``olds``) in :data:`GENERATED_NAME`, unless the key is adopted (its name
    is not managed).

    Returns the name generated now (for the caller's ledger of fresh names), else ``None``.
    """
    for k in GUID_INPUTS:
        if isinstance(inputs.get(k), str) and not is_unknown(inputs[k]):
            inputs[k] = normalize_guid(inputs[k])
    if isinstance(inputs.get("roles"), list) and not is_unknown(inputs["roles"]):
        inputs["roles"] = normalize_roles(inputs["roles"])
    for k in OPTIONAL_INPUTS:
        if inputs.get(k) is None:
            inputs.pop(k, None)
    inputs.pop(GENERATED_NAME, None)
    if inputs.get("name") is None:
        inputs.pop("name", None)
        if "adoptPublicKey" not in inputs:
            inputs[GENERATED_NAME], fresh = autoname(olds, inputs)
            return inputs[GENERATED_NAME] if fresh else None
    return None


def resolve_destination(inputs: dict[str, Any], default: Any) -> None:
    """Check's normal form of a valid ``destination``, in place: the key's own over the provider-wide ``default``,
    placeholders filled (:func:`pulumi_imburse.stores.destination.resolve`); none: dropped."""
    resolved = destinations.resolve(inputs.get("destination"), default, tenant_id=inputs.get("tenantId"),
                                    resource_name=inputs.get("namePrefix"))
    if resolved is None:
        inputs.pop("destination", None)
    else:
        inputs["destination"] = resolved


def store_lost(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether a refresh found the stored private key of a delivered key lost (its fingerprint emptied) and the
    destination (unmoved) asks for a new key then (``onLoss`` is not ``keep``)."""
    return (destinations.is_store(olds.get("destination")) and bool(olds.get("publicKey"))
            and not olds.get("privateKeyFingerprint") and not destinations.keeps_on_loss(news.get("destination"))
            and not moved(olds, news))


def moved(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether the destination's secret is another one than the key was delivered to (a key is made again there)."""
    return changed(destinations.location(olds.get("destination")), destinations.location(news.get("destination")))


def read_inputs(outs: Mapping[str, Any], inputs: Sequence[str]) -> dict[str, Any]:
    """The inputs a refresh's Read records for a key of outputs ``outs``: as Check would give them, a generated
    name (one made from ``namePrefix``) in :data:`GENERATED_NAME`."""
    result = {k: outs[k] for k in inputs if outs.get(k) is not None}
    name, prefix = result.get("name"), result.get("namePrefix")
    if isinstance(name, str) and isinstance(prefix, str) and is_generated_name(name, prefix):
        result[GENERATED_NAME] = result.pop("name")
    return result


# ------------------------------------------------------------------ comparisons

def changed(old: Any, new: Any) -> bool:
    """Whether an input changed: a value not known yet counts as a change; unset and empty are the same."""
    if is_unknown(new):
        return True
    return (old or None) != (new or None)


def compared(prop: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(prior output, checked input)`` of an in-place property as Diff compares them: roles as a set, the name as
    the checked inputs give it (declared or generated, :func:`key_name`)."""
    if prop == "roles":
        return roles_key(olds.get(prop)), roles_key(news.get(prop))
    if prop == "name":
        return olds.get(prop), key_name(news)
    return olds.get(prop), news.get(prop)


def id_key(value: Any) -> Any:
    """A GUID compared as the service does: without regard to letter case (states from before Check
    normalised it may hold an upper-case tenantId)."""
    return normalize_guid(value) if isinstance(value, str) and not is_unknown(value) else value


def roles_key(roles: Any) -> Any:
    """Roles compared as a set (sorted, without duplicates); values not known yet as they are."""
    if isinstance(roles, (list, tuple)) and not is_unknown(roles):
        return normalize_roles(list(roles))
    return roles


# ------------------------------------------------------------------ the rotation clock

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
    return due is not None and (now or current_time()) >= due


def previous_expires_at(created_at: Any, grace_days: Any) -> dt.datetime | None:
    """When a previous key stops being kept: ``grace_days`` after the current key's ``created_at``."""
    return days_after(created_at, grace_days)


def grace_over(created_at: Any, grace_days: Any, *, now: dt.datetime) -> bool:
    """Whether the grace period of the key the current one (created at ``created_at``) replaced is over at
    ``now``. Unknown or missing values: not over (a previous key is never revoked on a guess)."""
    ends = previous_expires_at(created_at, grace_days)
    return ends is not None and now >= ends


ROTATE_ON: Final = ROTATING_KEY.changes("rotate")
"""Inputs whose change rotates a rotating key in place (a new current key; the old one kept as the previous)."""


@dataclasses.dataclass(frozen=True)
class RotationPlan:
    """What an update of a ``RotatingTenantKey`` does about its keys, in this order."""

    revoke_previous: bool = False
    """Revoke the previous key: its grace period is over, or a rotation displaces it (``cut_short``)."""
    cut_short: bool = False
    """The previous key is revoked before its grace period ended (a ``keepers`` rotation during it)."""
    rotate: bool = False
    """Create a new current key; the current one (if it still exists) becomes the previous key."""
    reasons: tuple[str, ...] = ()
    """Why, in words, for the CLI's messages: what the update will do (Diff says them, before a preview or an up)."""

    @property
    def acts(self) -> bool:
        """Whether the update touches any key."""
        return self.revoke_previous or self.rotate


def days_text(value: Any) -> str:
    """A number of days as the user wrote it (the engine sends numbers as floats: 90.0 is 90)."""
    return number_text(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def age_days(created_at: Any, *, now: dt.datetime) -> int | None:
    """Whole days since ``created_at`` at ``now`` (``None``: no readable time)."""
    began = parse_time(created_at) if created_at and not is_unknown(created_at) else None
    return (now - began).days if began is not None else None


def rotation_due_reason(created_at: Any, rotation_days: Any, *, now: dt.datetime) -> str:
    """Why a key is due, in words: ``is 91 days old (createdAt ...), rotationDays 90``."""
    age = age_days(created_at, now=now)
    return f"is {age} days old (createdAt {created_at}), rotationDays {days_text(rotation_days)}"


def plan(olds: Mapping[str, Any], news: Mapping[str, Any], *, now: dt.datetime) -> RotationPlan:
    """The rotation decisions for prior outputs ``olds`` and checked inputs ``news`` at ``now`` (pure).

    Rotate when the current key is gone (revoked outside Pulumi), when ``keepers`` changed, or when the current
    key is ``rotationDays`` old by its ``createdAt``. Revoke the previous key when the current key is
    ``graceDays`` old (its grace is over), or, cut short, when a rotation happens while it is still in grace.
    """
    current = bool(olds.get("publicKey"))
    created = olds.get("createdAt")
    reasons: list[str] = []
    # Diff says these, before a preview and before an up alike: what the update will do, never what it did.
    if not current:
        reasons.append("its current key is gone (revoked outside Pulumi): the update will make a new one")
    elif any(changed(olds.get(k), news.get(k)) for k in ROTATE_ON):
        reasons.append("keepers changed: the update will rotate it")
    elif store_lost(olds, news):
        reasons.append("its stored private key was deleted or overwritten (a refresh found it): the update will "
                       "rotate it and deliver the new key")
    elif rotation_due(created, news.get("rotationDays"), now=now):
        reasons.append(f"its current key {rotation_due_reason(created, news.get('rotationDays'), now=now)}: the "
                       "update will rotate it")
    rotate = bool(reasons)
    revoke = cut_short = False
    if olds.get("previousPublicKey") and current:
        if grace_over(created, news.get("graceDays"), now=now):
            revoke = True
            reasons.append(f"the previous key's grace period ({days_text(news.get('graceDays'))} days from the "
                           "current key's createdAt) is over: the update will revoke it")
        elif rotate and not is_unknown(news.get("graceDays")):
            revoke = cut_short = True
            reasons.append("the previous key, still in its grace period, will be revoked before the rotation (a "
                           "resource holds two keys at most)")
    return RotationPlan(revoke_previous=revoke, cut_short=cut_short, rotate=rotate, reasons=tuple(reasons))
