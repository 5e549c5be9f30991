"""The retry policy's decisions (pulumi_imburse.transport), without a network: what may be repeated, for how
long, and which urllib3 the code needs."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.response import HTTPResponse

from pulumi_imburse import transport
from pulumi_imburse.transport import (
    IDEMPOTENT_METHODS,
    Deadlines,
    ImburseRetry,
    RetryPolicy,
    cap_timeout,
    make_retry,
    may_retry_status,
    operation_budget,
    repeat,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
METHODS = st.sampled_from(["GET", "PUT", "DELETE", "POST", "get", "post", "PATCH"])
STATUSES = st.integers(min_value=100, max_value=599)


# ---------------------------------------------------------------- what may be repeated


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_an_idempotent_request_is_retried_on_server_errors_and_refusals(method: str, status: int) -> None:
    assert make_retry(RetryPolicy()).is_retry(method, status)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_post_that_may_have_been_acted_on_is_not_retried(status: int) -> None:
    assert not make_retry(RetryPolicy()).is_retry("POST", status)


@pytest.mark.parametrize("status", [429, 503])
def test_a_post_the_server_refused_before_acting_is_retried(status: int) -> None:
    assert make_retry(RetryPolicy()).is_retry("POST", status)


@given(METHODS, STATUSES)
def test_retry_decision_rule(method: str, status: int) -> None:
    retried = make_retry(RetryPolicy()).is_retry(method, status)
    assert retried == may_retry_status(method, status)
    if status not in (429, 500, 502, 503, 504):
        assert not retried  # success, redirects, other client errors, "not implemented": final
    elif method.upper() in IDEMPOTENT_METHODS:
        assert retried
    else:
        assert retried == (status in (429, 503))  # a write: only when refused before being acted on


def test_a_read_timeout_of_a_post_is_never_retried() -> None:
    retry = make_retry(RetryPolicy())
    with pytest.raises(ReadTimeoutError):
        retry.increment("POST", "/v1/tenant/x/keys", error=ReadTimeoutError(None, "/x", "read timed out"))  # type: ignore[arg-type]


# ---------------------------------------------------------------- time


def _connect_error() -> NewConnectionError:
    return NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]


def test_no_retry_once_the_budget_is_spent() -> None:
    now = time.monotonic()
    spent = make_retry(RetryPolicy()).new(deadlines=Deadlines(total=now - 0.1, connect=now - 0.1))
    assert spent.is_exhausted()
    with pytest.raises(MaxRetryError):
        spent.increment("GET", "/v1/account/tenants", response=HTTPResponse(status=503))


def test_a_budget_with_time_left_allows_a_retry() -> None:
    now = time.monotonic()
    fresh = make_retry(RetryPolicy()).new(deadlines=Deadlines(total=now + 60, connect=now + 60))
    assert not fresh.is_exhausted()
    assert not fresh.increment("GET", "/v1/account/tenants", response=HTTPResponse(status=503)).is_exhausted()


def test_connection_failures_stop_at_the_connect_budget_other_failures_do_not() -> None:
    now = time.monotonic()
    retry = make_retry(RetryPolicy()).new(deadlines=Deadlines(total=now + 60, connect=now - 0.1))
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/v1/account/tenants", error=_connect_error())
    after_503 = retry.increment("GET", "/v1/account/tenants", response=HTTPResponse(status=503))
    assert not after_503.is_exhausted()


def test_without_an_operation_a_request_still_has_a_time_limit() -> None:
    # A Retry used outside ImburseAdapter fixes its limits at its first retry.
    policy = RetryPolicy(max_elapsed=30, connect_budget=2)
    before = time.monotonic()
    retry = make_retry(policy).increment("GET", "/x", response=HTTPResponse(status=503))
    assert isinstance(retry, ImburseRetry) and retry.deadlines is not None
    assert before + 30 <= retry.deadlines.total <= time.monotonic() + 30
    assert before + 2 <= retry.deadlines.connect <= time.monotonic() + 2


def test_a_retry_after_longer_than_the_budget_left_is_not_waited_for() -> None:
    now = time.monotonic()
    retry = make_retry(RetryPolicy()).new(deadlines=Deadlines(total=now + 5, connect=now + 5))
    throttled = HTTPResponse(status=429, headers={"Retry-After": "30"})
    with pytest.raises(MaxRetryError):
        retry.increment("GET", "/v1/account/tenants", response=throttled)
    soon = HTTPResponse(status=429, headers={"Retry-After": "1"})
    assert not retry.increment("GET", "/v1/account/tenants", response=soon).is_exhausted()


def test_sleeps_honour_retry_after_but_never_pass_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    now = time.monotonic()
    retry = make_retry(RetryPolicy(retry_after_max=30)).new(deadlines=Deadlines(total=now + 3, connect=now + 3))
    retry.sleep(HTTPResponse(status=503, headers={"Retry-After": "2"}))
    retry.sleep(HTTPResponse(status=503, headers={"Retry-After": "20"}))
    assert slept[0] == 2
    assert 2 < slept[1] <= 3


def test_retry_after_is_capped_by_the_policy() -> None:
    retry = make_retry(RetryPolicy(retry_after_max=30))
    assert retry.get_retry_after(HTTPResponse(status=429, headers={"Retry-After": "86400"})) == 30


@given(st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=0.999))
def test_backoff_grows_and_stays_within_its_bounds(failures: int, rand: float) -> None:
    policy = RetryPolicy()
    wait = policy.backoff(failures, rand)
    assert 0 <= wait <= policy.backoff_max
    assert policy.backoff(failures + 1, rand) >= wait
    assert policy.backoff(0, rand) == 0


@given(st.one_of(st.none(), st.floats(min_value=0.01, max_value=1e4),
                 st.tuples(st.floats(min_value=0.01, max_value=1e4), st.floats(min_value=0.01, max_value=1e4))),
       st.floats(min_value=0.001, max_value=1e4))
def test_an_attempt_never_waits_past_the_budget(timeout: Any, remaining: float) -> None:
    connect, read = cap_timeout(timeout, remaining)
    assert 0 < connect <= remaining and 0 < read <= remaining
    if isinstance(timeout, tuple):
        assert connect <= timeout[0] and read <= timeout[1]
    elif timeout is not None:
        assert connect <= timeout and read <= timeout


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"max_elapsed": 0}, {"connect_budget": -1},
                                 {"backoff_factor": -0.1}, {"max_elapsed": float("nan")}])
def test_a_policy_that_cannot_work_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**bad)


# ---------------------------------------------------------------- operation budgets


def test_an_inner_operation_never_outlives_the_outer_one() -> None:
    with operation_budget(1.0) as outer:
        with operation_budget(60.0) as inner:
            assert inner is outer and transport.current_budget() is outer
        with operation_budget(0.5) as shorter:
            assert shorter is not outer and shorter.deadline < outer.deadline
    assert transport.current_budget() is None


def test_a_budget_belongs_to_its_thread() -> None:
    seen: list[object] = []
    with operation_budget(1.0):
        t = threading.Thread(target=lambda: seen.append(transport.current_budget()))
        t.start()
        t.join()
    assert seen == [None]


class Flaky(Exception):
    pass


def test_repeat_retries_what_it_may_up_to_the_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise Flaky

    with pytest.raises(Flaky):
        repeat(attempt, policy=RetryPolicy(attempts=4, backoff_jitter=0), retryable=lambda e: isinstance(e, Flaky))
    assert calls == 4 and len(slept) == 3
    assert slept == sorted(slept)


def test_repeat_raises_other_errors_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "pause", lambda s: None)
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise KeyError("x")

    with pytest.raises(KeyError):
        repeat(attempt, policy=RetryPolicy(), retryable=lambda e: isinstance(e, Flaky))
    assert calls == 1


def test_repeat_stops_when_the_next_backoff_would_pass_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "pause", lambda s: None)
    calls = 0

    def attempt() -> str:
        nonlocal calls
        calls += 1
        raise Flaky

    policy = RetryPolicy(attempts=100, backoff_factor=1.0, backoff_jitter=0, backoff_max=10)
    with operation_budget(3.5), pytest.raises(Flaky):  # backoffs of 1, 2, 4 s: the third is past 3.5 s
        repeat(attempt, policy=policy, retryable=lambda e: isinstance(e, Flaky))
    assert calls == 3


def test_repeat_returns_the_first_success(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "pause", lambda s: None)
    results: Iterator[Exception | str] = iter([Flaky(), Flaky(), "token"])

    def attempt() -> str:
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    assert repeat(attempt, policy=RetryPolicy(), retryable=lambda e: isinstance(e, Flaky)) == "token"


# ---------------------------------------------------------------- the urllib3 the code needs


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def test_the_declared_urllib3_has_every_feature_the_transport_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    passed: dict[str, Any] = {}

    class Recorder:
        def __init__(self, **kwargs: Any) -> None:
            passed.update(kwargs)

    monkeypatch.setattr(transport, "ImburseRetry", Recorder)
    make_retry(RetryPolicy())
    ours = {"max_elapsed", "connect_budget", "deadlines"}
    since_1_x = {"total", "connect", "read", "status", "other", "redirect", "status_forcelist", "backoff_factor",
                 "raise_on_status", "raise_on_redirect", "respect_retry_after_header"}
    newer = set(passed) - ours - since_1_x
    assert newer <= set(transport.URLLIB3_FEATURES), "a Retry argument is missing from URLLIB3_FEATURES"

    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'"urllib3>=([0-9.]+)', pyproject)
    assert declared, "pyproject.toml declares no urllib3 lower bound"
    needed = max(transport.URLLIB3_FEATURES.values(), key=_version)
    assert _version(declared.group(1)) >= _version(needed), (
        f"urllib3>={declared.group(1)} is declared but the code needs {needed}")


@given(st.integers(min_value=1, max_value=20), st.floats(min_value=0, max_value=5), st.floats(min_value=0, max_value=5),
       st.floats(min_value=0.1, max_value=120), st.floats(min_value=0.1, max_value=30))
def test_the_retry_object_carries_the_policy(attempts: int, factor: float, jitter: float, budget: float,
                                             connect_budget: float) -> None:
    policy = transport.RetryPolicy(attempts=attempts, backoff_factor=factor, backoff_jitter=jitter,
                                   max_elapsed=budget, connect_budget=connect_budget, retry_after_max=7.5)
    retry = transport.make_retry(policy)
    # `attempts` counts the first try: urllib3 counts retries after it, for every kind of failure.
    assert (retry.total, retry.connect, retry.read, retry.status) == (attempts - 1,) * 4
    assert (retry.other, retry.redirect) == (0, 0)  # no retry of unexpected errors, no redirect followed
    assert retry.allowed_methods == transport.IDEMPOTENT_METHODS
    assert retry.status_forcelist == transport.RETRY_STATUSES
    assert (retry.backoff_factor, retry.backoff_jitter, retry.backoff_max) == (factor, jitter, policy.backoff_max)
    assert retry.respect_retry_after_header is True and retry.retry_after_max == 8  # whole seconds, rounded up
    # the last answer stands (the client turns it into a typed error) rather than urllib3 raising
    assert retry.raise_on_status is False and retry.raise_on_redirect is False
    assert (retry.max_elapsed, retry.connect_budget) == (budget, connect_budget)
