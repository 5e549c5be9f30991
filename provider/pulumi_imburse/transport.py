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
  left is not waited for: the answer stands at once. No answered request is repeated sooner than
  :attr:`RetryPolicy.min_backoff` after its answer, even when ``Retry-After`` says 0.
- Throttling (429, 503) spends the time budget, not the attempts: under a rate limit the budget governs.
- **One request budget per process and account** (:class:`RateLimiter`, :func:`shared_limiter`): every
  attempt of every client of the process to the same base URL and account first passes the account's
  limiter. It bounds the requests in flight (``IMBURSE_MAX_CONCURRENT_REQUESTS``, whatever the engine's
  ``--parallel``), holds *every* call back while the service has asked to pause (``Retry-After``, at least
  :data:`MIN_BACKOFF` after a 429), and, once throttled, paces sends with an adaptive token bucket
  (:class:`CubicRate`; the AWS SDKs' "adaptive" retry mode is the model).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

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

THROTTLE_STATUSES: Final = NOT_ACTED_ON_STATUSES
"""Statuses by which the service asks the client to slow down: they cut the account's send rate and spend the
time budget, not the attempts."""

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

MIN_BACKOFF: Final = 0.1
"""Shortest wait, in seconds, before an answered request is sent again, and the shortest pause of the whole
account after a 429, even when the service says ``Retry-After: 0``. 100 ms is 2 to 10 tokens of a rate limit of
20 to 100 requests/s (the range of public APIs' per-account limits), so the retry has something to spend, and it
keeps one call below 10 attempts a second when a service keeps answering ``Retry-After: 0``; it costs a call
that is throttled once less than one loopback request to the emulator at ``--latency-ms 100``."""

REQUEST_ID_HEADER: Final = "X-Request-Id"
"""Sent with every request, the same on each of its retries (a new one for each token exchange, which is
signed afresh): the service and the emulator can tell a retry from a new request."""

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
    min_backoff: float = MIN_BACKOFF
    """Shortest wait before repeating a request that was answered (any status), ``Retry-After: 0`` included."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        for name in ("backoff_factor", "backoff_jitter", "backoff_max", "retry_after_max", "min_backoff"):
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


# ---------------------------------------------------------------------------------- the account's limiter


class CubicRate:
    """The ceiling of an account's send rate after throttling: cut to ``BETA`` of the rate at each throttling
    event, then regrown along a cubic curve that comes back to the rate of the last cut after ``k`` seconds and
    probes above it after that (the window growth of CUBIC, RFC 8312, applied to requests per second; the AWS
    SDKs' adaptive retry mode uses the same curve with the same constants)."""

    SCALE: Final = 0.4
    BETA: Final = 0.7

    def __init__(self) -> None:
        self.w_max = 0.0
        """The rate at the last cut."""
        self.k = 0.0
        """Seconds after the last cut at which the curve is back at ``w_max``."""
        self.last_cut = 0.0

    def cut(self, rate: float, now: float) -> float:
        """A throttling event at ``rate`` requests/s: the new ceiling."""
        self.w_max = rate
        self.k = (rate * (1 - self.BETA) / self.SCALE) ** (1 / 3)
        self.last_cut = now
        return rate * self.BETA

    def grow(self, now: float) -> float:
        """The ceiling ``now`` after the last cut, when nothing was throttled since."""
        return self.SCALE * (now - self.last_cut - self.k) ** 3 + self.w_max


@dataclass
class LimiterStats:
    """What one :class:`RateLimiter` has done (for tests, logs and benchmarks)."""

    sent: int = 0
    """Attempts let through."""
    throttled: int = 0
    """Answers 429 or 503 received."""
    cuts: int = 0
    """Throttling events that lowered the send rate (several answers to requests already in flight are one)."""
    pauses: int = 0
    """Times the whole account was held back (``Retry-After``, or a 429)."""
    peak_in_flight: int = 0
    min_retry_gap: float = math.inf
    """Shortest time between an answer and the next attempt of the same request, in seconds."""


class RateLimiter:
    """One account's request budget, shared by every client of the process that calls that account.

    - at most ``max_in_flight`` attempts on the wire at once (a retry waiting for its backoff holds none);
    - no attempt while the account is paused: a ``Retry-After`` answer pauses *every* caller until then, and
      a 429 for at least ``min_backoff`` even when it says 0;
    - after the first throttling answer (429/503) a token bucket paces the sends; it holds a second's worth of
      the pace but no more than ``max_in_flight`` tokens (after a pause the service's own bucket is full, but
      its size is unknown: a burst of a whole second's worth, 38 requests, sent 18 into a 429 at once against
      the emulator's 20; an even pace with no burst starved calls under random refusals with
      ``Retry-After: 2``, where each pause lets through only what is sent before the next refusal);
    - a throttling answer *with* ``Retry-After`` pauses the account (above) and sets the pace to the most
      answers other than throttling received in one second of the last minute: a rate the service has shown
      it takes. No rate is guessed: the service said when to come back;
    - a throttling answer *without* ``Retry-After`` cuts the pace as the AWS SDKs' adaptive retry mode does:
      to ``BETA`` times the rate sent over the last second (or the current pace, if lower), regrown along
      :class:`CubicRate` on the answers that follow (never above twice the rate actually sent). Answers to
      attempts sent before the latest cut are the same event and do not cut again.

    Why not cut on every throttling answer, as the AWS SDKs do (AWS sends no ``Retry-After``)? Measured against
    the emulator, 100 creates from 64 threads with half of the requests refused at random (``Retry-After`` 0
    or 2): cutting on each refusal (with or without a floor at half the best accepted second) drove the pace
    to 1-2 requests/s and 16 to 38 of the creates failed their 60 s budget; through the plugin, the ``up`` of
    100 keys failed after 95 s. Refusals that are not about the rate must not starve the calls; with the rules
    above every create succeeded (benchmarks/README.md, "Under a rate limit").

    ``clock`` is a monotonic clock in seconds; :meth:`try_acquire` is the pure decision, :meth:`acquire`
    waits for it.
    """

    MIN_RATE: Final = 0.5
    """The lowest send rate the bucket falls to, in requests/s."""
    WINDOW: Final = 1.0
    """Seconds over which the send rate is measured."""
    MEMORY: Final = 60.0
    """Seconds over which the highest accepted rate is remembered (one operation's default budget)."""

    def __init__(self, max_in_flight: int = 16, *, min_backoff: float = MIN_BACKOFF,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self.min_backoff = min_backoff
        self._clock = clock
        self._cond = threading.Condition()
        self.in_flight = 0
        self.paused_until = -math.inf
        self.rate: float | None = None
        """The bucket's fill rate in requests/s; ``None`` until the first throttling answer (no pacing)."""
        self._tokens = 0.0
        self._filled_at = 0.0
        self._sent: deque[float] = deque()
        self._cubic = CubicRate()
        self._accepted: dict[int, int] = {}
        """Clock second -> answers other than throttling received in it (the last :data:`MEMORY` seconds)."""
        self.stats = LimiterStats()

    def __repr__(self) -> str:
        rate = "unpaced" if self.rate is None else f"{self.rate:.1f}/s"
        return f"RateLimiter({self.in_flight}/{self.max_in_flight} in flight, {rate})"

    def now(self) -> float:
        """The limiter's clock."""
        return self._clock()

    # -- the decision (under the lock) ----------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        if self.rate is not None:
            self._tokens = min(self._burst(), self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now

    def _burst(self) -> float:
        """The bucket's size: a second's worth of the pace, but no more than the attempts allowed in flight."""
        return max(1.0, min(self.rate or 1.0, float(self.max_in_flight)))

    def _measured(self, now: float) -> float:
        while self._sent and self._sent[0] <= now - self.WINDOW:
            self._sent.popleft()
        return len(self._sent) / self.WINDOW

    def _accepted_peak(self, now: float) -> float:
        """The most answers other than throttling in one clock second of the last :data:`MEMORY` seconds: a
        rate the service has shown it takes (a cut never goes below it)."""
        for second in [s for s in self._accepted if s < now - self.MEMORY]:
            del self._accepted[second]
        return float(max(self._accepted.values(), default=0))

    def _wait(self, now: float) -> float:
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= self.max_in_flight:
            return math.inf
        if self.rate is not None:
            self._refill(now)
            if self._tokens < 1.0 - 1e-9:  # (not a rounding error away from a whole token)
                return (1.0 - self._tokens) / self.rate
        return 0.0

    def _take(self, now: float) -> None:
        if self.rate is not None:
            self._tokens -= 1.0
        self.in_flight += 1
        self._sent.append(now)
        self.stats.sent += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)

    def try_acquire(self, now: float | None = None) -> float:
        """Take a place for one attempt if one is free at ``now``: 0.0. Otherwise take nothing and return
        the seconds until one may be (``inf``: when an attempt in flight ends)."""
        with self._cond:
            now = self._clock() if now is None else now
            wait = self._wait(now)
            if wait == 0.0:
                self._take(now)
            return wait

    def acquire(self, deadline: float) -> bool:
        """Wait for a place for one attempt; ``False`` (nothing taken) if none is free before ``deadline``
        (a monotonic time)."""
        with self._cond:
            while True:
                now = self._clock()
                wait = self._wait(now)
                if wait == 0.0:
                    self._take(now)
                    return True
                if now >= deadline or (wait != math.inf and now + wait > deadline):
                    return False  # a pause or the pace would keep it past the deadline: no use waiting
                self._cond.wait(min(wait, deadline - now))  # a place in flight: until one is released

    def release(self) -> None:
        """An attempt is over (answered or failed)."""
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    # -- what the service answered ----------------------------------------------------------------------

    def on_answer(self, status: int, retry_after: float | None, *, sent_at: float,
                  now: float | None = None) -> None:
        """Learn from an answer of HTTP ``status`` to an attempt sent at ``sent_at``; ``retry_after`` is the
        answer's ``Retry-After`` in seconds, if it had one."""
        with self._cond:
            now = self._clock() if now is None else now
            if status in THROTTLE_STATUSES:
                self.stats.throttled += 1
                if retry_after is not None or status == 429:
                    until = now + max(retry_after or 0.0, self.min_backoff)
                    if until > self.paused_until:
                        self.paused_until = until
                        self.stats.pauses += 1
                self._refill(now)
                if retry_after is not None:
                    # The service said when to come back: pause (above), then send no faster than it has shown
                    # it takes. No guessed cut: refusals that are not about the rate must not starve the calls.
                    self.rate = max(self.MIN_RATE, self._accepted_peak(now))
                elif self.rate is None or sent_at >= self._cubic.last_cut:
                    measured = self._measured(now)
                    current = measured if self.rate is None else min(measured, self.rate)
                    self.rate = max(self.MIN_RATE, self._cubic.cut(max(current, self.MIN_RATE), now))
                    self.stats.cuts += 1
                    log.info("throttled (HTTP %s): pacing this account's requests at %.1f/s", status, self.rate)
                self._tokens = min(self._tokens, self._burst())
            else:
                second = math.floor(now)
                self._accepted[second] = self._accepted.get(second, 0) + 1
                if len(self._accepted) > 2 * self.MEMORY:
                    self._accepted_peak(now)  # forget seconds past the memory
            if status not in THROTTLE_STATUSES and self.rate is not None:
                self._refill(now)
                grown = min(self._cubic.grow(now), max(self.rate, 2 * self._measured(now)))
                self.rate = max(self.MIN_RATE, self.rate, grown)
            self._cond.notify_all()

    def note_retry_gap(self, seconds: float) -> None:
        """Record the time between an answer and the next attempt of the same request."""
        with self._cond:
            self.stats.min_retry_gap = min(self.stats.min_retry_gap, seconds)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(base_url: str, account: str, max_in_flight: int) -> RateLimiter:
    """The process's limiter for ``account`` (its id, else the key's public key) at ``base_url``, made on first
    use. Every client of the process to that account shares it; the latest ``max_in_flight`` asked for wins."""
    key = (base_url.rstrip("/"), account)
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = RateLimiter(max_in_flight)
        elif limiter.max_in_flight != max_in_flight:
            with limiter._cond:
                limiter.max_in_flight = max_in_flight
                limiter._cond.notify_all()
        return limiter


def forget_limiters() -> None:
    """Drop every shared limiter (tests: no throttling learned in one test carries into the next)."""
    with _limiters_lock:
        _limiters.clear()


class _Attempts:
    """One request's passage through its account's limiter, across its attempts (the current thread's)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.held = False
        self.sent_at = 0.0
        self.answered_at: float | None = None
        self.learned = False
        """Whether the limiter has learned from the current attempt's answer."""

    def acquire(self, deadline: float) -> bool:
        if not self.limiter.acquire(deadline):
            return False
        self.held = True
        self.learned = False
        self.sent_at = self.limiter.now()
        if self.answered_at is not None:
            self.limiter.note_retry_gap(self.sent_at - self.answered_at)
        return True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.limiter.release()

    def answered(self, status: int, retry_after: float | None) -> None:
        self.release()
        self.answered_at = self.limiter.now()
        if not self.learned:
            self.learned = True
            self.limiter.on_answer(status, retry_after, sent_at=self.sent_at, now=self.answered_at)


_attempts: ContextVar[_Attempts | None] = ContextVar("imburse_request_attempts", default=None)


class RetryBudgetSpent(ResponseError):
    """The time budget ran out while a refused request waited for its turn to be sent again."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}, and the time budget ran out waiting to send the request again")
        self.status = status
        self.retry_after = retry_after


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
                 min_backoff: float = MIN_BACKOFF, deadlines: Deadlines | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_elapsed = max_elapsed
        self.connect_budget = connect_budget
        self.min_backoff = min_backoff
        self.deadlines = deadlines
        """Limits of a request sent without :class:`ImburseAdapter` (fixed at its first retry)."""

    def new(self, **kw: Any) -> ImburseRetry:
        kw.setdefault("max_elapsed", self.max_elapsed)
        kw.setdefault("connect_budget", self.connect_budget)
        kw.setdefault("min_backoff", self.min_backoff)
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
        attempts = _attempts.get()
        if attempts is not None:  # this attempt is over: its place is free, and the limiter learns from it
            if response is not None:
                attempts.answered(response.status, self._retry_after_seconds(response))
            else:
                attempts.release()
                attempts.answered_at = None
        src: Retry = self
        if response is not None and response.status in THROTTLE_STATUSES:
            # Throttling spends the time budget, not the attempts: under a rate limit the budget governs.
            src = self.new(total=None if self.total is None else self.total + 1,
                           status=None if self.status is None else self.status + 1)
        new = Retry.increment(src, method, url, response, error, _pool, _stacktrace)
        assert isinstance(new, ImburseRetry)
        if response is not None and new.respect_retry_after_header:
            wait = new.get_retry_after(response)
            if wait is not None and wait > new.time_left():
                # The service asks for a longer pause than the budget has left: the answer stands now.
                raise MaxRetryError(_pool, url, ResponseError(f"Retry-After {wait:g} s is past the time budget"))
        cause = error.__class__.__name__ if error is not None else f"HTTP {response.status}" if response else "?"
        log.info("%s %s: %s; retrying (%.1f s of the budget left)", method, url, cause, new.time_left())
        return new

    def _retry_after_seconds(self, response: BaseHTTPResponse) -> float | None:
        return self.get_retry_after(response) if self.respect_retry_after_header else None

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Wait before the next attempt: ``Retry-After``, else the backoff, at least ``min_backoff`` after an
        answer; then wait for the account's limiter (a pause asked of every caller, the pace, a free place).
        Raises :class:`~urllib3.exceptions.MaxRetryError` if the limiter has no place before the budget ends."""
        left = self.time_left()
        if left <= 0:
            return
        wait = self._retry_after_seconds(response) if response is not None else None
        if wait is None:
            wait = self.get_backoff_time()
        if response is not None:
            wait = max(wait, self.min_backoff)
        if wait > 0:
            pause(min(wait, left))
        attempts = _attempts.get()
        limits = self._limits()
        if attempts is None or limits is None:
            return
        end = min(limits.total, limits.connect) if self._last_error_was_connect() else limits.total
        if not attempts.acquire(end):
            last = self.history[-1] if self.history else None
            if response is not None:
                reason: Exception = RetryBudgetSpent(response.status, self._retry_after_seconds(response))
            else:
                reason = last.error if last is not None and last.error is not None else ResponseError("budget spent")
            raise MaxRetryError(cast(Any, None), last.url if last is not None else None, reason)  # no pool at hand


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
        min_backoff=policy.min_backoff,
    )


class ImburseAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that applies the retry policy within the current operation's time budget."""

    def __init__(self, policy: RetryPolicy, *, pool_maxsize: int = POOL_MAXSIZE,
                 limiter: RateLimiter | None = None) -> None:
        self.policy = policy
        self.limiter = limiter
        """The account's limiter every attempt passes (none: attempts are not limited)."""
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
        if REQUEST_ID_HEADER not in request.headers:
            request.headers[REQUEST_ID_HEADER] = str(uuid.uuid4())
        attempts = None
        if self.limiter is not None:
            attempts = _Attempts(self.limiter)
            if not attempts.acquire(total):
                spent = budget.seconds if budget is not None else self.policy.max_elapsed
                raise BudgetSpent(f"the time budget of {spent:g} s was spent waiting for this account's request "
                                  f"rate before the request was sent", request=request)
            remaining = total - time.monotonic()
        token = _request.set(Deadlines(total, min(total, now + self.policy.connect_budget)))
        att_token = _attempts.set(attempts)
        try:
            response = super().send(request, stream=stream, timeout=cap_timeout(timeout, remaining), verify=verify,
                                    cert=cert, proxies=proxies)
            if attempts is not None:
                attempts.answered(response.status_code, None)
            return response
        finally:
            if attempts is not None:
                attempts.release()
            _attempts.reset(att_token)
            _request.reset(token)


def imburse_adapter(policy: RetryPolicy | None = None, *, pool_maxsize: int = POOL_MAXSIZE,
                    limiter: RateLimiter | None = None) -> ImburseAdapter:
    """An adapter carrying the retry policy, a connection pool sized for parallel steps and the account's
    limiter (:func:`shared_limiter`)."""
    return ImburseAdapter(policy or RetryPolicy(), pool_maxsize=pool_maxsize, limiter=limiter)


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
