"""The route table of the Imburse key-management API: the one place a path is spelled.

The client builds every URL from :data:`DEFAULT_ROUTES`, the emulator mounts its handlers on the
same table, ``/_emulator/stats`` counts requests by these templates, and the OpenAPI document is
generated from it. A user on another API generation swaps one table (see :data:`LEGACY_ROUTES`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote

Auth = Literal["hmac", "bearer"]


@dataclass(frozen=True)
class Route:
    """One API operation: an HTTP method, a path template and the credential it takes."""

    name: str
    method: str
    path: str
    auth: Auth = "bearer"
    summary: str = ""

    @property
    def template(self) -> str:
        """``"METHOD /path/{param}"``: how the operation is named in stats and logs."""
        return f"{self.method} {self.path}"

    def format(self, **params: str) -> str:
        """The concrete path, with each ``{param}`` percent-encoded."""
        return self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})


RouteTable = Mapping[str, Route]

ACCESS_TOKEN: Final = "access_token"
CREATE_TENANT: Final = "create_tenant"
LIST_TENANTS: Final = "list_tenants"
GET_TENANT: Final = "get_tenant"
UPDATE_TENANT: Final = "update_tenant"
DELETE_TENANT: Final = "delete_tenant"
CREATE_KEY: Final = "create_key"
LIST_KEYS: Final = "list_keys"
GET_KEY: Final = "get_key"
UPDATE_KEY: Final = "update_key"
DELETE_KEY: Final = "delete_key"

DEFAULT_ROUTES: Final[RouteTable] = {
    r.name: r
    for r in (
        Route(ACCESS_TOKEN, "POST", "/identity/v1/hmac/management", "hmac", "Exchange an HMAC signature for a token"),
        Route(CREATE_TENANT, "POST", "/v1/account/tenants", summary="Create a tenant"),
        Route(LIST_TENANTS, "GET", "/v1/account/tenants", summary="List the account's tenants"),
        Route(GET_TENANT, "GET", "/v1/account/tenants/{tenantId}", summary="Get a tenant"),
        Route(UPDATE_TENANT, "PUT", "/v1/account/tenants/{tenantId}", summary="Update a tenant"),
        Route(DELETE_TENANT, "DELETE", "/v1/account/tenants/{tenantId}", summary="Delete a tenant"),
        Route(CREATE_KEY, "POST", "/v1/tenant/{tenantId}/keys", summary="Create a tenant API key"),
        Route(LIST_KEYS, "GET", "/v1/tenant/{tenantId}/keys", summary="List a tenant's API keys"),
        Route(GET_KEY, "GET", "/v1/tenant/{tenantId}/keys/{publicKey}", summary="Get a tenant API key"),
        Route(UPDATE_KEY, "PUT", "/v1/tenant/{tenantId}/keys/{publicKey}", summary="Update a key's name and roles"),
        Route(DELETE_KEY, "DELETE", "/v1/tenant/{tenantId}/keys/{publicKey}", summary="Revoke a tenant API key"),
    )
}
"""The current API generation (the contract's default route set)."""


def with_key_prefix(table: RouteTable, old: str, new: str) -> dict[str, Route]:
    """A copy of ``table`` whose tenant-key paths start with ``new`` instead of ``old``."""
    return {
        name: dataclasses.replace(r, path=new + r.path[len(old):]) if r.path.startswith(old) else r
        for name, r in table.items()
    }


LEGACY_ROUTES: Final[RouteTable] = with_key_prefix(DEFAULT_ROUTES, "/v1/tenant/", "/management/v1/tenant/")
"""The May 2019 generation (seed ``001_...``): tenant keys under ``/management/v1/tenant/...``."""
