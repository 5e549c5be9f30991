"""The client against the emulator's per-account rate limit, over real HTTP: what a rate-limited API does to many
calls at once, and what the account's shared limiter makes of it. Counts come from the emulator's stats."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pulumi_imburse import routes
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration

CREATE_KEY = routes.DEFAULT_ROUTES[routes.CREATE_KEY].template


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


@pytest.fixture
def client(emu: EmulatorProcess) -> Iterator[ImburseClient]:
    emu.set_rate_limit(None)
    emu.clear_faults()
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as c:
        yield c
    emu.set_rate_limit(None)
    emu.clear_faults()


def test_100_creates_from_64_threads_meet_the_rate_limit_with_few_refusals(emu: EmulatorProcess,
                                                                           client: ImburseClient) -> None:
    tenant_id = client.create_tenant("rate limited").tenant_id
    emu.set_rate_limit(20)  # 20 requests/s per account, a burst of 20; every bucket full
    emu.reset_stats()
    with ThreadPoolExecutor(64) as pool:
        keys = list(pool.map(lambda _: client.create_key(tenant_id, ["tenant-app-read"]), range(100)))
    stats = emu.stats()
    assert len({k.public_key for k in keys}) == 100
    assert stats["requests"][CREATE_KEY] <= 115  # at most 15 % more than the 100 creates
    assert 0 < stats["throttled"] <= 15 and client.limiter.stats.throttled == stats["throttled"]
    assert stats["retries"]["minGapMs"] >= 1000  # each refused create waited its Retry-After (1 s)
    assert len(client.list_keys(tenant_id)) == 100


def test_requests_in_flight_stay_within_the_configured_bound_whatever_the_threads(
        emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMBURSE_MAX_CONCURRENT_REQUESTS", "4")
    emu.set_rate_limit(None)
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as c:
        c.list_tenants()
        emu.set_faults(latencyMs=100)
        emu.reset_stats()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda _: c.list_tenants(), range(32)))
        emu.clear_faults()
    assert emu.stats()["inFlight"]["peak"] == 4  # 32 threads, 4 on the wire at once


def test_retry_after_0_is_never_retried_sooner_than_the_minimum_backoff(emu: EmulatorProcess,
                                                                       client: ImburseClient) -> None:
    tenant_id = client.create_tenant("retry-after 0").tenant_id
    emu.set_faults(errorRate=0.5, errorStatuses=[429], retryAfterSeconds=0, seed=5)
    emu.reset_stats()
    with ThreadPoolExecutor(16) as pool:
        keys = list(pool.map(lambda _: client.create_key(tenant_id, ["tenant-app-read"]), range(30)))
    retries = emu.stats()["retries"]
    emu.clear_faults()
    assert len(keys) == 30 and retries["count"] > 10
    assert retries["minGapMs"] >= 100  # the emulator's clock: from each refusal to that request's next attempt
    assert client.limiter.stats.min_retry_gap >= 0.1


def test_a_rate_limit_outlasting_the_budget_fails_with_the_services_answer(emu: EmulatorProcess) -> None:
    from dataclasses import replace

    from pulumi_imburse.errors import RateLimitedError
    from pulumi_imburse.transport import RetryPolicy

    emu.set_rate_limit(None)
    policy = replace(RetryPolicy(), max_elapsed=2.0)
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id,
                       retry=policy) as c:
        c.list_tenants()
        emu.set_faults(errorRate=1.0, errorStatuses=[429], retryAfterSeconds=1)
        try:
            with pytest.raises(RateLimitedError) as err:
                c.list_tenants()
        finally:
            emu.clear_faults()
    assert err.value.status == 429 and "HTTP 429" in str(err.value)
