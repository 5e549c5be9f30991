"""What each store costs: the requests each operation sends (counted by the fault proxy), and the wall time of
writing 100 keys. ``test_request_costs.py`` pins the counts; ``python -m tests.stores.costs`` prints the figures
(it starts moto_server and, if ``make vault`` built it, a Vault dev server, on loopback)."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from pulumi_imburse.stores import SecretStore

from ..support.store_faults import FaultProxy, moto_server_command
from .documents import document


def operation_costs(make: Callable[[], SecretStore], proxy: FaultProxy) -> dict[str, list[str]]:
    """The requests of each store operation in a key's life, by the situation it meets."""
    costs: dict[str, list[str]] = {}

    def measure(label: str, action: Callable[[], Any]) -> None:
        proxy.forget()
        action()
        costs[label] = proxy.operations()

    store = make()
    first, second, third = document(), document(), document()
    measure("write_current: first key (no secret yet)", lambda: store.write_current(first))
    measure("write_current: same key again", lambda: store.write_current(first))
    measure("write_current: rotation", lambda: store.write_current(second))
    measure("find: current key", lambda: store.find(second.public_key))
    measure("find: previous key", lambda: store.find(first.public_key))
    measure("current", store.current)
    measure("retire: previous key", lambda: store.retire(first.public_key))
    measure("retire: nothing to do", lambda: store.retire(first.public_key))
    store.write_current(third)
    measure("withdraw: current key, previous back", lambda: store.withdraw(third.public_key))
    measure("withdraw: nothing to do", lambda: store.withdraw(third.public_key))
    measure("withdraw: the only key (deletes)", lambda: store.withdraw(second.public_key))
    other = make()
    other.write_current(document())
    measure("delete", other.delete)
    return costs


def hundred_keys(make: Callable[[], SecretStore], proxy: FaultProxy, parallel: int) -> tuple[int, float]:
    """Requests and seconds to write the first key of 100 key resources (100 secrets), ``parallel`` at a time."""
    stores = [make() for _ in range(100)]
    proxy.forget()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda s: s.write_current(document()), stores))
    return len(proxy.seen), time.perf_counter() - started


def main() -> None:  # pragma: no cover - a measurement, run by hand
    import contextlib
    import shutil
    import subprocess
    import uuid

    import boto3

    from pulumi_imburse.stores.aws import AwsSecretsManagerStore
    from pulumi_imburse.stores.vault import VaultKV2Store

    from . import conftest

    with contextlib.ExitStack() as stack:
        servers: dict[str, tuple[str, Callable[[str], Callable[[], SecretStore]]]] = {}
        port = conftest._free_port()
        moto = subprocess.Popen(moto_server_command("127.0.0.1", port), cwd=conftest.REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(moto.terminate)
        conftest._wait_until_up(moto, f"http://127.0.0.1:{port}/moto-api/data.json", "moto_server")
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=conftest.REGION)
        servers["aws-secretsmanager"] = (f"http://127.0.0.1:{port}", lambda url: lambda: AwsSecretsManagerStore(
            f"imburse/cost/{uuid.uuid4().hex}", endpoint_url=url, session=session))
        vault = shutil.which("vault", path=str(conftest.TOOLS_BIN))
        if vault:
            vport = conftest._free_port()
            proc = subprocess.Popen([vault, "server", "-dev", f"-dev-listen-address=127.0.0.1:{vport}",
                                     f"-dev-root-token-id={conftest.VAULT_TOKEN}", "-dev-no-store-token"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(proc.terminate)
            conftest._wait_until_up(proc, f"http://127.0.0.1:{vport}/v1/sys/health", "vault")
            servers["vault-kv2"] = (f"http://127.0.0.1:{vport}", lambda url: lambda: VaultKV2Store(
                url, f"imburse/cost/{uuid.uuid4().hex}", token=conftest.VAULT_TOKEN))
        for kind, (upstream, factory) in servers.items():
            with FaultProxy(upstream) as proxy:
                make = factory(proxy.url)
                print(f"## {kind}")
                for label, ops in operation_costs(make, proxy).items():
                    print(f"{label:42} {len(ops)}  {', '.join(ops)}")
                for parallel in (1, 16):
                    requests_sent, seconds = hundred_keys(make, proxy, parallel)
                    print(f"100 first writes, {parallel:2} at a time: {requests_sent} requests, {seconds:.2f} s")


if __name__ == "__main__":
    main()
