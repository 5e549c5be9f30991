"""Failing fast and honestly, against the real emulator: a time budget per operation, the URL in every
transport error, one failed token exchange shared by its waiters, 500s retried where that is safe, and a
failed exchange never taken for a write with an unknown outcome.

Durations are bounded generously from the configured budget (budget + 2 s), never measured tightly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from pulumi_imburse import errors, routes
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import (
    ImburseAPIError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from pulumi_imburse.models import Address
from pulumi_imburse.transport import RetryPolicy

pytestmark = pytest.mark.integration

QUICK = RetryPolicy(backoff_factor=0.01, backoff_jitter=0.0, backoff_max=0.05)
FAST = replace(QUICK, attempts=6, max_elapsed=10)
SLACK = 2.0
"""Seconds allowed past a budget: scheduling on a loaded 2-core machine, process start-up of a request."""

TOKEN = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN].template
TOKEN_PATH = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN].path
CREATE_KEY = routes.DEFAULT_ROUTES[routes.CREATE_KEY].template
LIST_KEYS = routes.DEFAULT_ROUTES[routes.LIST_KEYS].template
UPDATE_KEY = routes.DEFAULT_ROUTES[routes.UPDATE_KEY].template
DELETE_KEY = routes.DEFAULT_ROUTES[routes.DELETE_KEY].template
LIST_TENANTS = routes.DEFAULT_ROUTES[routes.LIST_TENANTS].template


def make_client(emu: EmulatorProcess, **kw: Any) -> ImburseClient:
    kw.setdefault("retry", FAST)
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id, **kw)


def count(emu: EmulatorProcess, template: str) -> int:
    return int(emu.stats()["requests"].get(template, 0))


@pytest.fixture
def emu(emulator: EmulatorProcess) -> Iterator[EmulatorProcess]:
    """The session emulator, without faults before and after the test."""
    emulator.clear_faults()
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def tenant_id(emu: EmulatorProcess) -> str:
    with make_client(emu) as c:
        return c.create_tenant("Failing fast Ltd", Address(country="GB")).tenant_id


def assert_no_secret(err: BaseException, emu: EmulatorProcess | None = None) -> None:
    text = f"{err} {err!r} {err.args}"
    assert "Hmac " not in text and "Bearer " not in text
    if emu is not None:
        assert emu.private_key not in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- item 2: a failed exchange sent nothing


def test_a_failed_token_exchange_is_not_an_unknown_outcome_and_sends_nothing(emu: EmulatorProcess,
                                                                             tenant_id: str) -> None:
    # Every write is committed and then answered 504, the token exchange included: no token is ever
    # obtained, so no create can have been sent. A caller that reconciles unknown outcomes (listing and
    # revoking same-named keys) must not be told "maybe created".
    tokens, creates = count(emu, TOKEN), count(emu, CREATE_KEY)
    emu.set_faults(ambiguousRate=1.0)
    with make_client(emu) as fresh, pytest.raises(ImburseAPIError) as err:
        fresh.create_key(tenant_id, ["tenant-app-read"], "ci")
    emu.clear_faults()
    assert not isinstance(err.value, OutcomeUnknownError), f"{type(err.value).__name__}: {err.value}"
    assert isinstance(err.value, errors.TokenExchangeError) and isinstance(err.value, TransportError)
    assert count(emu, CREATE_KEY) == creates
    # Each attempt was signed afresh (a reused nonce would be refused with 401, not 504).
    assert count(emu, TOKEN) - tokens == FAST.attempts and err.value.status == 504
    assert f"{emu.base_url}{TOKEN_PATH}" in str(err.value) and "was not sent" in str(err.value)
    assert_no_secret(err.value, emu)


def test_a_token_exchange_answered_500_is_repeated_and_then_fails_as_an_exchange(emu: EmulatorProcess,
                                                                                 tenant_id: str) -> None:
    tokens, creates = count(emu, TOKEN), count(emu, CREATE_KEY)
    emu.set_faults(errorRate=1.0, errorStatuses=[500])
    with make_client(emu) as fresh, pytest.raises(ImburseAPIError) as err:
        fresh.create_key(tenant_id, ["tenant-app-read"])
    emu.clear_faults()
    assert isinstance(err.value, errors.TokenExchangeError) and err.value.status == 500
    assert count(emu, TOKEN) - tokens == FAST.attempts
    assert count(emu, CREATE_KEY) == creates


def test_a_request_its_budget_cannot_cover_is_not_sent(emu: EmulatorProcess, tenant_id: str) -> None:
    with make_client(emu) as c:
        c.list_keys(tenant_id)  # a token in hand
        creates = count(emu, CREATE_KEY)
        with c.operation(0.01), pytest.raises(ImburseAPIError) as err:
            time.sleep(0.05)  # the operation's budget is spent before the create
            c.create_key(tenant_id, ["tenant-app-read"])
    assert type(err.value) is TransportError and "was not called" in str(err.value)
    assert count(emu, CREATE_KEY) == creates


# ---------------------------------------------------------------- item 4: 500 is retried where it is safe


def test_http_500_is_retried_for_get_put_and_delete_within_the_attempts(emu: EmulatorProcess,
                                                                       tenant_id: str) -> None:
    with make_client(emu) as c:
        key = c.create_key(tenant_id, ["tenant-app-read"], "five-hundred")
        calls: dict[str, Callable[[], object]] = {
            LIST_KEYS: lambda: c.list_keys(tenant_id),
            UPDATE_KEY: lambda: c.update_key(tenant_id, key.public_key, ["tenant-app-write"], "renamed"),
            DELETE_KEY: lambda: c.delete_key(tenant_id, key.public_key),
        }
        emu.set_faults(errorRate=1.0, errorStatuses=[500])
        for template, call in calls.items():
            before = count(emu, template)
            with pytest.raises(ServerError) as err:
                call()
            assert err.value.status == 500
            assert count(emu, template) - before == FAST.attempts, template


def test_a_create_answered_500_is_not_repeated(emu: EmulatorProcess, tenant_id: str) -> None:
    with make_client(emu) as c:
        c.list_keys(tenant_id)
        before = count(emu, CREATE_KEY)
        emu.set_faults(errorRate=1.0, errorStatuses=[500])
        with pytest.raises(ServerError):
            c.create_key(tenant_id, ["tenant-app-read"])
    assert count(emu, CREATE_KEY) - before == 1


def test_reads_updates_and_deletes_converge_through_500s(emu: EmulatorProcess, tenant_id: str) -> None:
    with make_client(emu) as c:
        keys = [c.create_key(tenant_id, ["tenant-app-read"], f"k{i}") for i in range(6)]
        emu.set_faults(errorRate=0.4, errorStatuses=[500], seed=11)
        for _ in range(5):
            assert {k.public_key for k in c.list_keys(tenant_id)} == {k.public_key for k in keys}
        for k in keys[:3]:
            assert c.update_key(tenant_id, k.public_key, ["tenant-app-write"], "updated").name == "updated"
        for k in keys[3:]:
            c.delete_key(tenant_id, k.public_key)
        emu.clear_faults()
        assert sorted(k.name for k in c.list_keys(tenant_id)) == ["updated"] * 3


# ---------------------------------------------------------------- item 5: fail within a budget, name the URL


def test_connection_refused_fails_within_the_connect_budget_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    policy = RetryPolicy(connect_budget=1.0)  # everything else at its default (10 attempts, 60 s budget)
    with ImburseClient(url, "pub", "c2VjcmV0c2VjcmV0c2VjcmV0", retry=policy) as c:
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            c.list_tenants()
        took = time.monotonic() - started
    assert took < policy.connect_budget + SLACK, f"{took:.1f} s"
    assert url in str(err.value) and "refused" in str(err.value).lower()
    assert "c2VjcmV0c2VjcmV0c2VjcmV0" not in str(err.value)


def test_an_unresolvable_host_fails_within_the_connect_budget_naming_the_url() -> None:
    url = "http://imburse-emulator.invalid"  # RFC 2606: never resolves
    policy = RetryPolicy(connect_budget=1.0)
    with ImburseClient(url, "pub", "c2VjcmV0c2VjcmV0c2VjcmV0", retry=policy) as c:
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            c.list_tenants()
        took = time.monotonic() - started
    # One lookup may take as long as the system resolver likes; none starts after the budget.
    assert took < policy.connect_budget + 10, f"{took:.1f} s"
    assert url in str(err.value)


def test_credentials_in_the_url_are_not_shown() -> None:
    port = free_port()
    with ImburseClient(f"http://user:hunter22@127.0.0.1:{port}", "pub", "c2VjcmV0c2VjcmV0",
                       retry=RetryPolicy(connect_budget=0.2)) as c:
        with pytest.raises(TransportError) as err:
            c.list_tenants()
    assert f"http://127.0.0.1:{port}" in str(err.value) and "hunter22" not in f"{err.value} {c!r}"


SLOW = replace(QUICK, max_elapsed=2.0)
READ_TIMEOUT = 1.0


def test_a_service_slower_than_the_read_timeout_fails_within_the_budget(emu: EmulatorProcess,
                                                                        tenant_id: str) -> None:
    creates = count(emu, CREATE_KEY)
    emu.set_faults(latencyMs=3000)
    with make_client(emu, retry=SLOW, timeout=(5, READ_TIMEOUT)) as fresh:
        started = time.monotonic()
        with pytest.raises(ImburseAPIError) as err:
            fresh.create_key(tenant_id, ["tenant-app-read"], "slow")
        took = time.monotonic() - started
    emu.clear_faults()
    assert took < SLOW.max_elapsed + SLACK, f"{took:.1f} s"
    assert isinstance(err.value, errors.TokenExchangeError), f"{type(err.value).__name__}: {err.value}"
    assert emu.base_url in str(err.value)
    assert count(emu, CREATE_KEY) == creates
    assert_no_secret(err.value, emu)


def test_a_write_without_an_answer_in_time_is_an_unknown_outcome_a_read_is_not(emu: EmulatorProcess,
                                                                              tenant_id: str) -> None:
    with make_client(emu, retry=SLOW, timeout=(5, READ_TIMEOUT)) as c:
        c.list_keys(tenant_id)  # a token in hand
        creates, lists = count(emu, CREATE_KEY), count(emu, LIST_KEYS)
        emu.set_faults(latencyMs=3000)
        with pytest.raises(OutcomeUnknownError) as unknown:
            c.create_key(tenant_id, ["tenant-app-read"], "late")
        started = time.monotonic()
        with pytest.raises(TransportError) as late_read:
            c.list_keys(tenant_id)
        took = time.monotonic() - started
        emu.clear_faults()
    assert unknown.value.method == "POST" and emu.base_url in str(unknown.value)
    assert count(emu, CREATE_KEY) - creates == 1  # sent once: it may have been carried out
    assert emu.base_url in str(late_read.value)
    assert count(emu, LIST_KEYS) - lists >= 2  # a read is safe to repeat within the budget
    assert took < SLOW.max_elapsed + SLACK, f"{took:.1f} s"


def test_concurrent_callers_share_one_failed_exchange(emu: EmulatorProcess, tenant_id: str) -> None:
    tokens = count(emu, TOKEN)
    emu.set_faults(latencyMs=3000)
    failures: list[BaseException] = []
    with make_client(emu, retry=SLOW, timeout=(5, READ_TIMEOUT)) as fresh:
        barrier = threading.Barrier(4)

        def create(i: int) -> None:
            barrier.wait()
            try:
                fresh.create_key(tenant_id, ["tenant-app-read"], f"queued-{i}")
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - started
    emu.clear_faults()
    assert len(failures) == 4 and all(isinstance(f, errors.TokenExchangeError) for f in failures)
    assert len({str(f) for f in failures}) == 1  # one exchange's failure, handed to every waiter
    # One exchange's attempts (about 2 in a 2 s budget with a 1 s read timeout), not 4 exchanges' worth.
    assert count(emu, TOKEN) - tokens <= 3
    assert took < SLOW.max_elapsed + SLACK, f"{took:.1f} s"


def test_a_retry_after_past_the_budget_fails_at_once_with_retry_after(emu: EmulatorProcess) -> None:
    policy = replace(QUICK, max_elapsed=3.0)
    with make_client(emu, retry=policy) as c:
        c.list_tenants()  # a token in hand
        before = count(emu, LIST_TENANTS)
        emu.set_faults(errorRate=1.0, errorStatuses=[429], retryAfterSeconds=30)
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as err:
            c.list_tenants()
        took = time.monotonic() - started
    assert err.value.retry_after == 30
    assert count(emu, LIST_TENANTS) - before == 1  # the service asked for 30 s; the budget had 3 s
    assert took < policy.max_elapsed + SLACK
