"""Transport policy for the Imburse API: retries, backoff, timeouts and time budgets, in one place.

Call sites never loop or sleep: a :class:`requests.Session` mounts :func:`imburse_adapter`, whose
:class:`ImburseRetry` decides what may be repeated, and :func:`repeat` runs the one request that must be
rebuilt for every attempt (the HMAC token exchange: each attempt needs a fresh nonce).

- Safe to repeat (GET, PUT, DELETE): connection errors, read errors, 429, 500, 502, 503, 504.
- POST (creates are not idempotent): only when the request was certainly not acted on, i.e. the
  connection was never made, or the server answered 429 or 503 (it refused before acting).
  A POST that may have been acted on (read timeout, connection lost after sending, 500, 502, 504) is
  not repeated; the client raises an error instead (for 502, 504 and timeouts
  :class:`~pulumi_imburse.errors.OutcomeUnknownError`).
- Time: every request draws on the **budget** of the operation it belongs to (:func:`operation_budget`,
  :attr:`RetryPolicy.max_elapsed` seconds by default: a client call, its token exchange included). No
  attempt starts once the budget is spent and each attempt's timeouts are cut to what is left.
  A request whose connection fails (refused, DNS, connect timeout) stops after
  :attr:`RetryPolicy.connect_budget` seconds, far sooner.
- Backoff is exponential with jitter; ``Retry-After`` is honoured (capped); one longer than the budget
  left is not waited for: the answer stands at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another attempt for a request that is safe to repeat."""

NOT_ACTED_ON_STATUSES: Final = frozenset({429, 503})
"""Statuses by which the server says it refused the request before acting on it."""

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

POOL_MAXSIZE: Final = 32
"""Connections kept open to the service: more than the parallel steps the engine runs against one client."""

URLLIB3_FEATURES: Final[Mapping[str, str]] = {
    "allowed_methods": "1.26.0",
    "backoff_max": "2.0.0",
    "backoff_jitter": "2.0.0",
    "BaseHTTPResponse": "2.0.0",
    "retry_after_max": "2.6.3",
}
"""What this module takes from urllib3, and the first urllib3 release that has it (from urllib3's
CHANGES.rst and history); the declared lower bound in pyproject.toml must be at least the highest."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before giving up. All times in seconds."""

    attempts: int = 10
    """Attempts of one request in all (the first one included). At a 30% refusal rate 6 attempts gave up on
    1 call in 1,400 (1 PUT in 400 with commit-then-504 added), failing a 200-key update 40% of the time; 10
    give up on fewer than 1 in 20,000. ``max_elapsed`` still bounds the time."""
    backoff_factor: float = 0.2
    """Exponential backoff base: sleeps of about 0.2, 0.4, 0.8, ... seconds."""
    backoff_jitter: float = 0.2
    """Random extra sleep, up to this many seconds, so parallel clients spread out."""
    backoff_max: float = 10.0
    retry_after_max: float = 30.0
    """Longest ``Retry-After`` honoured; a longer one is cut to this."""
    max_elapsed: float = 60.0
    """The time budget of one operation (one client call: its token exchange, every attempt, timeout and
    backoff). Past it no attempt starts, and the last answer or error stands."""
    connect_budget: float = 5.0
    """How long one request keeps retrying when it cannot connect at all (connection refused, the host
    name does not resolve, the connect timeout): a service that is down or a wrong ``baseUrl`` fails in
    seconds, not after the whole budget."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        for name in ("backoff_factor", "backoff_jitter", "backoff_max", "retry_after_max"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"RetryPolicy.{name} must be a number of seconds, 0 or more")
        for name in ("max_elapsed", "connect_budget"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RetryPolicy.{name} must be a number of seconds above 0")

    def backoff(self, failures: int, rand: float | None = None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (``rand`` in [0, 1) draws the jitter)."""
        if failures < 1:
            return 0.0
        jitter = (random.random() if rand is None else rand) * self.backoff_jitter
        base = self.backoff_factor * 2.0 ** min(failures - 1, 64)
        return max(0.0, min(self.backoff_max, base + jitter))


