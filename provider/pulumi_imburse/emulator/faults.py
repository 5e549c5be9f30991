"""Fault injection, the rate limit and request statistics, applied to API routes only (never to ``/_emulator/*``).

:func:`instrument` wraps one API endpoint. For each request it counts the route template, takes a token of
the caller's account (:class:`~.models.AccountRateLimiter`; none left: 429 with ``Retry-After`` after
``latencyMs``, not acted on), draws the fault decision (in arrival order, from ``random.Random(seed)``), then
either

- waits ``latencyMs`` and answers an injected error status *without acting* (429/503 carry ``Retry-After``), or
- acts (commits), waits ``latencyMs``, and for a write drawn as ambiguous throws the answer away and
  replies 504, or
- acts (commits), waits ``latencyMs`` and answers normally.

The wait is ``asyncio.sleep`` (no lock is held, so concurrent requests overlap) and ends early when the
client hangs up. Acting before the wait is what a real service does with a request it has received: a
client that times out leaves the write done (and a created key behind).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .extra import missing_extra

try:
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from ..routes import Route
from ..validation import Problem
from .models import AccountRateLimiter, BadRequest, invalid

WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
MAX_LATENCY_MS: Final = 60_000
MAX_RETRY_AFTER: Final = 3600
FAULT_FIELDS: Final = ("latencyMs", "errorRate", "errorStatuses", "retryAfterSeconds", "ambiguousRate", "seed")

STATUS_CODES: Final[dict[int, str]] = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "RequestTimeout",
    409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
    503: "ServiceUnavailable", 504: "GatewayTimeout",
}
"""Error codes of the statuses a fault can inject (others are ``HttpError<status>``)."""


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class FaultConfig:
    """The fault configuration (test-only), as ``POST /_emulator/faults`` sets it."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503,)
    retry_after_seconds: int = 1
    ambiguous_rate: float = 0.0
    seed: int | None = None

    @classmethod
    def from_json(cls, data: object, *, default_latency_ms: float = 0.0) -> FaultConfig:
        """Validate a JSON body; omitted fields take their defaults (``latencyMs``: the ``--latency-ms`` value).

        Raises :class:`~.models.BadRequest` naming the field.
        """
        if not isinstance(data, Mapping):
            raise BadRequest("the fault configuration must be a JSON object")
        problems = [Problem(k, f"{k} is not a fault setting; allowed: {', '.join(FAULT_FIELDS)}")
                    for k in data if k not in FAULT_FIELDS]

        def get(key: str, default: Any) -> Any:
            value = data.get(key)
            return default if value is None else value

        latency = get("latencyMs", default_latency_ms)
        if not _number(latency) or not 0 <= latency <= MAX_LATENCY_MS:
            problems.append(Problem("latencyMs", f"latencyMs must be a number from 0 to {MAX_LATENCY_MS}"))
        rates = {}
        for key in ("errorRate", "ambiguousRate"):
            rates[key] = get(key, 0.0)
            if not _number(rates[key]) or not 0 <= rates[key] <= 1:
                problems.append(Problem(key, f"{key} must be a number from 0 to 1"))
        statuses = get("errorStatuses", [503])
        if (not isinstance(statuses, list) or not statuses
                or not all(isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in statuses)):
            problems.append(Problem("errorStatuses", "errorStatuses must be a non-empty list of HTTP statuses "
                                                     "from 400 to 599"))
        retry_after = get("retryAfterSeconds", 1)
        if not isinstance(retry_after, int) or isinstance(retry_after, bool) or not 0 <= retry_after <= MAX_RETRY_AFTER:
            problems.append(Problem("retryAfterSeconds",
                                    f"retryAfterSeconds must be a whole number from 0 to {MAX_RETRY_AFTER}"))
        seed = data.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            problems.append(Problem("seed", "seed must be an integer or null"))
        if problems:
            raise invalid(problems)
        return cls(float(latency), float(rates["errorRate"]), tuple(statuses), retry_after,
                   float(rates["ambiguousRate"]), seed)

    def to_json(self) -> dict[str, Any]:
        """The wire form, as ``GET /_emulator/faults`` returns it."""
        return {"latencyMs": self.latency_ms, "errorRate": self.error_rate,
                "errorStatuses": list(self.error_statuses), "retryAfterSeconds": self.retry_after_seconds,
                "ambiguousRate": self.ambiguous_rate, "seed": self.seed}


