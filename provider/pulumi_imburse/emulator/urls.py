"""The emulator's routes: one handler per route of the route table, plus the test-only controls.

:data:`API_OPERATIONS` maps each route *name* of :data:`pulumi_imburse.routes.DEFAULT_ROUTES` to how it
is served; :func:`create_app` iterates the route table (so a route added to the table without a
handler fails at import and at startup) and can serve another table, e.g. ``LEGACY_ROUTES``.

Test-only controls (never part of the Imburse API; not counted in stats, never faulted):

- ``GET/POST /_emulator/faults``: read / replace the fault configuration
  (``{"latencyMs", "errorRate", "errorStatuses", "retryAfterSeconds", "ambiguousRate", "seed"}``).
- ``GET/POST /_emulator/rate-limit``: read / replace the per-account rate limit
  (``{"requestsPerSecond": r, "burst": n}``; ``null`` rate: none; see :class:`~.models.RateLimit`).
- ``GET/DELETE /_emulator/stats``: ``{"requests": {"METHOD /route/template": count},
  "inFlight": {"now": n, "peak": n}, "throttled": n, "throttledByAccount": {account: n},
  "window": {"first": t, "last": t}, "retries": {"count": n, "minGapMs": ms}}`` (API requests being served
  now and the most at once; refusals by the rate limit; the first and last request's arrival; retries of
  refused requests told by ``X-Request-Id``, and the shortest wait before one) / reset.
- ``GET/POST/DELETE /_emulator/clock``: read / advance (``{"advanceSeconds": n}``) / reset the
  emulated clock that stamps and expires bearer tokens.
- ``POST /_emulator/account-keys``: mint an account API key with the given account roles (in the
  bootstrap account, or in a new account with ``"newAccount": true``).
- ``POST /_emulator/keys/age``: ``{"tenantId", "publicKey", "days"}`` moves a tenant key's creation time
  back by ``days``, so its ``createdAt`` shows it that much older (rotation tests without waiting).
- ``GET /openapi.json``: the API's OpenAPI document.
"""

from __future__ import annotations

from typing import Final

from .extra import missing_extra

try:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Match
    from starlette.routing import Route as StarletteRoute
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from .. import routes as r
from ..routes import DEFAULT_ROUTES, RouteTable
from . import responses as h
from .bodies import MAX_BODY_BYTES, BodyLimit
from .faults import FaultInjector, RequestStats, instrument
from .models import AccountRateLimiter, Backend, RateLimit
from .openapi import build_openapi
from .responses import EmulatorState, Operation, endpoint

CONTROL_PREFIX: Final = "/_emulator"
OPENAPI_PATH: Final = "/openapi.json"

API_OPERATIONS: Final[dict[str, Operation]] = {
    r.ACCESS_TOKEN: Operation(h.access_token, 200, None, "AccessToken"),
    r.CREATE_TENANT: Operation(h.create_tenant, 201, "TenantInput", "Tenant"),
    r.LIST_TENANTS: Operation(h.list_tenants, 200, None, "TenantList"),
    r.GET_TENANT: Operation(h.get_tenant, 200, None, "Tenant"),
    r.UPDATE_TENANT: Operation(h.update_tenant, 200, "TenantInput", "Tenant"),
    r.DELETE_TENANT: Operation(h.delete_tenant, 204),
    r.CREATE_KEY: Operation(h.create_key, 201, "ApiKeyInput", "ApiKeyCreated"),
    r.LIST_KEYS: Operation(h.list_keys, 200, None, "ApiKeyList"),
    r.GET_KEY: Operation(h.get_key, 200, None, "ApiKey"),
    r.UPDATE_KEY: Operation(h.update_key, 200, "ApiKeyInput", "ApiKey"),
    r.DELETE_KEY: Operation(h.delete_key, 204),
}
"""How each route of the table is served, by route name."""

CONTROL_OPERATIONS: Final[tuple[tuple[str, str, Operation], ...]] = (
    ("GET", f"{CONTROL_PREFIX}/faults", Operation(h.get_faults)),
    ("POST", f"{CONTROL_PREFIX}/faults", Operation(h.set_faults)),
    ("GET", f"{CONTROL_PREFIX}/rate-limit", Operation(h.get_rate_limit)),
    ("POST", f"{CONTROL_PREFIX}/rate-limit", Operation(h.set_rate_limit)),
    ("GET", f"{CONTROL_PREFIX}/stats", Operation(h.get_stats)),
    ("DELETE", f"{CONTROL_PREFIX}/stats", Operation(h.reset_stats, 204)),
    ("GET", f"{CONTROL_PREFIX}/clock", Operation(h.get_clock)),
    ("POST", f"{CONTROL_PREFIX}/clock", Operation(h.advance_clock)),
    ("DELETE", f"{CONTROL_PREFIX}/clock", Operation(h.reset_clock)),
    ("POST", f"{CONTROL_PREFIX}/account-keys", Operation(h.create_account_key, 201)),
    ("POST", f"{CONTROL_PREFIX}/keys/age", Operation(h.age_key)),
    ("GET", OPENAPI_PATH, Operation(h.openapi)),
)
"""The test-only controls (and the OpenAPI document): method, path, operation."""


def check_handlers(table: RouteTable) -> None:
    """Raise :class:`LookupError` naming every route of ``table`` that has no handler."""
    missing = sorted(name for name in table if name not in API_OPERATIONS)
    if missing:
        raise LookupError(f"the emulator has no handler for route(s) {', '.join(missing)}; "
                          "add them to pulumi_imburse.emulator.urls.API_OPERATIONS")


check_handlers(DEFAULT_ROUTES)  # a route added to the table without a handler fails at import


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, f"HttpError{status}")
    message = {404: f"no route matches {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(status, "HTTP error")
    headers = {"Allow": _allowed_methods(request)} if status == 405 else None
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method served on the request's path (several routes share a path, one per method)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, StarletteRoute) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def create_app(backend: Backend, *, routes: RouteTable = DEFAULT_ROUTES, latency_ms: float = 0.0,
               max_body_bytes: int = MAX_BODY_BYTES, rate_limit: RateLimit | None = None) -> Starlette:
    """The emulator's ASGI app over ``backend``, serving ``routes`` (default: the contract's table).

    ``latency_ms`` is the base latency (``--latency-ms``) added to every API request; ``rate_limit`` the
    per-account rate limit at start (``--rate-limit``, ``--rate-burst``; none by default). Every request body
    (API and control routes) is limited to ``max_body_bytes`` (413 beyond it; see :mod:`.bodies`).
    """
    check_handlers(routes)
    faults = FaultInjector(default_latency_ms=latency_ms)
    stats = RequestStats()
    limiter = AccountRateLimiter(rate_limit)
    state = EmulatorState(backend, faults, stats, routes, build_openapi(routes, API_OPERATIONS), limiter)
    mounted = [
        StarletteRoute(route.path, instrument(route, endpoint(state, API_OPERATIONS[name], name), faults, stats,
                                              limiter, backend.account_of),
                       methods=[route.method], name=name)
        for name, route in routes.items()
    ]
    mounted += [
        StarletteRoute(path, endpoint(state, op, f"{method} {path}"), methods=[method])
        for method, path, op in CONTROL_OPERATIONS
    ]
    app = Starlette(routes=mounted, exception_handlers={HTTPException: _http_error},
                    middleware=[Middleware(BodyLimit, max_bytes=max_body_bytes)])
    app.state.emulator = state
    return app
