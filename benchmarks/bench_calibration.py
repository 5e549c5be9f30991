"""Calibration for ``benchmarks/run.py``: a TenantKey look-alike whose ``create`` only sleeps one round trip.

It goes through exactly the same path as ``pulumi_imburse.TenantKey``: the real Pulumi CLI, an inline program
in the benchmark's process, the ``python -m pulumi.dynamic`` host (4 calls at a time), the provider pickled
**by reference** (this module is imported by name, and the host finds it on ``PYTHONPATH``), outputs of the
same shape with ``privateKey`` kept secret. Its ``create`` sleeps ``IMBURSE_BENCH_LATENCY_MS`` (the
emulator's latency, one round trip) and calls nothing, so a ``pulumi up`` of N of these is the best this
machine's engine and host allow; ``run.py`` reports how close ours comes to it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import time
import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

LATENCY_ENV = "IMBURSE_BENCH_LATENCY_MS"
"""Milliseconds each create sleeps; set in the environment of the Pulumi CLI (the host inherits it)."""


class SleepTenantKeyProvider(ResourceProvider):
    """``create`` sleeps one emulated round trip and returns TenantKey-shaped outputs; nothing else is called."""

    serialize_as_secret_always = False  # as ours: a plain reference to this class, not a secret

    def __reduce__(self) -> tuple[type[SleepTenantKeyProvider], tuple[()]]:
        return (type(self), ())  # as ours: "module.ClassName" only

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(os.environ.get(LATENCY_ENV, "0")) / 1000)
        public_key = str(uuid.uuid4())
        return CreateResult(f"{props['tenantId']}/{public_key}", {
            **props,
            "publicKey": public_key,
            "privateKey": base64.b64encode(secrets.token_bytes(32)).decode(),
            "accountId": str(uuid.uuid4()),
            "createdAt": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        })


class SleepTenantKey(Resource, module="calibration", name="TenantKey"):
    """A tenant key through :class:`SleepTenantKeyProvider` (same inputs and outputs as ``TenantKey``)."""

    def __init__(self, resource_name: str, tenant_id: str, roles: list[str]) -> None:
        props = {"tenantId": tenant_id, "roles": roles, "namePrefix": resource_name,
                 "name": f"{resource_name}-{secrets.token_hex(4)}",
                 "publicKey": None, "privateKey": None, "accountId": None, "createdAt": None}
        super().__init__(SleepTenantKeyProvider(), resource_name, props,
                         pulumi.ResourceOptions(additional_secret_outputs=["privateKey"]))
