"""The client's token rules (pulumi_imburse.client), without a network: when a bearer token is renewed, and
that one failed exchange is shared by every caller waiting for it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from types import TracebackType

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pulumi_imburse.client import REFRESH_SHARE, ImburseClient, _TokenCache, token_refresh_at
from pulumi_imburse.config import resolve, without_userinfo
from pulumi_imburse.errors import ConfigurationError, ServerError, TokenExchangeError
from pulumi_imburse.models import AccessToken

pytestmark = pytest.mark.unit

EPOCH = st.floats(min_value=1e9, max_value=4e9)
SECONDS = st.floats(min_value=0.001, max_value=1e7)


# ---------------------------------------------------------------- when to renew


@given(EPOCH, SECONDS, st.floats(min_value=0, max_value=1e7))
def test_a_token_is_renewed_before_it_expires_but_used_for_most_of_its_life(obtained: float, lifetime: float,
                                                                          margin: float) -> None:
    expires = obtained + lifetime
    assume(expires - obtained > 0)
    refresh = token_refresh_at(obtained, expires, margin)
    assert refresh <= expires
    assert refresh >= obtained + (1 - REFRESH_SHARE) * (expires - obtained) - 1e-5
    if margin <= REFRESH_SHARE * (expires - obtained):
        assert math.isclose(refresh, expires - margin, rel_tol=0, abs_tol=1e-5)


@pytest.mark.parametrize(("lifetime", "margin", "renew_after"), [
    (3600, 30, 3570),   # the usual case: 30 s before expiry
    (60, 30, 45),       # a quarter of the lifetime left, not half of it
    (30, 30, 22.5),     # lifetime equal to the margin: still used for 3/4 of it
    (10, 30, 7.5),      # lifetime under the margin
])
def test_renewal_times(lifetime: float, margin: float, renew_after: float) -> None:
    assert token_refresh_at(1_000_000, 1_000_000 + lifetime, margin) == 1_000_000 + renew_after


@given(EPOCH, st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e4))
def test_a_token_that_looks_expired_on_arrival_is_used_until_refused(obtained: float, skew: float,
                                                                      margin: float) -> None:
    # This machine's clock is ahead of the service's: trust the service (a 401 renews it once).
    assert token_refresh_at(obtained, obtained - skew, margin) == math.inf


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_living_no_longer_than_the_margin_is_reused() -> None:
    # Real clock: a token that expires in 20 s, a 30 s margin. Before the fix every call exchanged again.
    fetched: list[AccessToken] = []

    def fetch() -> AccessToken:
        fetched.append(AccessToken(f"t{len(fetched)}", time.time() + 20))
        return fetched[-1]

    cache = _TokenCache(30)
    tokens = {cache.get(fetch).token for _ in range(50)}
    assert tokens == {"t0"} and len(fetched) == 1


def test_the_token_is_renewed_once_due_and_not_before() -> None:
    clock = Clock()
    fetched: list[AccessToken] = []

    def fetch() -> AccessToken:
        fetched.append(AccessToken(f"t{len(fetched)}", clock.now + 3600))
        return fetched[-1]

    cache = _TokenCache(30, clock=clock)
    assert cache.get(fetch).token == "t0"
    clock.now += 3569
    assert cache.get(fetch).token == "t0"
    clock.now += 1
    assert cache.get(fetch).token == "t1"
    assert len(fetched) == 2


def test_invalidate_forgets_only_the_stale_token() -> None:
    clock = Clock()
    n = 0

    def fetch() -> AccessToken:
        nonlocal n
        n += 1
        return AccessToken(f"t{n}", clock.now + 3600)

    cache = _TokenCache(30, clock=clock)
    first = cache.get(fetch)
    cache.invalidate(AccessToken("someone else's", 0))
    assert cache.get(fetch) is first
    cache.invalidate(first)
    assert cache.get(fetch).token == "t2"


# ---------------------------------------------------------------- one failure for every waiter


class CountingLock:
    """A lock that counts the threads that have asked for it (so a test knows who is queued)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = threading.Condition()
        self.asked = 0

    def __enter__(self) -> bool:
        with self._count:
            self.asked += 1
            self._count.notify_all()
        return self._lock.__enter__()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._lock.__exit__(t, e, tb)

    def wait_for(self, n: int, timeout: float = 30) -> bool:
        with self._count:
            return self._count.wait_for(lambda: self.asked >= n, timeout)


