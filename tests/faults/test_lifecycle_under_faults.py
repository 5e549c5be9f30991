"""Create, update, refresh and destroy 64 TenantKeys through the real provider host under the issue's faults.

The emulator refuses 30% of requests with 503/429/502 (``Retry-After`` on 429/503), carries out 10% of
writes and then answers 504, and adds latency. The engine's parallelism (16 steps in flight) is kept.
Each phase has its own stack (its own tenants, keys and provider host) and its own seed: the apply runs
under faults from nothing; the update, the refresh and the destroy each start from a stack applied without
faults and run under faults. No test changes what another test reads, so each runs alone and in any order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.keys.rules import key_name

from .support import (
    CREATE_KEY_ROUTE,
    FAULTS,
    LIST_KEYS_ROUTE,
    Engine,
    Key,
    account_client,
    declare_keys,
    key_props,
    pmap,
)

N_KEYS = 64
N_TENANTS = 4
ROLES = ["tenant-app-read"]
NEW_ROLES = ["tenant-app-read", "tenant-app-write"]


@dataclass
class Stack:
    """The keys the engine holds in state, and the emulator they live in."""

    emu: EmulatorProcess
    api: ImburseClient
    engine: Engine
    tenants: list[str]
    keys: list[Key]
    stats: dict[str, int] = field(default_factory=dict)

    def live(self) -> dict[str, dict[str, object]]:
        """Every key the service holds in the stack's tenants, by public key (no faults while reading)."""
        out: dict[str, dict[str, object]] = {}
        for tenant in self.tenants:
            for k in self.api.list_keys(tenant):
                out[k.public_key] = {"tenant": tenant, "name": k.name, "roles": list(k.roles)}
        return out

    def faulty(self, seed: int, **overrides: object) -> _Faults:
        return _Faults(self.emu, seed, overrides)


class _Faults:
    """``with stack.faulty(seed):`` the issue's fault mix is on, stats counted from zero."""

    def __init__(self, emu: EmulatorProcess, seed: int, overrides: dict[str, object]) -> None:
        self.emu, self.config = emu, {**FAULTS, **overrides, "seed": seed}

    def __enter__(self) -> None:
        self.emu.reset_stats()
        self.emu.set_faults(**self.config)

    def __exit__(self, *exc: object) -> None:
        self.emu.clear_faults()


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


@contextmanager
def new_stack(emu: EmulatorProcess, tmp_path: Path, label: str) -> Iterator[Stack]:
    """64 declared keys in 4 new tenants and a fresh provider host (nothing applied yet); all removed at exit."""
    api = account_client(emu)
    tenants = [api.create_tenant(f"{label} {i}").tenant_id for i in range(N_TENANTS)]
    engine = Engine(emu, tmp_path)
    stack = Stack(emu, api, engine, tenants, declare_keys(tenants, N_KEYS, ROLES, prefix=label))
    engine.warm_up(stack.keys[0])
    try:
        yield stack
    finally:
        engine.close()
        for tenant in tenants:
            api.delete_tenant(tenant)
        api.close()


@contextmanager
def applied_stack(emu: EmulatorProcess, tmp_path: Path, label: str) -> Iterator[Stack]:
    """A stack whose 64 keys were applied without faults: the starting point of a later phase."""
    with new_stack(emu, tmp_path, label) as stack:
        emu.clear_faults()
        stack.engine.create_all(stack.keys)
        yield stack


