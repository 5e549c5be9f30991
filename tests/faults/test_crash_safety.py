"""A ``kill -9`` of the plugin, the dynamic provider host or the CLI at a random moment of an ``up`` never loses track
of a key (issue 17, "Never lose track of a key"): after the README's recovery commands every live key of the tenant
is in the state, no name is carried twice, no operation is pending, and the state's keys are the service's; the
provider processes of a killed CLI exit on their own.

Each kill is one run of :func:`tests.faults.crash.run_once` (50 keys: named and auto-named, dynamic and plugin,
``TenantKey`` and ``RotatingTenantKey``; 300 ms latency). The moment is drawn from a seeded generator: the seed
is printed on failure, and ``IMBURSE_CRASH_SEED`` replays it. ``IMBURSE_CRASH_KILLS`` sets the kills per target
(default 1: the suite's time); ``make crash-run`` runs 20 across the three targets.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pulumi
import pytest

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import changes, quiet
from . import crash

SEED = int(os.environ.get("IMBURSE_CRASH_SEED", "1717"))
KILLS = int(os.environ.get("IMBURSE_CRASH_KILLS", "1"))


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    """An emulator that commits each request, then waits 300 ms before it answers."""
    with EmulatorProcess(latency_ms=crash.LATENCY_MS) as e:
        yield e


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_recovery_run_is_the_readmes() -> None:
    section = README.read_text(encoding="utf-8").split("## If an update is interrupted", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert [line.split() for line in block.splitlines() if line.strip()] == [
        ["pulumi", *args] for args in crash.RECOVERY]


@pytest.mark.parametrize("kill", range(KILLS))
@pytest.mark.parametrize("target", crash.TARGETS)
def test_a_kill_at_a_random_moment_then_the_documented_recovery_leaves_nothing_behind(
        emu: EmulatorProcess, api: ImburseClient, target: str, kill: int) -> None:
    seed = SEED + 1000 * crash.TARGETS.index(target) + kill
    outcome = crash.run_once(emu, api, target, random.Random(seed))
    said = f"seed {seed} (IMBURSE_CRASH_SEED={SEED}): {json.dumps(outcome.summary())}\n{outcome.log[-6000:]}"
    assert outcome.killed, f"the up ended before the kill: {said}"
    assert outcome.clean, said
    assert outcome.keys == outcome.in_state == 50, said


def test_a_dynamic_resource_computes_its_own_urn_and_a_state_without_it_shows_no_diff(
        emu: EmulatorProcess, existing_tenant: str) -> None:
    """The dynamic host passes no URN: the resource computes it (``__urn``), as the engine names it, parent included."""

    def program() -> None:
        parent = pulumi.ComponentResource("test:index:Group", "group")
        TenantKey("top", tenant_id=existing_tenant, roles=["tenant-app-read"])
        TenantKey("child", tenant_id=existing_tenant, roles=["tenant-app-read"],
                  opts=pulumi.ResourceOptions(parent=parent))

    with emulated_stack(program, project_name="crash-urn", emulator=emu) as s:
        s.stack.up(on_output=quiet)
        keys = [r for r in s.stack.export_stack().deployment["resources"] if r["type"] in crash.DYNAMIC_TYPES]
        assert len(keys) == 2
        assert all(r["inputs"]["__urn"] == r["urn"] for r in keys), keys
        assert all("__urn" not in r["outputs"] for r in keys)
        # A refresh records the inputs Read returns, without __urn (as a state written before it): no diff.
        s.stack.refresh(on_output=quiet)
        assert all("__urn" not in r["inputs"] for r in s.stack.export_stack().deployment["resources"]
                   if r["type"] in crash.DYNAMIC_TYPES)
        assert changes(s.stack.preview(on_output=quiet)) == {}
