"""The retry policy's decisions (pulumi_imburse.transport), without a network: what may be repeated, for how
long, and which urllib3 the code needs."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
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
    ours = {"max_elapsed", "connect_budget", "min_backoff", "deadlines"}
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


# ---------------------------------------------------------------- what a retry records, says and waits


URL = "/v1/account/tenants"


def _fresh(policy: RetryPolicy | None = None, *, total: float = 60, connect: float = 60) -> ImburseRetry:
    now = time.monotonic()
    return make_retry(policy or RetryPolicy()).new(deadlines=Deadlines(total=now + total, connect=now + connect))


def _raised_in_the_driver() -> tuple[ReadTimeoutError, Any]:
    def read_the_answer() -> None:
        raise ReadTimeoutError(None, URL, "read timed out")  # type: ignore[arg-type]

    try:
        read_the_answer()
    except ReadTimeoutError as exc:
        return exc, exc.__traceback__
    raise AssertionError("unreachable")


def test_each_attempt_is_recorded_with_its_method_url_and_answer() -> None:
    retry = _fresh().increment("GET", URL, response=HTTPResponse(status=500))
    retry = retry.increment("PUT", URL + "/x", error=ReadTimeoutError(None, URL, "read timed out"))  # type: ignore[arg-type]
    first, second = retry.history
    assert (first.method, first.url, first.status, first.error) == ("GET", URL, 500, None)
    assert (second.method, second.url, second.status) == ("PUT", URL + "/x", None)
    assert isinstance(second.error, ReadTimeoutError)
    # A 500 spends one of the status retries, a read timeout one of the read retries.
    assert (retry.total, retry.status, retry.read, retry.connect) == (7, 8, 8, 9)


@pytest.mark.parametrize("status", [429, 503])
def test_throttling_spends_the_budget_not_the_attempts(status: int) -> None:
    # The issue: one key gave up after 10 attempts in 18 s with 42 s of its budget left.
    retry = make_retry(RetryPolicy(attempts=2)).new(deadlines=Deadlines(total=time.monotonic() + 60,
                                                                        connect=time.monotonic() + 5))
    for _ in range(50):
        retry = retry.increment("POST", URL, response=HTTPResponse(status=status, headers={"Retry-After": "2"}))
    assert (retry.total, retry.status) == (1, 1) and len(retry.history) == 50 and not retry.is_exhausted()
    with pytest.raises(MaxRetryError):  # anything else still counts
        retry.increment("GET", URL, response=HTTPResponse(status=500)).increment(
            "GET", URL, response=HTTPResponse(status=500))


def test_a_read_timeout_of_an_idempotent_request_is_retried() -> None:
    retry = _fresh().increment("GET", URL, error=ReadTimeoutError(None, URL, "read timed out"))  # type: ignore[arg-type]
    assert not retry.is_exhausted() and retry.read == 8


def test_a_post_read_timeout_is_raised_with_its_original_traceback() -> None:
    error, traceback = _raised_in_the_driver()
    with pytest.raises(ReadTimeoutError) as raised:
        _fresh().increment("POST", URL, error=error, _stacktrace=traceback)
    assert raised.value is error
    frames = []
    tb = raised.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "read_the_answer" in frames  # where the driver failed, not only where the retry re-raised it


def test_a_connection_failure_is_retried_while_the_connect_budget_lasts() -> None:
    retry = _fresh(connect=5).increment("GET", URL, error=_connect_error())
    assert not retry.is_exhausted() and retry.connect == 8


def test_a_read_failure_does_not_stop_at_the_connect_budget() -> None:
    # The service was reached: only a failure to connect is bound by the (short) connect budget.
    retry = _fresh(connect=-0.1).increment("GET", URL, error=ReadTimeoutError(None, URL, "read timed out"))  # type: ignore[arg-type]
    assert not retry.is_exhausted() and retry.time_left() > 50


def test_half_a_second_left_still_allows_a_retry() -> None:
    retry = _fresh(total=0.5)
    assert not retry.is_exhausted()
    assert not retry.increment("GET", URL, response=HTTPResponse(status=503)).is_exhausted()


def test_the_answer_that_ends_the_retries_names_the_request_and_why() -> None:
    pool = object()
    retry = _fresh(total=5)
    with pytest.raises(MaxRetryError) as raised:
        retry.increment("GET", URL, response=HTTPResponse(status=429, headers={"Retry-After": "30"}),
                        _pool=pool)
    assert raised.value.pool is pool and raised.value.url == URL
    assert str(raised.value.reason) == "Retry-After 30 s is past the time budget"
    spent = make_retry(RetryPolicy(attempts=1))
    with pytest.raises(MaxRetryError) as raised:
        spent.increment("GET", URL, response=HTTPResponse(status=500), _pool=pool)
    assert raised.value.pool is pool and raised.value.url == URL


def test_every_retry_is_logged_with_its_request_its_cause_and_the_budget_left(caplog: pytest.LogCaptureFixture
                                                                             ) -> None:
    caplog.set_level("INFO", logger=transport.__name__)
    retry = _fresh(total=30)
    retry = retry.increment("GET", URL, response=HTTPResponse(status=503))
    retry = retry.increment("PUT", URL, error=ReadTimeoutError(None, URL, "read timed out"))  # type: ignore[arg-type]
    retry.increment("DELETE", URL)  # neither an answer nor an error
    pattern = r"(GET|PUT|DELETE) /v1/account/tenants: (.*); retrying \((\d+\.\d) s of the budget left\)"
    found = [re.fullmatch(pattern, m) for m in caplog.messages]
    assert all(found), caplog.messages
    assert [(m.group(1), m.group(2)) for m in found if m] == [
        ("GET", "HTTP 503"), ("PUT", "ReadTimeoutError"), ("DELETE", "?")]
    assert all(29 <= float(m.group(3)) <= 30 for m in found if m)


def test_the_first_retry_is_immediate_then_the_backoff_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    retry = _fresh(RetryPolicy(backoff_factor=0.2, backoff_jitter=0))
    for _ in range(4):
        retry = retry.increment("GET", URL, error=ReadTimeoutError(None, URL, "read timed out"))  # type: ignore[arg-type]
        retry.sleep()
    assert slept == [0.4, 0.8, 1.6]  # urllib3's backoff: none after the first failure, then factor * 2^(n-1)


def test_a_backoff_under_a_second_is_still_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    retry = _fresh(RetryPolicy(backoff_factor=0.1, backoff_jitter=0))
    retry = retry.increment("GET", URL, response=HTTPResponse(status=503))
    retry = retry.increment("GET", URL, response=HTTPResponse(status=503))
    retry.sleep(HTTPResponse(status=503))  # no Retry-After: the backoff
    assert slept == [0.2]


def test_the_last_half_second_of_the_budget_is_still_waited(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    _fresh(total=0.5).sleep(HTTPResponse(status=503, headers={"Retry-After": "2"}))
    assert len(slept) == 1 and 0.4 < slept[0] <= 0.5


def test_retry_after_is_ignored_when_the_policy_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    now = time.monotonic()
    retry = ImburseRetry(total=3, backoff_factor=1, backoff_jitter=0, respect_retry_after_header=False,
                         deadlines=Deadlines(now + 60, now + 60))
    retry = retry.increment("GET", URL, response=HTTPResponse(status=503))
    retry = retry.increment("GET", URL, response=HTTPResponse(status=503))
    retry.sleep(HTTPResponse(status=503, headers={"Retry-After": "20"}))
    assert slept == [2.0]


def test_a_retry_object_keeps_its_policy_through_every_attempt() -> None:
    retry = make_retry(RetryPolicy(max_elapsed=7, connect_budget=2))
    for _ in range(3):
        retry = retry.new()
        assert (retry.max_elapsed, retry.connect_budget) == (7, 2)
    assert retry.deadlines is not None and retry.deadlines.connect < retry.deadlines.total


def test_a_retry_made_by_hand_has_the_policy_defaults_and_takes_urllib3_arguments() -> None:
    policy = RetryPolicy()
    retry = ImburseRetry(3)
    assert retry.total == 3
    assert (retry.max_elapsed, retry.connect_budget) == (policy.max_elapsed, policy.connect_budget)


# ---------------------------------------------------------------- the policy's own backoff (repeat)


@pytest.mark.parametrize(("failures", "rand", "wait"), [
    (0, 0.5, 0.0), (1, 0.0, 0.2), (1, 0.5, 0.3), (2, 0.0, 0.4), (3, 0.0, 0.8), (3, 0.25, 0.85), (4, 0.0, 1.6),
    (10, 0.0, 10.0), (10, 0.9, 10.0)])
def test_backoff_values(failures: int, rand: float, wait: float) -> None:
    # factor 0.2 doubled per failure, plus up to 0.2 s of jitter, at most 10 s
    assert RetryPolicy(backoff_factor=0.2, backoff_jitter=0.2, backoff_max=10).backoff(failures, rand) == \
        pytest.approx(wait)


def test_backoff_without_a_cap_never_overflows() -> None:
    assert RetryPolicy(backoff_max=math.inf, backoff_jitter=0).backoff(100_000) == pytest.approx(0.2 * 2.0 ** 64)


def test_a_policy_without_attempts_says_so() -> None:
    with pytest.raises(ValueError) as raised:
        RetryPolicy(attempts=0)
    assert str(raised.value) == "RetryPolicy.attempts must be at least 1"


def test_a_spent_budget_has_nothing_left() -> None:
    now = [100.0]
    budget = transport.Budget(2, clock=lambda: now[0])
    now[0] = 101.5
    assert budget.remaining() == pytest.approx(0.5) and budget.elapsed() == pytest.approx(1.5)
    now[0] = 103.0
    assert budget.remaining() == 0.0 and budget.elapsed() == pytest.approx(3.0)


def test_repeat_logs_each_retry_and_its_wait(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
                                            ) -> None:
    caplog.set_level("INFO", logger=transport.__name__)
    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)
    results: Iterator[Exception | str] = iter([Flaky(), Flaky(), "token"])

    def attempt() -> str:
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    policy = RetryPolicy(backoff_factor=0.25, backoff_jitter=0)
    assert repeat(attempt, policy=policy, retryable=lambda e: isinstance(e, Flaky)) == "token"
    assert slept == [0.25, 0.5]
    assert caplog.messages == ["Flaky; trying again in 0.25 s", "Flaky; trying again in 0.50 s"]


# ---------------------------------------------------------------- the adapter a client mounts


class Sent:
    """What ImburseAdapter hands to requests' own adapter (which would open the connection)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        monkeypatch.setattr(HTTPAdapter, "send", self._send)

    def _send(self, request: requests.PreparedRequest, stream: bool = False,
              timeout: Any = None, verify: Any = True, cert: Any = None, proxies: Any = None) -> str:
        self.calls.append({"request": request, "stream": stream, "timeout": timeout, "verify": verify, "cert": cert,
                           "proxies": proxies, "limits": transport._request.get(), "at": time.monotonic()})
        return "answer"