@pytest.fixture(scope="module")
def applied(emu: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """64 keys in 4 tenants, applied under faults (``Retry-After: 1`` here, to show it is honoured)."""
    with new_stack(emu, tmp_path_factory.mktemp("apply"), "apply") as stack:
        with stack.faulty(seed=601, retryAfterSeconds=1):
            stack.engine.create_all(stack.keys)
            stack.stats = emu.stats()["requests"]
        yield stack


def test_apply_creates_exactly_one_working_key_per_declared_key(applied: Stack) -> None:
    keys = applied.keys
    assert all(k.id and k.out["privateKey"] for k in keys)
    assert len({k.id for k in keys}) == N_KEYS
    # Faults really happened: refused creates were sent again, unknown outcomes were reconciled.
    assert applied.stats[CREATE_KEY_ROUTE] > N_KEYS
    assert applied.stats.get(LIST_KEYS_ROUTE, 0) > 0

    live = applied.live()
    assert set(live) == {k.out["publicKey"] for k in keys}  # no orphan, nothing missing
    assert Counter(v["name"] for v in live.values()) == Counter(k.out["name"] for k in keys)  # no duplicate
    for k in keys:
        assert live[k.out["publicKey"]] == {"tenant": k.out["tenantId"], "name": k.out["name"], "roles": ROLES}

    def authenticates(k: Key) -> bool:
        with ImburseClient(applied.emu.base_url, k.out["publicKey"], k.out["privateKey"]) as as_key:
            return bool(as_key.access_token().token)

    assert all(pmap(authenticates, keys))


@pytest.fixture(scope="module")
def updated(emu: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every key gets a second role; every fourth is renamed. Under faults."""
    with applied_stack(emu, tmp_path_factory.mktemp("update"), "update") as stack:
        yield _update(stack)


def _update(stack: Stack) -> Stack:
    new_props = {}
    for i, k in enumerate(stack.keys):
        name = f"renamed-{i}" if i % 4 == 0 else None
        new_props[k.urn] = key_props(k.out["tenantId"], k.props["namePrefix"], NEW_ROLES,
                                     **({"name": name} if name else {}))
    with stack.faulty(seed=602):
        verdicts = pmap(lambda k: stack.engine.update(k, new_props[k.urn]), stack.keys)
        stack.stats = stack.emu.stats()["requests"]
    assert verdicts == ["some"] * N_KEYS
    return stack


def test_update_converges_in_place(updated: Stack) -> None:
    private_keys = {k.out["publicKey"]: k.out["privateKey"] for k in updated.keys}
    live = updated.live()
    assert set(live) == set(private_keys)  # updated in place: no key replaced, none lost
    for i, k in enumerate(updated.keys):
        expected_name = f"renamed-{i}" if i % 4 == 0 else key_name(k.inputs)
        assert live[k.out["publicKey"]]["roles"] == NEW_ROLES == k.out["roles"]
        assert live[k.out["publicKey"]]["name"] == expected_name == k.out["name"]
        assert k.out["privateKey"] == private_keys[k.out["publicKey"]]
    # Converged: the next up (still under faults) finds nothing to do and writes nothing.
    with updated.faulty(seed=603):
        verdicts = pmap(lambda k: updated.engine.update(k, k.props), updated.keys)
        writes = {r: n for r, n in updated.emu.stats()["requests"].items() if not r.startswith("GET ")}
    assert verdicts == ["none"] * N_KEYS
    assert writes == {}


@pytest.fixture(scope="module")
def refreshed(emu: EmulatorProcess,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, list[Key], list[Key]]]:
    """Out of band: 6 keys renamed, 4 revoked. Then a refresh (Read of every key) under faults."""
    with applied_stack(emu, tmp_path_factory.mktemp("refresh"), "refresh") as stack:
        yield _refresh(stack)


def _refresh(stack: Stack) -> tuple[Stack, list[Key], list[Key]]:
    drifted, revoked = stack.keys[1:7], stack.keys[7:11]
    for k in drifted:
        stack.api.update_key(k.out["tenantId"], k.out["publicKey"], NEW_ROLES, f"by-hand-{k.out['publicKey'][:8]}")
    for k in revoked:
        stack.api.delete_key(k.out["tenantId"], k.out["publicKey"])
    with stack.faulty(seed=604):
        exists = pmap(stack.engine.refresh, stack.keys)
    gone = [k for k, alive in zip(stack.keys, exists, strict=True) if not alive]
    assert gone == revoked
    return stack, drifted, revoked


def test_refresh_reports_drift_and_revocations(refreshed: tuple[Stack, list[Key], list[Key]]) -> None:
    stack, drifted, revoked = refreshed
    live = stack.live()
    for k in stack.keys:
        if k in revoked:
            assert k.out["publicKey"] not in live
            continue
        assert k.out["name"] == live[k.out["publicKey"]]["name"]
        assert k.out["privateKey"]  # the secret survives a refresh (it cannot be read back)
    assert all(k.out["name"].startswith("by-hand-") for k in drifted)


def test_destroy_leaves_nothing_behind(emu: EmulatorProcess, tmp_path: Path) -> None:
    with applied_stack(emu, tmp_path, "destroy") as stack:
        revoked = stack.keys[7:11]
        for k in revoked:  # revoked out of band: the engine still holds them in state
            stack.api.delete_key(k.out["tenantId"], k.out["publicKey"])
        remaining = [k for k in stack.keys if k not in revoked]
        with stack.faulty(seed=605):
            # The engine deletes what the state holds; two already-revoked keys are deleted again too.
            pmap(stack.engine.delete, remaining + revoked[:2])
            deletes = sum(n for r, n in stack.emu.stats()["requests"].items() if r.startswith("DELETE "))
        assert deletes > len(remaining)  # some deletes were refused or answered 504 and sent again
        assert stack.live() == {}
