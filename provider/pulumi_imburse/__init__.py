"""Pulumi dynamic provider for Imburse tenants and tenant API keys.

The resource classes (and the client) are imported on first use, so tools that need only the
light modules (the emulator, the HMAC signer) do not pay for importing the Pulumi SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AdoptionError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ImburseAPIError,
    ImburseError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TokenExchangeError,
    TransportError,
    ValidationError,
)
from .roles import ACCOUNT_ROLES, TENANT_ROLES
from .version import __version__

if TYPE_CHECKING:
    from .client import ImburseClient
    from .rotating_key import RotatingTenantKey, RotatingTenantKeyArgs, RotatingTenantKeyProvider
    from .tenant import Tenant, TenantAddressArgs, TenantArgs, TenantProvider
    from .tenant_key import TenantKey, TenantKeyArgs, TenantKeyProvider

_LAZY = {
    "ImburseClient": ".client",
    "RotatingTenantKey": ".rotating_key",
    "RotatingTenantKeyArgs": ".rotating_key",
    "RotatingTenantKeyProvider": ".rotating_key",
    "Tenant": ".tenant",
    "TenantAddressArgs": ".tenant",
    "TenantArgs": ".tenant",
    "TenantProvider": ".tenant",
    "TenantKey": ".tenant_key",
    "TenantKeyArgs": ".tenant_key",
    "TenantKeyProvider": ".tenant_key",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACCOUNT_ROLES",
    "TENANT_ROLES",
    "AdoptionError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ImburseAPIError",
    "ImburseClient",
    "ImburseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RotatingTenantKey",
    "RotatingTenantKeyArgs",
    "RotatingTenantKeyProvider",
    "ServerError",
    "Tenant",
    "TenantAddressArgs",
    "TenantArgs",
    "TenantKey",
    "TenantKeyArgs",
    "TenantKeyProvider",
    "TenantProvider",
    "TokenExchangeError",
    "TransportError",
    "ValidationError",
    "__version__",
]