def _request(url: str = "https://sandbox-api.imbursepayments.com/v1/account/tenants") -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_an_adapter_retries_by_its_policy() -> None:
    policy = RetryPolicy(attempts=4, max_elapsed=12, connect_budget=3)
    adapter = transport.imburse_adapter(policy)
    assert adapter.policy is policy
    retry = adapter.max_retries
    assert isinstance(retry, ImburseRetry)
    assert (retry.total, retry.max_elapsed, retry.connect_budget) == (3, 12, 3)
    assert transport.imburse_adapter().policy == RetryPolicy()


def test_an_adapter_keeps_as_many_connections_as_asked() -> None:
    url = "https://sandbox-api.imbursepayments.com"
    for adapter, size in ((transport.imburse_adapter(pool_maxsize=7), 7),
                          (transport.imburse_adapter(), transport.POOL_MAXSIZE)):
        pool = adapter.poolmanager.connection_from_url(url)  # a pool of connections for the service, none open
        assert pool.pool is not None and pool.pool.maxsize == size


def test_a_request_within_an_operation_gets_what_is_left_of_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    adapter = transport.imburse_adapter(RetryPolicy(max_elapsed=60, connect_budget=5))
    with operation_budget(10) as budget:
        answer = adapter.send(_request(), stream=True, timeout=(3, 30), verify="/etc/ca.pem", cert="client.pem",
                              proxies={"https": "http://proxy:3128"})
    assert answer == "answer"  # type: ignore[comparison-overlap]
    (call,) = sent.calls
    assert call["request"].url == "https://sandbox-api.imbursepayments.com/v1/account/tenants"
    assert (call["stream"], call["verify"], call["cert"], call["proxies"]) == (
        True, "/etc/ca.pem", "client.pem", {"https": "http://proxy:3128"})
    connect, read = call["timeout"]
    assert connect == 3 and 9 < read <= 10  # the read timeout cut to the operation's 10 s
    limits = call["limits"]
    assert limits.total == budget.deadline
    assert call["at"] < limits.connect <= call["at"] + 5
    assert transport._request.get() is None  # the limits end with the request


def test_a_request_without_an_operation_has_the_policy_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    transport.imburse_adapter(RetryPolicy(max_elapsed=20, connect_budget=2)).send(_request(), timeout=30)
    (call,) = sent.calls
    assert call["timeout"][0] <= 20 and 19 < call["timeout"][1] <= 20
    assert call["at"] + 19 < call["limits"].total <= call["at"] + 20
    assert call["at"] + 1 < call["limits"].connect <= call["at"] + 2
    assert (call["stream"], call["verify"], call["cert"], call["proxies"]) == (False, True, None, None)


def test_a_connect_budget_longer_than_the_operation_ends_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    with operation_budget(1) as budget:
        transport.imburse_adapter(RetryPolicy(connect_budget=5)).send(_request())
    assert sent.calls[0]["limits"].connect == budget.deadline


def test_a_request_is_not_sent_once_its_operation_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = Sent(monkeypatch)
    adapter = transport.imburse_adapter()
    with operation_budget(1e-9), pytest.raises(transport.BudgetSpent) as raised:
        adapter.send(_request())
    assert sent.calls == []
    assert str(raised.value) == "the time budget of 1e-09 s was spent before the request was sent"
    assert raised.value.request is not None and raised.value.request.url == _request().url