def _run(n: int, target: Callable[[], object]) -> tuple[list[object], list[BaseException]]:
    results: list[object] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(target())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_callers_queued_behind_a_failed_exchange_share_its_failure() -> None:
    cache = _TokenCache(30)
    lock = CountingLock()
    cache._lock = lock  # type: ignore[assignment]
    calls = 0

    def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        assert lock.wait_for(4), "the other callers never queued"  # all 4 callers are at the lock
        raise TokenExchangeError("could not obtain a bearer token from http://imburse.test/x: HTTP 504",
                                 status=504, method="POST", path="/x")

    results, errors = _run(4, lambda: cache.get(fetch))
    assert results == []
    assert calls == 1, "each waiting caller repeated the failed exchange"
    assert len(errors) == 4 and all(isinstance(e, TokenExchangeError) for e in errors)
    assert {str(e) for e in errors} == {"POST /x: HTTP 504: could not obtain a bearer token from "
                                        "http://imburse.test/x: HTTP 504"}
    assert len({id(e) for e in errors}) == 4  # each thread raises its own copy


def test_a_caller_arriving_after_a_failure_tries_again() -> None:
    clock = Clock()
    outcomes: list[Exception | AccessToken] = [ServerError("boom", status=500),
                                               AccessToken("t", clock.now + 3600)]

    def fetch() -> AccessToken:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    cache = _TokenCache(30, clock=clock)
    with pytest.raises(ServerError):
        cache.get(fetch)
    assert cache.get(fetch).token == "t"
    assert outcomes == []


@pytest.mark.parametrize(("url", "shown"), [
    ("https://sandbox-api.imbursepayments.com", "https://sandbox-api.imbursepayments.com"),
    ("http://user:hunter22@127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
    ("http://token@[::1]:8/p", "http://[::1]:8/p"),
    ("http://p@ss:w@host", "http://host"),
])
def test_urls_in_messages_never_carry_credentials(url: str, shown: str) -> None:
    assert without_userinfo(url) == shown


# ---------------------------------------------------------------- building a client from settings


@pytest.mark.parametrize(("settings", "named"), [
    ({"imburse:baseUrl": "localhost:8080"}, "stack config imburse:baseUrl must be an https:// URL"),
    ({"imburse:privateKey": "not base64!"}, "imburse:privateKey (or environment variable IMBURSE_PRIVATE_KEY)"),
    ({"imburse:publicKey": ""}, "imburse:publicKey or environment variable IMBURSE_PUBLIC_KEY"),
])
def test_a_client_is_built_only_from_well_formed_credentials(settings: dict[str, str], named: str) -> None:
    config = {"imburse:baseUrl": "http://127.0.0.1:9", "imburse:publicKey": "3b0e6c1d-6f1a-4c8e-9a51-2d6f0f7f4e21",
              "imburse:privateKey": "c2VjcmV0", **settings}
    with pytest.raises(ConfigurationError) as err:
        ImburseClient.from_credentials(resolve(config, {}))
    assert named in str(err.value)
    assert "not base64!" not in str(err.value)



def test_well_formed_credentials_make_a_client_without_any_request() -> None:
    config = {"imburse:baseUrl": "http://127.0.0.1:9/", "imburse:publicKey": "3b0e6c1d-6f1a-4c8e-9a51-2d6f0f7f4e21",
              "imburse:privateKey": "c2VjcmV0\n"}  # port 9 (discard): nothing listens, nothing is sent
    with ImburseClient.from_credentials(resolve(config, {})) as client:
        assert client.base_url == "http://127.0.0.1:9"
