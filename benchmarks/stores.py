#!/usr/bin/env python3
"""What a secret store adds to ``pulumi up`` of N keys: requests to the store and wall time, in one run.

Everything runs on 127.0.0.1: the emulator, ``moto_server`` (AWS Secrets Manager) and a Vault dev server
(``.tools/bin/vault``, ``make vault``), started as the tests start them (``tests/support/servers.py``), each behind
the tests' counting proxy (``tests/support/store_faults.py``, which forwards every request unchanged and records
it). For each destination
(none: the private key in state; ``aws-secretsmanager``; ``vault-kv2``), in a fresh stack of its own, the real CLI
runs ``pulumi up`` of N ``TenantKey`` resources in one tenant whose destination is the provider-wide default
``imburse:destination`` (``path``/``secretId`` ``bench/{resourceName}``: one secret per key), then ``pulumi destroy``.

    .venv/bin/python benchmarks/stores.py                 # N=100, the dynamic resources and the plugin
    .venv/bin/python benchmarks/stores.py --n 20 --face plugin

Reported per face and destination: the wall time of the up and of the destroy, each over the same face's
no-destination run (a ratio, measured in the same run: the machine's speed cancels out), and the store requests per
key (the proxy's count / N). Results: ``benchmarks/results/stores-<time>.json`` and a table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' counting proxy and the plugin helpers (tests/ is not installed)

import pulumi  # noqa: E402

from pulumi_imburse import TenantKey  # noqa: E402
from pulumi_imburse.client import ImburseClient  # noqa: E402
from pulumi_imburse.emulator.process import EmulatorProcess  # noqa: E402
from pulumi_imburse.testing import emulated_stack  # noqa: E402
from tests.plugin import native  # noqa: E402
from tests.support.apps import AWS_ENV  # noqa: E402
from tests.support.servers import VAULT_TOKEN, moto_server, vault_dev_server  # noqa: E402
from tests.support.store_faults import FaultProxy  # noqa: E402

RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"


def program(face: str, n: int, tenant_id: str) -> Callable[[], None]:
    def run() -> None:
        for i in range(n):
            if face == "dynamic":
                TenantKey(f"key-{i}", tenant_id=tenant_id, roles=["tenant-app-read"])
            else:
                native.tenant_key(f"key-{i}", tenantId=tenant_id, roles=["tenant-app-read"])
        pulumi.export("n", n)
    return run


def measure(face: str, n: int, parallel: int, emulator: EmulatorProcess, tenant_id: str,
            destination: dict[str, Any] | None, proxy: FaultProxy | None) -> dict[str, Any]:
    config = {"imburse:destination": destination} if destination else {}
    env = {**AWS_ENV, "VAULT_TOKEN": VAULT_TOKEN}
    kind = destination["type"] if destination else "none"
    row: dict[str, Any] = {"face": face, "destination": kind, "n": n}
    with emulated_stack(program(face, n, tenant_id), project_name=f"stores-{face}-{kind}", emulator=emulator,
                        config=config, env=env) as s:
        for name, operation in (("up", s.stack.up), ("destroy", s.stack.destroy)):
            if proxy is not None:
                proxy.forget()
            began = time.monotonic()
            operation(parallel=parallel, on_output=lambda _line: None)
            row[f"{name}_s"] = time.monotonic() - began
            row[f"{name}_requests_per_key"] = (len(proxy.seen) if proxy is not None else 0) / n
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="keys per stack (default: %(default)s)")
    parser.add_argument("--parallel", type=int, default=16, help="the engine's --parallel (default: %(default)s)")
    parser.add_argument("--face", choices=("dynamic", "plugin", "both"), default="both")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    faces = ("dynamic", "plugin") if args.face == "both" else (args.face,)
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-stores-") as tmp:
        os.environ.update(AWS_ENV)
        aws = stack.enter_context(FaultProxy(stack.enter_context(moto_server())))
        vlt = stack.enter_context(FaultProxy(stack.enter_context(vault_dev_server(Path(tmp)))))
        emulator = stack.enter_context(EmulatorProcess())
        with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as api:
            tenant_id = api.create_tenant("bench-stores").tenant_id
        destinations: list[tuple[dict[str, Any] | None, FaultProxy | None]] = [
            (None, None),
            ({"type": "aws-secretsmanager", "secretId": "bench/{resourceName}", "endpoint": aws.url,
              "region": AWS_ENV["AWS_REGION"], "recoveryWindowInDays": 0}, aws),
            ({"type": "vault-kv2", "address": vlt.url, "path": "bench/{resourceName}"}, vlt),
        ]
        for face in faces:
            for destination, proxy in destinations:
                row = measure(face, args.n, args.parallel, emulator, tenant_id, destination, proxy)
                rows.append(row)
                print(f"{face:8} {row['destination']:19} up {row['up_s']:6.1f} s  destroy {row['destroy_s']:6.1f} s  "
                      f"store requests/key: up {row['up_requests_per_key']:.1f}, destroy "
                      f"{row['destroy_requests_per_key']:.1f}", flush=True)
    for row in rows:
        base = next(r for r in rows if r["face"] == row["face"] and r["destination"] == "none")
        row["up_ratio"] = row["up_s"] / base["up_s"]
        row["destroy_ratio"] = row["destroy_s"] / base["destroy_s"]
    print(f"\n{'face':8} {'destination':19} {'up/none':>8} {'destroy/none':>13} {'req/key up':>11} "
          f"{'req/key destroy':>16}")
    for row in rows:
        print(f"{row['face']:8} {row['destination']:19} {row['up_ratio']:8.2f} {row['destroy_ratio']:13.2f} "
              f"{row['up_requests_per_key']:11.1f} {row['destroy_requests_per_key']:16.1f}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    doc = {"n": args.n, "parallel": args.parallel, "load": os.getloadavg(), "rows": rows}
    (args.out / f"stores-{stamp}.json").write_text(json.dumps(doc, indent=2))
    print(f"\nresults: {args.out / f'stores-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
