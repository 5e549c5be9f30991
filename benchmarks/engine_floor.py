"""The engine floor for ``benchmarks/run.py``: a native provider plugin whose TenantKey makes no API call.

``pulumi-resource-imbursebench`` serves ``imbursebench:index:TenantKey`` through the plugin's own server
(:func:`pulumi_imburse.plugin.server.serve`: the same gRPC adapter, thread pool and concurrency as
``pulumi-resource-imburse``) and the core's Check (the same checked inputs, generated names included). Only its
``create`` differs: it waits one round trip (``IMBURSE_BENCH_LATENCY_MS``, the emulator's latency) and calls
nothing. So a ``pulumi up`` of N of these through the same engine, at the same ``--parallel``, is the best the
engine allows a native provider on this machine: the **engine floor** the plugin's wall is compared with.

Used only by the benchmark: ``run.py`` writes a launcher named ``pulumi-resource-imbursebench`` that runs this
file with the benchmark's Python, and puts its directory on the CLI's ``PATH`` (the engine finds a provider
plugin for package ``imbursebench`` there).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Final

from pulumi.dynamic import CreateResult

from pulumi_imburse import tenant_key
from pulumi_imburse.models import ApiKey
from pulumi_imburse.plugin import server

PACKAGE: Final = "imbursebench"
TOKEN: Final = f"{PACKAGE}:index:TenantKey"
LATENCY_ENV: Final = "IMBURSE_BENCH_LATENCY_MS"
"""Milliseconds each create waits; set in the environment of the Pulumi CLI (the plugin inherits it)."""
VERSION: Final = "0.0.1"


class WaitingTenantKeyProvider(tenant_key.TenantKeyProvider):
    """The core's TenantKey rules, except ``create``: it waits one round trip and calls nothing."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(os.environ.get(LATENCY_ENV, "0")) / 1000)
        key = ApiKey(account_id=str(uuid.uuid4()), tenant_id=str(props["tenantId"]), name=str(props["name"]),
                     public_key=str(uuid.uuid4()), roles=tuple(props["roles"]),
                     private_key=secrets.token_urlsafe(32),
                     created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"))
        outs = tenant_key.key_outputs(props, key, key.private_key or "")
        return CreateResult(f"{key.tenant_id}/{key.public_key}", outs)


RESOURCES: Final = {TOKEN: server.ResourceType(WaitingTenantKeyProvider, tenant_key.INPUTS,
                                               tenant_key.SECRET_OUTPUTS)}


def launcher(directory: Path) -> Path:
    """Write ``pulumi-resource-imbursebench`` (this file, run by this Python) into ``directory``."""
    path = directory / f"pulumi-resource-{PACKAGE}"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


def main(argv: list[str]) -> None:
    """Serve the plugin protocol (the engine passes its address first; other flags are ignored)."""
    engine = next((a for a in argv if not a.startswith("-")), None)
    try:
        asyncio.run(server.serve(engine, resources=RESOURCES, version=VERSION))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
