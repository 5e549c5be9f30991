"""Fault injection: injected statuses before acting, commit-then-504, latency without serialising."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api, R, assert_error


def tenant_names(api: Api, token: str) -> list[str]:
    return [t["name"] for t in api.call(routes.LIST_TENANTS, token).json()]


@pytest.mark.parametrize(("status", "retry_after", "code"), [(429, 3, "TooManyRequests"),
                                                             (503, None, "ServiceUnavailable")])
def test_injected_status_with_retry_after_before_acting(api: Api, admin: str, emulator: EmulatorProcess,
                                                        status: int, retry_after: int | None, code: str) -> None:
    config: dict[str, Any] = {"errorRate": 1, "errorStatuses": [status]}
    if retry_after is not None:
        config["retryAfterSeconds"] = retry_after
    emulator.set_faults(**config)
    name = f"refused-{uuid.uuid4()}"
    resp = api.call(routes.CREATE_TENANT, admin, json={"name": name})
    assert_error(resp, status, code)
    assert resp.headers["Retry-After"] == str(retry_after or 1)  # default 1 s
    emulator.clear_faults()
    assert name not in tenant_names(api, admin)  # refused before acting


def test_other_injected_statuses_carry_no_retry_after(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    emulator.set_faults(errorRate=1, errorStatuses=[500])
    resp = api.call(routes.LIST_TENANTS, admin)
    assert_error(resp, 500, "InternalServerError")
    assert "Retry-After" not in resp.headers


def test_ambiguous_write_is_carried_out_then_answered_504(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    emulator.set_faults(ambiguousRate=1)
    name = f"ambiguous-{uuid.uuid4()}"
    assert_error(api.call(routes.CREATE_TENANT, admin, json={"name": name}), 504, "GatewayTimeout")
    assert api.call(routes.LIST_TENANTS, admin).status_code == 200  # reads are never ambiguous
    emulator.clear_faults()
    assert tenant_names(api, admin).count(name) == 1  # the write happened, once


def test_seed_makes_draws_reproducible(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    def run() -> list[int]:
        emulator.set_faults(errorRate=0.5, errorStatuses=[429, 503], retryAfterSeconds=0, seed=1234)
        return [api.call(routes.LIST_TENANTS, admin).status_code for _ in range(24)]

    first, second = run(), run()
    assert first == second
    assert {200, 429, 503} <= set(first)  # a mixture, in the same order both times


def test_faults_control_round_trip(emulator: EmulatorProcess) -> None:
    defaults = {"latencyMs": 0.0, "errorRate": 0.0, "errorStatuses": [503], "retryAfterSeconds": 1,
                "ambiguousRate": 0.0, "seed": None}
    assert emulator.clear_faults() == defaults
    cfg = emulator.set_faults(errorRate=0.25, errorStatuses=[502, 504], seed=9)
    assert cfg == {**defaults, "errorRate": 0.25, "errorStatuses": [502, 504], "seed": 9}
    assert emulator.faults() == cfg
    assert emulator.set_faults(latencyMs=5) == {**defaults, "latencyMs": 5.0}  # replaces, not merges
    assert emulator.clear_faults() == defaults


def test_latency_does_not_serialise_concurrent_requests(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    n, latency = 8, 0.2
    url = api.base_url + R[routes.LIST_TENANTS].path
    headers = {"Authorization": f"Bearer {admin}"}
    sessions = [requests.Session() for _ in range(n)]
    for s in sessions:  # open the connections first, so only the requests are timed
        assert s.get(url, headers=headers, timeout=10).status_code == 200
    emulator.set_faults(latencyMs=latency * 1000)
    barrier = threading.Barrier(n)
    durations: list[float] = []
    statuses: list[int] = []

    def one(s: requests.Session) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        statuses.append(s.get(url, headers=headers, timeout=10).status_code)
        durations.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=one, args=(s,)) for s in sessions]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    emulator.clear_faults()
    for s in sessions:
        s.close()
    assert statuses == [200] * n
    assert min(durations) >= latency  # the latency was applied to every request ...
    assert wall < 0.5 * n * latency, (wall, durations)  # ... and they overlapped (serial would be n x latency)