def may_retry_status(method: str, status: int) -> bool:
    """Whether an answer of HTTP ``status`` to a ``method`` request may be followed by another attempt."""
    if method.upper() in IDEMPOTENT_METHODS:
        return status in RETRY_STATUSES
    return status in NOT_ACTED_ON_STATUSES


# ---------------------------------------------------------------------------------------------- budgets


class Budget:
    """The time one operation may take; every request, retry and backoff inside it draws on it."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = float(seconds)
        self.started = clock()
        self.deadline = self.started + self.seconds
        self._clock = clock

    def remaining(self) -> float:
        """Seconds left (0 once spent)."""
        return max(0.0, self.deadline - self._clock())

    def elapsed(self) -> float:
        """Seconds since the operation began."""
        return self._clock() - self.started

    def __repr__(self) -> str:
        return f"Budget({self.seconds:g} s, {self.remaining():.1f} s left)"


_operation: ContextVar[Budget | None] = ContextVar("imburse_operation_budget", default=None)


@contextlib.contextmanager
def operation_budget(seconds: float) -> Iterator[Budget]:
    """Run the enclosed requests as one operation of at most ``seconds``.

    Nested operations share the outer deadline when it is sooner: an inner call never outlives the
    operation it is part of. The budget belongs to the current thread (a :class:`~contextvars.ContextVar`).
    """
    outer = _operation.get()
    budget = Budget(seconds)
    if outer is not None and outer.deadline <= budget.deadline:
        budget = outer
    token = _operation.set(budget)
    try:
        yield budget
    finally:
        _operation.reset(token)


def current_budget() -> Budget | None:
    """The budget of the operation running in this thread, if any."""
    return _operation.get()


@dataclass(frozen=True)
class Deadlines:
    """One request's limits, as monotonic times: no attempt after ``total``; no retry of a failed
    connection after ``connect``."""

    total: float
    connect: float


_request: ContextVar[Deadlines | None] = ContextVar("imburse_request_deadlines", default=None)

TimeoutArg = float | tuple[float | None, float | None] | None


def cap_timeout(timeout: TimeoutArg, remaining: float) -> tuple[float, float]:
    """``(connect, read)`` seconds for one attempt: ``timeout``'s, none longer than ``remaining``."""
    if timeout is None or isinstance(timeout, (int, float)):
        connect = read = timeout
    else:
        connect, read = timeout
    return (remaining if connect is None else min(float(connect), remaining),
            remaining if read is None else min(float(read), remaining))


class BudgetSpent(requests.exceptions.Timeout):
    """The operation's time budget was spent before this request could be sent: it was not sent."""


def pause(seconds: float) -> None:
    """Wait between attempts (the one place the transport sleeps; tests replace it)."""
    time.sleep(seconds)