@dataclass(frozen=True)
class Decision:
    """What happens to one request: extra latency, an injected error, or commit-then-504."""

    latency_s: float = 0.0
    error_status: int | None = None
    retry_after: int | None = None
    ambiguous: bool = False


class FaultInjector:
    """Holds the current :class:`FaultConfig` and its random generator; draws one :class:`Decision` per request."""

    def __init__(self, *, default_latency_ms: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.default_latency_ms = float(default_latency_ms)
        """The ``--latency-ms`` value: the latency in force at start and whenever ``latencyMs`` is omitted."""
        self.configure(FaultConfig(latency_ms=self.default_latency_ms))

    def configure_json(self, data: object) -> FaultConfig:
        """Validate and apply a ``POST /_emulator/faults`` body; returns the new configuration."""
        config = FaultConfig.from_json(data, default_latency_ms=self.default_latency_ms)
        self.configure(config)
        return config

    @property
    def config(self) -> FaultConfig:
        """The configuration in force."""
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """Replace the configuration (and restart the random sequence from its seed)."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)

    def draw(self, method: str) -> Decision:
        """The fate of one request of HTTP ``method`` (drawn in arrival order)."""
        with self._lock:
            c = self._config
            latency_s = c.latency_ms / 1000
            if c.error_rate and self._rng.random() < c.error_rate:
                status = self._rng.choice(c.error_statuses)
                retry_after = c.retry_after_seconds if status in RETRY_AFTER_STATUSES else None
                return Decision(latency_s, status, retry_after)
            ambiguous = bool(c.ambiguous_rate) and method in WRITE_METHODS and self._rng.random() < c.ambiguous_rate
            return Decision(latency_s, ambiguous=ambiguous)


REQUEST_ID_HEADER: Final = "x-request-id"
"""The client's id of one request, the same on each of its retries (see :mod:`pulumi_imburse.transport`)."""

_REFUSALS_KEPT: Final = 10_000


@dataclass
class RequestStats:
    """Test-only request counts by route template (``"METHOD /path/{param}"``), how many API requests are
    being served at once (``inFlight``: now, and the peak since the last reset), how many the rate limit refused
    (``throttled``), when the first and last arrived (``window``, epoch seconds), and the retries of refused
    requests (``retries``: how many, and the shortest time from a refusal to the same request's next attempt,
    told by its ``X-Request-Id``)."""

    counts: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0
    throttled: int = 0
    first_at: float | None = None
    last_at: float | None = None
    retries: int = 0
    min_retry_gap: float | None = None
    refused_at: OrderedDict[str, float] = field(default_factory=OrderedDict)
    """Request id -> when its latest refusal (429/503) was answered (the most recent :data:`_REFUSALS_KEPT`)."""

    def record(self, template: str, request_id: str | None = None) -> None:
        """Count one request (a retry, when its id was refused before)."""
        now = time.time()
        self.counts[template] = self.counts.get(template, 0) + 1
        self.first_at = now if self.first_at is None else self.first_at
        self.last_at = now
        refused = self.refused_at.pop(request_id, None) if request_id else None
        if refused is not None:
            self.retries += 1
            gap = now - refused
            self.min_retry_gap = gap if self.min_retry_gap is None else min(self.min_retry_gap, gap)

    def refused(self, request_id: str | None) -> None:
        """A request was answered 429 or 503 (not acted on) just now."""
        if request_id:
            self.refused_at[request_id] = time.time()
            self.refused_at.move_to_end(request_id)
            while len(self.refused_at) > _REFUSALS_KEPT:
                self.refused_at.popitem(last=False)

    def started(self) -> None:
        """An API request began being served."""
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def finished(self) -> None:
        """An API request was answered (or its client hung up)."""
        self.in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        """``{"requests": {template: count}, "inFlight": {"now": n, "peak": n}, "throttled": n,
        "window": {"first": t, "last": t}, "retries": {"count": n, "minGapMs": ms}}``."""
        gap = None if self.min_retry_gap is None else round(self.min_retry_gap * 1000, 1)
        return {"requests": dict(self.counts), "inFlight": {"now": self.in_flight, "peak": self.peak_in_flight},
                "throttled": self.throttled, "window": {"first": self.first_at, "last": self.last_at},
                "retries": {"count": self.retries, "minGapMs": gap}}

    def reset(self) -> None:
        """Forget every count (the peak restarts from the requests in flight now)."""
        self.counts.clear()
        self.peak_in_flight = self.in_flight
        self.throttled = self.retries = 0
        self.first_at = self.last_at = self.min_retry_gap = None
        self.refused_at.clear()


def error_status_response(status: int, message: str, *, retry_after: int | None = None) -> JSONResponse:
    """A JSON error response for an injected status, with ``Retry-After`` when given."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    code = STATUS_CODES.get(status, f"HttpError{status}")
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


Endpoint = Callable[[Request], Awaitable[Response]]


async def _client_gone(request: Request) -> None:
    """Return once the client has hung up (the body was read already, so only a disconnect is left)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _delay(request: Request, seconds: float) -> None:
    """Wait ``seconds`` before answering, or less if the client hangs up (no one is left to answer)."""
    if seconds <= 0:
        return
    sleep = asyncio.ensure_future(asyncio.sleep(seconds))
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        await asyncio.wait({sleep, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleep, gone):
            task.cancel()


def instrument(route: Route, endpoint: Endpoint, injector: FaultInjector, stats: RequestStats,
               rate_limiter: AccountRateLimiter | None = None,
               account_of: Callable[[str | None], str | None] | None = None) -> Endpoint:
    """``endpoint`` with request counting, the per-account rate limit, latency and fault injection around it.

    The latency delays the *answer*: a request that is acted on is acted on first (committed), then answered
    ``latencyMs`` later, so a client that gives up waiting leaves its write done, as with a real service. A
    request refused by the rate limit or an injected error status is answered after the latency without acting.
    ``account_of`` tells the account of a request's ``Authorization`` header (for the rate limit).
    """
    template = route.template
    method = route.method

    async def instrumented(request: Request) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER)
        stats.record(template, request_id)
        stats.started()
        try:
            wait = None
            if rate_limiter is not None and rate_limiter.limit is not None and account_of is not None:
                wait = rate_limiter.take(account_of(request.headers.get("authorization")))
            if wait is not None:  # refused at the door: no fault is drawn for it
                stats.throttled += 1
                await _delay(request, injector.config.latency_ms / 1000)
                stats.refused(request_id)
                return error_status_response(429, "rate limit exceeded for this account (the request was not "
                                                  "acted on)", retry_after=max(1, math.ceil(wait)))
            decision = injector.draw(method)
            if decision.error_status is not None:
                await _delay(request, decision.latency_s)
                status = decision.error_status
                if status in RETRY_AFTER_STATUSES:
                    stats.refused(request_id)
                return error_status_response(status, f"injected fault: HTTP {status} (the request was not acted "
                                                     "on)", retry_after=decision.retry_after)
            response = await endpoint(request)
            await _delay(request, decision.latency_s)
            if decision.ambiguous:
                return error_status_response(504, "injected fault: gateway timeout (the request may have been "
                                                  "acted on)")
            return response
        finally:
            stats.finished()

    instrumented.__name__ = f"instrumented_{route.name}"
    return instrumented
