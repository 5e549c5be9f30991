"""The plugin under a rate limit, through the real Pulumi CLI: 100 keys at ``--parallel 64`` against an emulator that
limits the account to 20 requests/s, and refusals with ``Retry-After: 0``. Counts come from the emulator's stats
(what the service saw); timing figures are in benchmarks/README.md ("Under a rate limit"), not asserted here."""

from __future__ import annotations

from collections.abc import Iterator

import pulumi
import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN
from pulumi_imburse.testing import emulated_stack

from ..engine import changes, quiet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


def up_keys(emu: EmulatorProcess, n: int, project: str) -> tuple[dict[str, int], dict[str, object], int]:
    """``pulumi up --parallel 64`` of ``n`` native keys in a new tenant: the changes, the emulator's stats for the
    ``up``, and the keys the tenant holds afterwards."""
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as api:
        tenant_id = api.create_tenant(project).tenant_id

        def program() -> None:
            for i in range(n):
                pulumi.CustomResource(TENANT_KEY_TOKEN, f"key-{i}", {"tenantId": tenant_id,
                                                                     "roles": ["tenant-app-read"]})

        with emulated_stack(program, project_name=project, emulator=emu, destroy_on_exit=False) as s:
            emu.reset_stats()
            result = s.stack.up(parallel=64, on_output=quiet)
            stats = emu.stats()
        return changes(result), stats, len(api.list_keys(tenant_id))


def test_100_keys_at_parallel_64_against_20_requests_per_second(emu: EmulatorProcess) -> None:
    emu.set_rate_limit(20)  # a burst of 20; every bucket full
    try:
        done, stats, live = up_keys(emu, 100, "rate-limited")
    finally:
        emu.set_rate_limit(None)
    assert done == {"create": 101} and live == 100  # the stack and every key; none failed, none twice
    requests = sum(stats["requests"].values())  # type: ignore[union-attr]
    assert requests <= 1.15 * 102  # ideal: 100 creates, 1 token exchange, 1 list of the tenant
    assert stats["throttled"] == requests - 102  # every request past the ideal was a refusal by the limit


def test_retry_after_0_is_never_retried_sooner_than_the_minimum_backoff(emu: EmulatorProcess) -> None:
    emu.set_faults(errorRate=0.5, errorStatuses=[429], retryAfterSeconds=0, seed=11)
    try:
        done, stats, live = up_keys(emu, 30, "retry-after-zero")
    finally:
        emu.clear_faults()
    assert done == {"create": 31} and live == 30
    retries = stats["retries"]
    assert retries["count"] >= 10  # type: ignore[index]
    assert retries["minGapMs"] >= 100  # type: ignore[index]  # the emulator's clock, refusal to next attempt
