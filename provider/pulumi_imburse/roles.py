"""The Imburse role vocabulary: the one place the role names live.

The client, the provider's input validation, the emulator's authorization rules, the OpenAPI
document and the policy pack all read these constants; nothing else spells a role name.
"""

from __future__ import annotations

from typing import Final

TENANT_ADMIN: Final = "tenant-admin"
"""Everything inside the tenant, including minting its own keys (self-service)."""

TENANT_ROLES: Final[tuple[str, ...]] = (
    TENANT_ADMIN,
    "tenant-management",
    "tenant-app-read",
    "tenant-app-write",
    "tenant-collect-scheme-read",
    "tenant-collect-scheme-write",
    "tenant-payout-scheme-read",
    "tenant-payout-scheme-write",
    "tenant-reward-group-read",
    "tenant-reward-group-write",
    "tenant-transaction-read",
    "tenant-transaction-write",
)
"""Roles a tenant API key may hold."""

ACCOUNT_ADMIN: Final = "account-admin"
ACCOUNT_TENANT_READ: Final = "account-tenant-read"
ACCOUNT_TENANT_WRITE: Final = "account-tenant-write"
ACCOUNT_TENANT_APPROVAL: Final = "account-tenant-approval"

ACCOUNT_ROLES: Final[tuple[str, ...]] = (
    ACCOUNT_ADMIN,
    ACCOUNT_TENANT_READ,
    ACCOUNT_TENANT_WRITE,
    ACCOUNT_TENANT_APPROVAL,
)
"""Roles an account API key may hold (never valid on a tenant key)."""

LEGACY_ROLE_CODES: Final[dict[str, str]] = {"t.sup.a": TENANT_ADMIN}
"""Compact role codes of the 2019 API generation (seed `001_...`) and their current names."""

ACCOUNT_WRITE_ROLES: Final[frozenset[str]] = frozenset({ACCOUNT_ADMIN, ACCOUNT_TENANT_WRITE})
"""Account roles that may create, change and delete tenants and tenant keys."""

ACCOUNT_READ_ROLES: Final[frozenset[str]] = ACCOUNT_WRITE_ROLES | {ACCOUNT_TENANT_READ}
"""Account roles that may read tenants and tenant keys."""


def normalize_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    """Return ``roles`` sorted and without duplicates: order and repetition carry no meaning."""
    return sorted(set(roles))
