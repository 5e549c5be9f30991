"""Helpers for the fault-tolerance tests: the issue's fault mix, and the engine's steps against a host.

:class:`Engine` drives a real provider host (``python -m pulumi.dynamic``, via
:class:`tests.support.host.ProviderHost`) the way the Pulumi engine drives it: up to 16 steps in
flight, each resource Check then Create (or Check, Diff, Update), Read on refresh, Delete on destroy, with
the properties the SDK itself sends for a real ``TenantKey`` declaration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from ..provider.harness import sdk_inputs, stack_config, start_host, urn

PARALLEL: Final = 16
"""The engine's default ``--parallel``."""

TOKEN_ROUTE: Final = "POST /identity/v1/hmac/management"
CREATE_KEY_ROUTE: Final = "POST /v1/tenant/{tenantId}/keys"
LIST_KEYS_ROUTE: Final = "GET /v1/tenant/{tenantId}/keys"

FAULTS: Final[dict[str, Any]] = {
    "errorRate": 0.3,
    "errorStatuses": [503, 429, 502],
    "retryAfterSeconds": 0,
    "ambiguousRate": 0.1,
    "latencyMs": 5,
}
"""The issue's mix: 30% refused with 503/429/502 (429/503 with ``Retry-After``), 10% of writes carried out
then answered 504, and some latency. ``retryAfterSeconds`` is 0 here so tests stay fast; one test uses 1."""

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Key:
    """One TenantKey resource as the engine keeps it: URN, id, checked inputs and outputs."""

    urn: str
    props: dict[str, Any]
    inputs: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] | None = None

    @property
    def out(self) -> dict[str, Any]:
        assert self.outputs is not None, f"{self.urn} has not been created"
        return self.outputs


def key_props(tenant_id: str, resource_name: str, roles: Sequence[str], **kw: Any) -> dict[str, Any]:
    """Wire inputs of ``TenantKey(resource_name, tenant_id=..., roles=..., **kw)`` exactly as the SDK sends them."""
    return sdk_inputs(lambda: TenantKey(resource_name, tenant_id=tenant_id, roles=list(roles), **kw))


def declare_keys(tenants: Sequence[str], count: int, roles: Sequence[str], prefix: str = "key") -> list[Key]:
    """``count`` auto-named keys spread over ``tenants``: one SDK declaration per tenant, renamed per key.

    Only ``namePrefix`` (the resource name) and the URN differ between keys of one tenant, as in a real program.
    """
    templates = {t: key_props(t, prefix, roles) for t in tenants}
    keys = []
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        name = f"{prefix}-{i}"
        # The SDK names each resource's URN (its internal __urn input) after its resource name too.
        keys.append(Key(urn("TenantKey", name), {**templates[tenant], "namePrefix": name,
                                                  "__urn": urn("TenantKey", name)}, {}))
    return keys


def pmap(fn: Callable[[T], R], items: Iterable[T], parallel: int = PARALLEL) -> list[R]:
    """``fn`` over ``items`` with ``parallel`` calls in flight, results in order; the first error is raised."""
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(fn, items))


class Engine:
    """A provider host and the engine's steps, ``PARALLEL`` at a time."""

    def __init__(self, emu: EmulatorProcess, tmp_path: Path, config: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.host = start_host(tmp_path, dict(config if config is not None else stack_config(emu)),
                               env=dict(env) if env is not None else None)

    def close(self) -> None:
        self.host.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def warm_up(self, key: Key) -> None:
        """One Check (Configure and unpickle the provider, no API call), so faults start with the steps."""
        _, failures = self.host.check(key.urn, {}, key.props)
        assert failures == []

    def create(self, key: Key) -> Key:
        """Check then Create, as the engine steps a new resource."""
        checked, failures = self.host.check(key.urn, {}, key.props)
        assert failures == [], failures
        key.inputs = checked
        key.id, key.outputs = self.host.create(key.urn, checked)
        return key

    def update(self, key: Key, props: dict[str, Any]) -> str:
        """Check, Diff and (when the diff says so) Update; returns the diff's verdict."""
        checked, failures = self.host.check(key.urn, key.inputs, props)
        assert failures == [], failures
        diff = self.host.diff(key.urn, key.id, key.out, checked, key.inputs, [])
        assert diff.replaces == [], diff
        if diff.changes == "some":
            key.outputs = self.host.update(key.urn, key.id, key.out, checked, key.inputs, [])
        key.props, key.inputs = props, checked
        return diff.changes

    def refresh(self, key: Key) -> bool:
        """Read the live key; returns whether it still exists (the engine drops it otherwise)."""
        read = self.host.read(key.urn, key.id, key.out, key.inputs)
        if not read.id:
            return False
        key.outputs = read.outputs
        return True

    def delete(self, key: Key) -> None:
        self.host.delete(key.urn, key.id, key.out, key.inputs)

    def create_all(self, keys: Sequence[Key]) -> list[Key]:
        return pmap(self.create, keys)


def account_client(emu: EmulatorProcess) -> ImburseClient:
    """A client of the emulator's bootstrap account key, for arranging and checking state out of band."""
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id)


def count(emu: EmulatorProcess, route: str) -> int:
    """Requests the emulator received on ``route`` (``"METHOD /template"``) since its stats were reset."""
    return emu.stats()["requests"].get(route, 0)


def nonces(emu: EmulatorProcess) -> set[str]:
    """Every HMAC nonce the emulator has accepted (read from its database, read-only)."""
    db = sqlite3.connect(f"file:{emu.db}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT nonce FROM nonces")}
    finally:
        db.close()
