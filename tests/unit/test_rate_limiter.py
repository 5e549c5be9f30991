"""The account's request limiter (:class:`pulumi_imburse.transport.RateLimiter`) on a fake clock: the pure decisions
(who may send when), and the emulator's per-account token bucket. No sleeping, no network."""

from __future__ import annotations

import math

import pytest

from pulumi_imburse import transport
from pulumi_imburse.config import max_concurrent_requests
from pulumi_imburse.emulator.models import AccountRateLimiter, BadRequest, RateLimit
from pulumi_imburse.errors import ConfigurationError
from pulumi_imburse.transport import CubicRate, RateLimiter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def limiter(max_in_flight: int = 4) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(max_in_flight, clock=clock), clock


def test_no_more_than_max_in_flight_attempts_until_one_ends() -> None:
    lim, _ = limiter(3)
    assert [lim.try_acquire() for _ in range(3)] == [0.0] * 3
    assert lim.try_acquire() == math.inf  # a fourth waits, whatever the engine's --parallel
    lim.release()
    assert lim.try_acquire() == 0.0 and lim.stats.peak_in_flight == 3


def test_a_retry_after_pauses_every_caller_not_only_the_one_refused() -> None:
    lim, clock = limiter()
    assert lim.try_acquire() == 0.0
    lim.release()
    lim.on_answer(429, 2.0, sent_at=clock.t)
    assert lim.try_acquire() == pytest.approx(2.0)  # a call that was never refused waits too
    clock.t += 1.5
    assert lim.try_acquire() == pytest.approx(0.5)
    clock.t += 0.5
    assert lim.try_acquire() == 0.0


@pytest.mark.parametrize("retry_after", [0.0, None])
def test_a_429_pauses_the_account_at_least_the_minimum_backoff(retry_after: float | None) -> None:
    lim, clock = limiter()
    lim.on_answer(429, retry_after, sent_at=clock.t)
    assert lim.try_acquire() == pytest.approx(transport.MIN_BACKOFF)
    assert transport.RetryPolicy().min_backoff == transport.MIN_BACKOFF == 0.1


def test_a_503_without_retry_after_paces_but_does_not_pause() -> None:
    lim, clock = limiter()
    for _ in range(30):  # 30 sends in the last second
        assert lim.try_acquire() == 0.0
        lim.release()
    lim.on_answer(503, None, sent_at=clock.t)
    assert lim.stats.pauses == 0 and lim.rate == pytest.approx(30 * CubicRate.BETA)
    assert lim.rate is not None and lim.try_acquire() == pytest.approx(1 / lim.rate)  # one every 1/rate s
    clock.t += 1 / lim.rate
    assert lim.try_acquire() == 0.0
    lim.release()
    assert lim.try_acquire() == pytest.approx(1 / lim.rate)


def test_answers_to_attempts_sent_before_a_cut_do_not_cut_again() -> None:
    lim, clock = limiter()
    for _ in range(20):
        lim.try_acquire()
        lim.release()
    sent = clock.t
    clock.t += 0.01
    lim.on_answer(503, None, sent_at=sent)
    first = lim.rate
    for _ in range(5):  # the rest of the same burst, already on the wire
        lim.on_answer(503, None, sent_at=sent)
    assert lim.rate == first and lim.stats.cuts == 1 and lim.stats.throttled == 6
    clock.t += 0.5
    lim.on_answer(503, None, sent_at=clock.t)  # a new event
    assert lim.stats.cuts == 2 and lim.rate is not None and first is not None and lim.rate < first


def test_the_pace_regrows_along_the_cubic_curve_after_a_cut() -> None:
    lim, clock = limiter(64)
    for _ in range(40):
        lim.try_acquire()
        lim.release()
    lim.on_answer(503, None, sent_at=clock.t)
    cut = lim.rate
    assert cut == pytest.approx(28.0)
    k = (40 * (1 - CubicRate.BETA) / CubicRate.SCALE) ** (1 / 3)
    clock.t += k  # back at the rate of the cut after k seconds ...
    for _ in range(40):
        lim.try_acquire()
        lim.release()
    lim.on_answer(200, None, sent_at=clock.t)
    assert lim.rate == pytest.approx(40.0)


def test_a_retry_after_sets_the_pace_to_what_the_service_took_not_a_guess() -> None:
    lim, clock = limiter(64)
    for _ in range(25):  # 25 answers in one second ...
        lim.try_acquire()
        lim.release()
        lim.on_answer(200, None, sent_at=clock.t)
    clock.t += 1.0
    for _ in range(50):  # ... then the service refuses half at random
        lim.on_answer(429, 0.0, sent_at=clock.t)
        lim.on_answer(200, None, sent_at=clock.t)
        clock.t += 0.05
    assert lim.rate == pytest.approx(25.0) and lim.stats.cuts == 0  # never starved below what it took


def test_the_limit_on_requests_in_flight_is_read_from_the_environment_and_checked() -> None:
    assert max_concurrent_requests({}) == 16
    assert max_concurrent_requests({"IMBURSE_MAX_CONCURRENT_REQUESTS": " 4 "}) == 4
    for bad in ("0", "-1", "lots", "1025"):
        with pytest.raises(ConfigurationError) as err:
            max_concurrent_requests({"IMBURSE_MAX_CONCURRENT_REQUESTS": bad})
        assert "IMBURSE_MAX_CONCURRENT_REQUESTS" in str(err.value) and "from 1 to 1024" in str(err.value)


def test_clients_of_one_account_share_one_limiter() -> None:
    from pulumi_imburse.client import ImburseClient

    with ImburseClient("http://127.0.0.1:9", "pub", "c2VjcmV0", account_id="acc") as a, \
            ImburseClient("http://127.0.0.1:9/", "other-key", "c2VjcmV0", account_id="acc") as b, \
            ImburseClient("http://127.0.0.1:9", "pub", "c2VjcmV0", account_id="another") as c:
        assert a.limiter is b.limiter and a.limiter is not c.limiter


# ------------------------------------------------------------------------------ the emulator's bucket


def test_the_emulator_refuses_an_account_past_its_burst_and_says_when_a_token_is_back() -> None:
    clock = Clock()
    limits = AccountRateLimiter(RateLimit.of(20, 5), clock=clock)
    assert [limits.take("a") for _ in range(5)] == [None] * 5
    assert limits.take("a") == pytest.approx(0.05)  # refused: the next token in 1/20 s
    assert limits.take("b") is None  # another account has its own bucket
    clock.t += 0.05
    assert limits.take("a") is None and limits.take("a") is not None
    assert limits.throttled == {"a": 2} and limits.take(None) is None  # no account told: not limited here


def test_the_emulator_rate_limit_settings_are_checked_naming_the_field() -> None:
    assert RateLimit.from_json({"requestsPerSecond": 2.5}) == RateLimit(2.5, 3)  # a second's worth, rounded up
    assert RateLimit.from_json({"requestsPerSecond": None}) is None and RateLimit.from_json({}) is None
    for body, field in (({"requestsPerSecond": 0}, "requestsPerSecond"), ({"requestsPerSecond": "fast"},
                        "requestsPerSecond"), ({"requestsPerSecond": 5, "burst": 0}, "burst"),
                        ({"rps": 5}, "rps")):
        with pytest.raises(BadRequest) as err:
            RateLimit.from_json(body)
        assert err.value.field == field
