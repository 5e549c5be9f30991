"""Fault injection: injected statuses before acting, commit-then-504, latency without serialising, and
latency that delays the answer, not the commit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api, R, answered, assert_error, send_raw, wait_until


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
    """While 8 requests sit in a long injected latency, all 8 are being served at once and another request is
    answered at once (not queued behind them); a client that hangs up ends its request's wait."""
    n = 8
    emulator.reset_stats()
    emulator.set_faults(latencyMs=60_000)
    held = [send_raw(api, "GET", R[routes.LIST_TENANTS].path, {"Authorization": f"Bearer {admin}"})
            for _ in range(n)]
    try:
        wait_until(lambda: emulator.stats()["inFlight"]["now"] == n, f"{n} requests in flight at once")
        emulator.set_faults(latencyMs=0)
        assert api.call(routes.LIST_TENANTS, admin).status_code == 200  # not queued behind the 8
        assert not any(answered(s) for s in held)  # ... which are still in their 60 s latency
        assert emulator.stats()["inFlight"]["peak"] == n + 1
    finally:
        for s in held:
            s.close()
    wait_until(lambda: emulator.stats()["inFlight"]["now"] == 0, "requests whose client hung up finished")


def test_a_create_whose_answer_times_out_is_committed(api: Api, admin: str, tenant: dict[str, Any],
                                                      emulator: EmulatorProcess) -> None:
    """A client whose read timeout is shorter than the latency gives up; the key it asked for exists anyway
    (the emulator acts on a request it has received, then delays the answer, as a real service does)."""
    tid, name = tenant["tenantId"], f"timed-out-{uuid.uuid4()}"
    emulator.set_faults(latencyMs=30_000)
    with pytest.raises(requests.ReadTimeout):
        requests.post(api.base_url + R[routes.CREATE_KEY].format(tenantId=tid), timeout=(10, 0.5),
                      json={"roles": ["tenant-app-read"], "name": name}, headers={"Authorization": f"Bearer {admin}"})
    emulator.set_faults(latencyMs=0)

    def names() -> list[str]:
        return [k["name"] for k in api.call(routes.LIST_KEYS, admin, tenantId=tid).json()]

    # Well within the 30 s latency: the key was committed before the wait, not after it.
    wait_until(lambda: name in names(), "the timed-out create's key exists", timeout=10)
    assert names().count(name) == 1
