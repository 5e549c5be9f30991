"""Transport policy for the Imburse API: retries, backoff and timeouts, in one adapter.

Call sites never loop or sleep: a :class:`requests.Session` mounts :func:`imburse_adapter`, whose
:class:`ImburseRetry` decides what may be repeated.

- Safe to repeat (GET, PUT, DELETE): connection errors, read errors, 429, 502, 503, 504.
- POST (creates are not idempotent): only when the request was certainly not acted on, i.e. the
  connection was never made, or the server answered 429 or 503 (it refused before acting).
  A POST that may have been acted on (read timeout, connection lost after sending, 502, 504) is
  not repeated; the client raises :class:`~pulumi_imburse.errors.OutcomeUnknownError` instead.
- Backoff is exponential with jitter; ``Retry-After`` is honoured (capped); attempts and the total
  time spent retrying are both bounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from requests.adapters import HTTPAdapter
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
"""Statuses worth another attempt for a request that is safe to repeat."""

NOT_ACTED_ON_STATUSES: Final = frozenset({429, 503})
"""Statuses by which the server says it refused the request before acting on it."""

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before giving up. All times in seconds."""

    attempts: int = 10
    """Attempts in all (the first one included). At a 30% refusal rate 6 attempts gave up on 1 call in
    1,400 (1 PUT in 400 with commit-then-504 added), failing a 200-key update 40% of the time; 10 give up
    on fewer than 1 in 20,000. ``max_elapsed`` still bounds the time."""
    backoff_factor: float = 0.2
    """Exponential backoff base: sleeps of about 0.2, 0.4, 0.8, ... seconds."""
    backoff_jitter: float = 0.2
    """Random extra sleep, up to this many seconds, so parallel clients spread out."""
    backoff_max: float = 10.0
    retry_after_max: float = 30.0
    """Longest ``Retry-After`` honoured; a longer one is cut to this."""
    max_elapsed: float = 60.0
    """Total time the retries of one request may take; past it the last answer stands."""


class ImburseRetry(Retry):
    """urllib3 ``Retry`` with the POST rule and a bound on total retry time (see module docs)."""

    def __init__(self, *args: Any, max_elapsed: float = 60.0, deadline: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_elapsed = max_elapsed
        self.deadline = deadline

    def new(self, **kw: Any) -> ImburseRetry:
        # The clock starts at the first retry of a request (new() is called by increment()).
        kw.setdefault("max_elapsed", self.max_elapsed)
        kw.setdefault("deadline", self.deadline if self.deadline is not None else time.monotonic() + self.max_elapsed)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() not in IDEMPOTENT_METHODS:
            # Only a refusal before acting makes a non-idempotent request safe to send again.
            return bool(self.total) and status_code in NOT_ACTED_ON_STATUSES
        return super().is_retry(method, status_code, has_retry_after)

    def is_exhausted(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return super().is_exhausted()

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                time.sleep(retry_after if remaining is None else min(retry_after, remaining))
                return
        backoff = self.get_backoff_time()
        if backoff > 0:
            time.sleep(backoff if remaining is None else min(backoff, remaining))


def make_retry(policy: RetryPolicy) -> ImburseRetry:
    """The urllib3 retry object for ``policy``."""
    retries = max(0, policy.attempts - 1)
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
        retry_after_max=int(policy.retry_after_max),
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        max_elapsed=policy.max_elapsed,
    )


def imburse_adapter(policy: RetryPolicy | None = None, *, pool_maxsize: int = 32) -> HTTPAdapter:
    """An ``HTTPAdapter`` carrying the retry policy and a connection pool sized for parallel steps."""
    return HTTPAdapter(max_retries=make_retry(policy or RetryPolicy()), pool_connections=4, pool_maxsize=pool_maxsize)
