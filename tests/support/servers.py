"""Real servers of the secret stores' protocols on loopback, started by the session fixtures ``moto_endpoint`` and
``vault_address`` (tests/conftest.py): ``moto_server`` (PyPI ``moto[server]``) for AWS Secrets Manager and a Vault
dev server (``make vault`` builds it into .tools/bin) for Vault KV v2."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from .store_faults import moto_server_command

VAULT_TOKEN = "imburse-test-root"
"""The dev server's root token (a throwaway server on loopback, gone at the end of the session)."""
REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a ``moto_server`` started for the block (and stopped after it)."""
    assert shutil.which("moto_server"), "moto_server not found: install the dev extra (pip install -e '.[dev]')"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # moto_server moving AWSCURRENT as AWS does (tests/support/store_faults.py says where moto 5.2 differs)
    proc = subprocess.Popen(moto_server_command("127.0.0.1", port), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(proc, f"{url}/moto-api/data.json", f"moto_server on port {port}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def vault_dev_server(home: Path) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a real Vault dev server started for the block (its ``HOME`` and log in
    ``home``), with the KV v2 engine at ``secret/`` and root token :data:`VAULT_TOKEN`."""
    command = shutil.which("vault", path=str(TOOLS_BIN)) or shutil.which("vault")
    assert command, "vault not found: run `make vault` (builds Vault from its Go module into .tools/bin)"
    port = free_port()
    address = f"http://127.0.0.1:{port}"
    with (home / "vault.log").open("wb") as log:
        proc = subprocess.Popen([command, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                                 f"-dev-root-token-id={VAULT_TOKEN}", "-dev-no-store-token"],
                                stdout=log, stderr=subprocess.STDOUT, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
        try:
            _wait_until_up(proc, f"{address}/v1/sys/health", "vault server -dev")
            yield address
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        assert proc.poll() is None, f"{name} exited with {proc.returncode}"
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, f"{name} did not answer on {url} in {START_TIMEOUT_S} s"
            time.sleep(0.05)
