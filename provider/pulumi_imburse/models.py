"""Typed models of the Imburse API's JSON objects (wire names are camelCase)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

ADDRESS_FIELDS: Final[tuple[str, ...]] = (
    "streetAddress",
    "extendedStreetAddress",
    "locality",
    "region",
    "postCode",
    "country",
)
"""The address fields of a Tenant, in the API's order and spelling."""


@dataclass(frozen=True)
class Address:
    """A tenant's postal address; every field is free text and may be empty."""

    street_address: str = ""
    extended_street_address: str = ""
    locality: str = ""
    region: str = ""
    post_code: str = ""
    country: str = ""

    def to_api(self) -> dict[str, str]:
        """The wire form: ``{"streetAddress": ..., ...}``."""
        return dict(zip(ADDRESS_FIELDS, (getattr(self, f) for f in _ADDRESS_ATTRS), strict=True))

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> Address:
        """Build from the wire form; missing fields become ``""``."""
        data = data or {}
        return cls(*(str(data.get(k) or "") for k in ADDRESS_FIELDS))


_ADDRESS_ATTRS: Final = tuple(f for f in Address.__dataclass_fields__)


@dataclass(frozen=True)
class Tenant:
    """A tenant of an Imburse account."""

    tenant_id: str
    account_id: str
    name: str
    address: Address = field(default_factory=Address)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Tenant:
        """Build from the API's Tenant model."""
        return cls(
            tenant_id=str(data["tenantId"]),
            account_id=str(data.get("accountId") or ""),
            name=str(data.get("name") or ""),
            address=Address.from_api(data.get("address")),
        )

    def to_api(self) -> dict[str, Any]:
        """The API's Tenant model."""
        return {"tenantId": self.tenant_id, "accountId": self.account_id, "name": self.name,
                "address": self.address.to_api()}


@dataclass(frozen=True)
class ApiKey:
    """A tenant API key. ``private_key`` is set only on the result of a create call.

    Its ``repr`` never shows the private key.
    """

    account_id: str
    tenant_id: str
    name: str
    public_key: str
    roles: tuple[str, ...]
    private_key: str | None = field(default=None, repr=False)
    created_at: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ApiKey:
        """Build from the API's API Key model."""
        return cls(
            account_id=str(data.get("accountId") or ""),
            tenant_id=str(data.get("tenantId") or ""),
            name=str(data.get("name") or ""),
            public_key=str(data["publicKey"]),
            roles=tuple(data.get("roles") or ()),
            private_key=data.get("privateKey"),
            created_at=data.get("createdAt"),
        )


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and the moment it expires (epoch seconds). Its ``repr`` hides the token."""

    token: str = field(repr=False)
    expires_at: float
