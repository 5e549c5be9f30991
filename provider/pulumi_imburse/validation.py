"""Input rules shared by the provider's ``check`` and the emulator: one place for each rule.

Each function returns a list of :class:`Problem`; an empty list means the value is valid.
Messages name the property and, where there is a closed set, the allowed values.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .models import ADDRESS_FIELDS
from .roles import ACCOUNT_ROLES, TENANT_ROLES

NAME_MAX_LENGTH: Final = 100
"""Longest key or tenant name the API accepts (characters)."""

ROTATION_DAYS_MAX: Final = 36_500
"""Longest ``rotationDays`` accepted: 100 years. (Past about 2.9 million days a key's rotation date is beyond
the year 9999, which no date type holds.)"""

GUID_EXAMPLE: Final = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"

PENDING_NAME_PREFIX: Final = "pulumi-pending-"
"""Start of the name a ``TenantKey`` carries while it is being created (see :mod:`pulumi_imburse.tenant_key`)."""
PENDING_NAME: Final = re.compile(rf"{re.escape(PENDING_NAME_PREFIX)}[0-9a-f]{{32}}")
"""The whole provisional name of a key being created: the prefix and 32 random hex digits."""


@dataclass(frozen=True)
class Problem:
    """One invalid property: its (wire) name and why."""

    property: str
    reason: str


def is_guid(value: object) -> bool:
    """Whether ``value`` is a GUID string such as ``88fdb12a-14dc-419c-b74c-422e2c25cfe7``."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def normalize_guid(value: str) -> str:
    """The service's form of a GUID: lower case (the service answers in lower case, and compares ids so)."""
    return value.lower()


def check_guid(prop: str, value: object, *, show_value: bool = True) -> list[Problem]:
    """``value`` must be a GUID string.

    With ``show_value=False`` the message never contains the value, only its type and length: a provider
    cannot tell which inputs are secrets (the engine unwraps them before Check), so the value of an input
    that may come from a secret (a tenant id from a secret config or a stack reference) is not echoed.
    """
    if value is None or value == "":
        return [Problem(prop, f"{prop} is required: a GUID such as {GUID_EXAMPLE}")]
    if not is_guid(value):
        got = repr(value) if show_value else describe(value)
        return [Problem(prop, f"{prop} must be a GUID such as {GUID_EXAMPLE}, got {got}")]
    return []


def describe(value: object) -> str:
    """What ``value`` is, without its content: ``a string of 4 characters (not shown)``, ``int``..."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters (not shown: inputs may be secrets)"
    return f"a value of type {type(value).__name__} (not shown: inputs may be secrets)"


BIDI_CONTROLS: Final = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
"""Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they make a name read
differently from what it is (``Trojan Source``)."""


def check_name(prop: str, value: object, *, required: bool = False, plain: bool = True) -> list[Problem]:
    """An optional (or required) name: a non-empty string of at most ``NAME_MAX_LENGTH`` characters.

    With ``plain`` (every declaration: the resources of both faces and declarative config) the name must also be
    text a person reads as it is: no control character (newline, tab, NUL...), no bidirectional override or
    isolate, no space at either end. The emulator, which plays a service that takes any text, passes ``False``.
    """
    if value is None:
        return [Problem(prop, f"{prop} is required")] if required else []
    if not isinstance(value, str):
        return [Problem(prop, f"{prop} must be a string, got {type(value).__name__}")]
    if not value.strip():
        return [Problem(prop, f"{prop} must not be empty")]
    if len(value) > NAME_MAX_LENGTH:
        return [Problem(prop, f"{prop} must be at most {NAME_MAX_LENGTH} characters, got {len(value)}")]
    return name_text_problems(prop, value) if plain else []


def name_text_problems(prop: str, value: str) -> list[Problem]:
    """The plain-text rule of a name (see :func:`check_name`): each offending character is named by its code."""
    bad = sorted({c for c in value if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS})
    problems = []
    if bad:
        codes = ", ".join(f"U+{ord(c):04X}" for c in bad)
        problems.append(Problem(prop, f"{prop} must not contain control characters or bidirectional overrides/"
                                      f"isolates (U+0000-U+001F, U+007F-U+009F, U+202A-U+202E, U+2066-U+2069); "
                                      f"found {codes}"))
    if value != value.strip():
        problems.append(Problem(prop, f"{prop} must not begin or end with spaces"))
    return problems


def check_key_name(prop: str, value: object) -> list[Problem]:
    """An optional tenant key name: :func:`check_name`, and not a provisional name (:data:`PENDING_NAME`)."""
    problems = check_name(prop, value)
    if not problems and isinstance(value, str) and PENDING_NAME.fullmatch(value):
        problems.append(Problem(prop, f"{prop}: names of the form {PENDING_NAME_PREFIX}<32 hex digits> are "
                                      "reserved for keys being created; choose another name"))
    return problems


def check_rotation_days(prop: str, value: object) -> list[Problem]:
    """An optional whole number of days from 1 to :data:`ROTATION_DAYS_MAX`."""
    if value is None:
        return []
    return _whole_days(prop, value, 1, f"a positive whole number of days, at most {ROTATION_DAYS_MAX} (100 years)")


def check_grace_days(prop: str, value: object) -> list[Problem]:
    """A required whole number of days from 0 to :data:`ROTATION_DAYS_MAX`: how long a rotated-out key keeps
    working (``graceDays`` of a rotating key)."""
    allowed = f"a whole number of days from 0 to {ROTATION_DAYS_MAX} (100 years)"
    if value is None:
        return [Problem(prop, f"{prop} is required: {allowed}")]
    return _whole_days(prop, value, 0, allowed)


def _whole_days(prop: str, value: object, minimum: int, allowed: str) -> list[Problem]:
    """A whole number of days from ``minimum`` to :data:`ROTATION_DAYS_MAX`; ``allowed`` says so in words."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return [Problem(prop, f"{prop} must be {allowed}, got {_shown(value)}")]
    if not math.isfinite(value) or value != int(value) or not minimum <= value <= ROTATION_DAYS_MAX:
        return [Problem(prop, f"{prop} must be {allowed}, got {number_text(value)}")]
    return []


