"""HTTP mapping: Starlette request -> :class:`~.models.Backend` -> JSON response.

Every handler takes the shared :class:`EmulatorState` and the request, and returns a JSON-able payload
(or ``None`` for no content) or raises :class:`~.models.ApiError`. :func:`endpoint` turns that into a
response; every error body has the form::

    {"error": "<CodeName>", "message": "<human text naming the field>", "field": "<name>"}

with ``field`` omitted when no single field is at fault. No error ever echoes an Authorization header,
a bearer token or a private key.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .extra import missing_extra

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from ..routes import RouteTable
from .bodies import parse_json
from .faults import FaultInjector, RequestStats
from .models import AccountRateLimiter, ApiError, Backend, BadRequest, Principal, RateLimit

log = logging.getLogger("pulumi_imburse.emulator")


@dataclass
class EmulatorState:
    """Everything the handlers share: the backend, the fault injector, request stats, the route table, the
    per-account rate limit."""

    backend: Backend
    faults: FaultInjector
    stats: RequestStats
    routes: RouteTable
    openapi: dict[str, Any]
    rate_limiter: AccountRateLimiter


Handler = Callable[[EmulatorState, Request], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """How one route is served: its handler, success status and (OpenAPI) body schemas."""

    handler: Handler
    status: int = 200
    request_schema: str | None = None
    response_schema: str | None = None


def error_response(error: ApiError) -> JSONResponse:
    """The JSON error response of an :class:`~.models.ApiError`."""
    return JSONResponse(error.to_json(), status_code=error.status)


def endpoint(state: EmulatorState, op: Operation, name: str) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``op`` and mapping its outcome to a response."""

    async def run(request: Request) -> Response:
        try:
            payload = await op.handler(state, request)
        except ApiError as e:
            return error_response(e)
        except Exception:
            log.error("unexpected error serving %s", name, exc_info=True)
            return JSONResponse({"error": "InternalServerError", "message": "the emulator failed unexpectedly"},
                                status_code=500)
        if payload is None:
            return Response(status_code=204)
        return JSONResponse(payload, status_code=op.status)

    run.__name__ = name
    return run


async def json_body(request: Request) -> object:
    """The request body parsed as JSON by :func:`~.bodies.parse_json`; 400 saying what is wrong otherwise."""
    return parse_json(await request.body())


def _bearer(state: EmulatorState, request: Request, tenant_id: str | None = None) -> Principal:
    headers = request.headers
    principal = state.backend.authenticate_bearer(headers.get("authorization"))
    state.backend.check_context(principal, headers.get("x-account-id"), headers.get("x-tenant-id"),
                                tenant_id.lower() if tenant_id is not None else None)
    return principal


# ---------------------------------------------------------------------- API routes


async def access_token(state: EmulatorState, request: Request) -> Any:
    """``POST /identity/v1/hmac/management``: HMAC-signed exchange for a bearer token."""
    body = await request.body()
    principal = state.backend.authenticate_hmac(request.headers.get("authorization"), body)
    state.backend.check_context(principal, request.headers.get("x-account-id"))
    return state.backend.mint_token(principal)


async def list_tenants(state: EmulatorState, request: Request) -> Any:
    """List the account's tenants."""
    return state.backend.list_tenants(_bearer(state, request))


async def get_tenant(state: EmulatorState, request: Request) -> Any:
    """Get one tenant."""
    tenant_id = request.path_params["tenantId"]
    return state.backend.get_tenant(_bearer(state, request, tenant_id), tenant_id)


async def create_tenant(state: EmulatorState, request: Request) -> Any:
    """Create a tenant."""
    principal = _bearer(state, request)
    return state.backend.create_tenant(principal, await json_body(request))


async def update_tenant(state: EmulatorState, request: Request) -> Any:
    """Replace a tenant's name and address."""
    tenant_id = request.path_params["tenantId"]
    principal = _bearer(state, request, tenant_id)
    return state.backend.update_tenant(principal, tenant_id, await json_body(request))


async def delete_tenant(state: EmulatorState, request: Request) -> Any:
    """Delete a tenant and its keys."""
    tenant_id = request.path_params["tenantId"]
    state.backend.delete_tenant(_bearer(state, request, tenant_id), tenant_id)


async def list_keys(state: EmulatorState, request: Request) -> Any:
    """List a tenant's keys."""
    tenant_id = request.path_params["tenantId"]
    return state.backend.list_keys(_bearer(state, request, tenant_id), tenant_id)


