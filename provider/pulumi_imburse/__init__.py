"""Pulumi dynamic provider for Imburse tenants and tenant API keys."""

from __future__ import annotations

from .errors import (
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
    TransportError,
    ValidationError,
)
from .roles import ACCOUNT_ROLES, TENANT_ROLES

__version__ = "0.1.0"

__all__ = [
    "ACCOUNT_ROLES",
    "TENANT_ROLES",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ImburseAPIError",
    "ImburseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "ValidationError",
    "__version__",
]