class ImburseRetry(Retry):
    """urllib3 ``Retry`` with the POST rule and the time budgets (see module docs)."""

    def __init__(self, *args: Any, max_elapsed: float = 60.0, connect_budget: float = 5.0,
                 deadlines: Deadlines | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_elapsed = max_elapsed
        self.connect_budget = connect_budget
        self.deadlines = deadlines
        """Limits of a request sent without :class:`ImburseAdapter` (fixed at its first retry)."""

    def new(self, **kw: Any) -> ImburseRetry:
        kw.setdefault("max_elapsed", self.max_elapsed)
        kw.setdefault("connect_budget", self.connect_budget)
        if self.deadlines is None and _request.get() is None:
            now = time.monotonic()
            kw.setdefault("deadlines", Deadlines(now + self.max_elapsed, now + self.connect_budget))
        else:
            kw.setdefault("deadlines", self.deadlines)
        return super().new(**kw)

    def _limits(self) -> Deadlines | None:
        return _request.get() or self.deadlines

    def _last_error_was_connect(self) -> bool:
        last = self.history[-1].error if self.history else None
        return last is not None and self._is_connection_error(last)

    def time_left(self) -> float:
        """Seconds until the next attempt must not start (``inf`` without limits)."""
        limits = self._limits()
        if limits is None:
            return math.inf
        end = min(limits.total, limits.connect) if self._last_error_was_connect() else limits.total
        return end - time.monotonic()

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return may_retry_status(method, status_code)

    def is_exhausted(self) -> bool:
        if self.time_left() <= 0:
            return True
        return super().is_exhausted()

    def increment(self, method: str | None = None, url: str | None = None,
                  response: BaseHTTPResponse | None = None, error: Exception | None = None,
                  _pool: Any = None, _stacktrace: Any = None) -> ImburseRetry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        assert isinstance(new, ImburseRetry)
        if response is not None and new.respect_retry_after_header:
            wait = new.get_retry_after(response)
            if wait is not None and wait > new.time_left():
                # The service asks for a longer pause than the budget has left: the answer stands now.
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:g} s is past the time budget"))
        cause = error.__class__.__name__ if error is not None else f"HTTP {response.status}" if response else "?"
        log.info("%s %s: %s; retrying (%.1f s of the budget left)", method, url, cause, new.time_left())
        return new

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        left = self.time_left()
        if left <= 0:
            return
        wait = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        if wait is None:
            wait = self.get_backoff_time()
        if wait > 0:
            pause(min(wait, left))


def make_retry(policy: RetryPolicy) -> ImburseRetry:
    """The urllib3 retry object for ``policy``."""
    retries = policy.attempts - 1
    return ImburseRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=policy.backoff_factor,
        backoff_jitter=policy.backoff_jitter,
        backoff_max=policy.backoff_max,
        retry_after_max=math.ceil(policy.retry_after_max),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        max_elapsed=policy.max_elapsed,
        connect_budget=policy.connect_budget,
    )


class ImburseAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies the retry policy within the current operation's time budget."""

    def __init__(self, policy: RetryPolicy, *, pool_maxsize: int = POOL_MAXSIZE) -> None:
        self.policy = policy
        super().__init__(max_retries=make_retry(policy), pool_connections=4, pool_maxsize=pool_maxsize)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Mapping[str, str] | None = None,
             ) -> requests.Response:
        now = time.monotonic()
        budget = _operation.get()
        total = budget.deadline if budget is not None else now + self.policy.max_elapsed
        remaining = total - now
        if remaining <= 0:
            spent = budget.seconds if budget is not None else self.policy.max_elapsed
            raise BudgetSpent(f"the time budget of {spent:g} s was spent before the request was sent",
                              request=request)
        token = _request.set(Deadlines(total, min(total, now + self.policy.connect_budget)))
        try:
            return super().send(request, stream=stream, timeout=cap_timeout(timeout, remaining), verify=verify,
                                cert=cert, proxies=proxies)
        finally:
            _request.reset(token)


def imburse_adapter(policy: RetryPolicy | None = None, *, pool_maxsize: int = POOL_MAXSIZE) -> ImburseAdapter:
    """An adapter carrying the retry policy and a connection pool sized for parallel steps."""
    return ImburseAdapter(policy or RetryPolicy(), pool_maxsize=pool_maxsize)


T = TypeVar("T")


def repeat(attempt: Callable[[], T], *, policy: RetryPolicy, retryable: Callable[[Exception], bool]) -> T:
    """``attempt()`` until it returns, for a request that must be rebuilt for each attempt.

    An exception for which ``retryable`` is true is followed by a backoff and another attempt, at most
    ``policy.attempts`` in all and never past the current operation's budget; then it is raised.
    """
    failures = 0
    while True:
        try:
            return attempt()
        except Exception as exc:
            failures += 1
            if not retryable(exc) or failures >= policy.attempts:
                raise
            budget = _operation.get()
            wait = policy.backoff(failures)
            if budget is not None and wait >= budget.remaining():
                raise
            log.info("%s; trying again in %.2f s", exc.__class__.__name__, wait)
            pause(wait)