async def get_key(state: EmulatorState, request: Request) -> Any:
    """Get one tenant key."""
    p = request.path_params
    return state.backend.get_key(_bearer(state, request, p["tenantId"]), p["tenantId"], p["publicKey"])


async def create_key(state: EmulatorState, request: Request) -> Any:
    """Create a tenant key (the response carries the private key, once)."""
    tenant_id = request.path_params["tenantId"]
    principal = _bearer(state, request, tenant_id)
    return state.backend.create_key(principal, tenant_id, await json_body(request))


async def update_key(state: EmulatorState, request: Request) -> Any:
    """Update a key's name and roles."""
    p = request.path_params
    principal = _bearer(state, request, p["tenantId"])
    return state.backend.update_key(principal, p["tenantId"], p["publicKey"], await json_body(request))


async def delete_key(state: EmulatorState, request: Request) -> Any:
    """Revoke a tenant key."""
    p = request.path_params
    state.backend.delete_key(_bearer(state, request, p["tenantId"]), p["tenantId"], p["publicKey"])


# ---------------------------------------------------------------------- test-only controls


async def get_faults(state: EmulatorState, request: Request) -> Any:
    """Test-only: the fault configuration in force."""
    return state.faults.config.to_json()


async def set_faults(state: EmulatorState, request: Request) -> Any:
    """Test-only: replace the fault configuration (an empty body restores the defaults)."""
    raw = await request.body()
    data = await json_body(request) if raw.strip() else {}
    return state.faults.configure_json(data).to_json()


async def get_stats(state: EmulatorState, request: Request) -> Any:
    """Test-only: API request counts by route template, refusals by the rate limit (total, and by account)."""
    snapshot = state.stats.snapshot()
    snapshot["throttledByAccount"] = dict(state.rate_limiter.throttled)
    return snapshot


async def reset_stats(state: EmulatorState, request: Request) -> Any:
    """Test-only: forget the request counts."""
    state.stats.reset()
    state.rate_limiter.reset_counts()


def _rate_limit_json(state: EmulatorState) -> dict[str, Any]:
    limit = state.rate_limiter.limit
    return limit.to_json() if limit is not None else {"requestsPerSecond": None, "burst": None}


async def get_rate_limit(state: EmulatorState, request: Request) -> Any:
    """Test-only: the per-account rate limit in force (``requestsPerSecond`` null: none)."""
    return _rate_limit_json(state)


async def set_rate_limit(state: EmulatorState, request: Request) -> Any:
    """Test-only: ``{"requestsPerSecond": r, "burst"?: n}`` sets the per-account rate limit (every bucket full);
    ``{"requestsPerSecond": null}`` or an empty body removes it."""
    raw = await request.body()
    state.rate_limiter.configure(RateLimit.from_json(await json_body(request) if raw.strip() else {}))
    return _rate_limit_json(state)


def _clock_json(backend: Backend) -> dict[str, float]:
    return {"offsetSeconds": backend.clock_offset, "now": backend.now()}


async def get_clock(state: EmulatorState, request: Request) -> Any:
    """Test-only: the emulated clock and its offset from the wall clock."""
    return _clock_json(state.backend)


async def advance_clock(state: EmulatorState, request: Request) -> Any:
    """Test-only: ``{"advanceSeconds": n}`` moves the emulated (token) clock forward."""
    data = await json_body(request)
    if not isinstance(data, dict) or set(data) != {"advanceSeconds"}:
        raise BadRequest('the body must be {"advanceSeconds": <seconds>}', field="advanceSeconds")
    seconds = data["advanceSeconds"]
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise BadRequest("advanceSeconds must be a finite number of seconds", field="advanceSeconds")
    state.backend.advance_clock(float(seconds))
    return _clock_json(state.backend)


async def reset_clock(state: EmulatorState, request: Request) -> Any:
    """Test-only: put the emulated clock back on the wall clock."""
    state.backend.reset_clock()
    return _clock_json(state.backend)


async def create_account_key(state: EmulatorState, request: Request) -> Any:
    """Test-only: mint an account key ``{"roles": [...], "name"?, "newAccount"?}`` (private key included)."""
    return state.backend.create_account_key(await json_body(request)).to_json()


async def age_key(state: EmulatorState, request: Request) -> Any:
    """Test-only: ``{"tenantId", "publicKey", "days"}`` makes a tenant key ``days`` older; returns the key."""
    return state.backend.age_key(await json_body(request))


async def openapi(state: EmulatorState, request: Request) -> Any:
    """The OpenAPI document of the API routes."""
    return state.openapi
