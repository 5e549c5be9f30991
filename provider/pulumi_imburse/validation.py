"""Input rules shared by the provider's ``check`` and the emulator: one place for each rule.

Each function returns a list of :class:`Problem`; an empty list means the value is valid.
Messages name the property and, where there is a closed set, the allowed values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .models import ADDRESS_FIELDS
from .roles import ACCOUNT_ROLES, TENANT_ROLES

NAME_MAX_LENGTH: Final = 100
"""Longest key or tenant name the API accepts (characters)."""


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


def check_guid(prop: str, value: object) -> list[Problem]:
    """``value`` must be a GUID string."""
    if value is None or value == "":
        return [Problem(prop, f"{prop} is required: a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7")]
    if not is_guid(value):
        return [Problem(prop, f"{prop} must be a GUID such as 88fdb12a-14dc-419c-b74c-422e2c25cfe7, got {value!r}")]
    return []


def check_name(prop: str, value: object, *, required: bool = False) -> list[Problem]:
    """An optional (or required) name: a non-empty string of at most ``NAME_MAX_LENGTH`` characters."""
    if value is None:
        return [Problem(prop, f"{prop} is required")] if required else []
    if not isinstance(value, str):
        return [Problem(prop, f"{prop} must be a string, got {type(value).__name__}")]
    if not value.strip():
        return [Problem(prop, f"{prop} must not be empty")]
    if len(value) > NAME_MAX_LENGTH:
        return [Problem(prop, f"{prop} must be at most {NAME_MAX_LENGTH} characters, got {len(value)}")]
    return []


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