def number_text(value: float) -> str:
    """A number as the user wrote it: the engine sends every number as a float, so a ``0`` written in YAML or JSON
    arrives as ``0.0`` and is shown ``0``; a fraction, ``inf`` and ``nan`` as Python shows them."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


def check_keepers(prop: str, value: object) -> list[Problem]:
    """An optional map of strings."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [Problem(prop, f"{prop} must be a map of strings, got {type(value).__name__}")]
    return [
        Problem(prop, f"{prop}[{k!r}] must be a string, got {type(v).__name__}")
        for k, v in value.items()
        if not isinstance(v, str)
    ]


def check_bool(prop: str, value: object) -> list[Problem]:
    """An optional boolean (``true``/``false``; the string ``"false"`` is not one)."""
    if value is None or isinstance(value, bool):
        return []
    return [Problem(prop, f"{prop} must be true or false, got {_shown(value)}")]


def _shown(value: object) -> str:
    """``value`` as a message shows it, saying when it is a string (``"90"`` is not ``90``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_text(value)
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


def check_tenant_roles(prop: str, value: object) -> list[Problem]:
    """A non-empty list of tenant roles (account roles are rejected by name)."""
    allowed = ", ".join(TENANT_ROLES)
    if not isinstance(value, (list, tuple)) or not value:
        return [Problem(prop, f"{prop} must be a non-empty list of tenant roles; allowed: {allowed}")]
    problems = []
    for i, role in enumerate(value):
        if not isinstance(role, str):
            problems.append(Problem(prop, f"{prop}[{i}] must be a string; allowed: {allowed}"))
        elif role in ACCOUNT_ROLES:
            problems.append(Problem(prop, f"{prop}[{i}] {role!r} is an account role and cannot be given "
                                          f"to a tenant key; allowed: {allowed}"))
        elif role not in TENANT_ROLES:
            problems.append(Problem(prop, f"{prop}[{i}] {role!r} is not a tenant role; allowed: {allowed}"))
    return problems


def check_address(prop: str, value: object) -> list[Problem]:
    """An optional address object whose keys are the API's address fields and values strings."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [Problem(prop, f"{prop} must be an object with keys {', '.join(ADDRESS_FIELDS)}")]
    problems = []
    for k, v in value.items():
        if k not in ADDRESS_FIELDS:
            problems.append(Problem(f"{prop}.{k}", f"{prop}.{k} is not an address field; "
                                                   f"allowed: {', '.join(ADDRESS_FIELDS)}"))
        elif v is not None and not isinstance(v, str):
            problems.append(Problem(f"{prop}.{k}", f"{prop}.{k} must be a string"))
    return problems


def check_unknown(props: Mapping[str, Any], allowed: tuple[str, ...] | frozenset[str]) -> list[Problem]:
    """Every key of ``props`` must be one of ``allowed``."""
    return [
        Problem(k, f"{k} is not a property of this resource; allowed: {', '.join(sorted(allowed))}")
        for k in props
        if k not in allowed
    ]


def check_text(prop: str, value: object) -> list[Problem]:
    """An optional free-text value (``None`` or a string), such as one address field sent flat."""
    if value is None or isinstance(value, str):
        return []
    return [Problem(prop, f"{prop} must be a string, got {type(value).__name__}")]
