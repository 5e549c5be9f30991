"""Real store servers on loopback, one per session: ``moto_server`` (PyPI ``moto[server]``) for AWS Secrets Manager and
a Vault dev server (``make vault``); and a fault proxy (:mod:`tests.support.store_faults`) in front of either, one
per test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from ..support.store_faults import FaultProxy, moto_server_command, refuse_writes_to_deleted_secrets

REGION = "eu-west-1"
VAULT_TOKEN = "imburse-test-root"
"""The dev server's root token (a throwaway server on loopback, gone at the end of the session)."""
REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a ``moto_server`` started for this session (and stopped after it), moving
    ``AWSCURRENT`` as AWS does (:func:`~tests.support.store_faults.moto_server_command`)."""
    assert shutil.which("moto_server"), "moto_server not found: install the dev extra (pip install -e '.[dev]')"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # moto_server with AWS's AWSCURRENT move (tests/support/store_faults.py says where moto differs)
    proc = subprocess.Popen(moto_server_command("127.0.0.1", port), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_until_up(proc, f"{url}/moto-api/data.json", f"moto_server on port {port}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_session() -> boto3.session.Session:
    """A boto3 session with throwaway credentials (moto accepts any); no real AWS credentials are read."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


@pytest.fixture
def moto_client(aws_session: boto3.session.Session, moto_endpoint: str) -> Any:
    """A Secrets Manager client straight to moto_server (not through the proxy): what the test itself looks at."""
    return aws_session.client("secretsmanager", endpoint_url=moto_endpoint)


@pytest.fixture
def aws_proxy(moto_endpoint: str, moto_client: Any) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of moto_server that answers as AWS does where moto 5.2 does not (a write to a
    secret scheduled for deletion is refused); no other fault until the test injects one."""

    def deleted(secret_id: str) -> bool:
        try:
            return "DeletedDate" in moto_client.describe_secret(SecretId=secret_id)
        except moto_client.exceptions.ResourceNotFoundException:
            return False

    with FaultProxy(moto_endpoint) as proxy:
        refuse_writes_to_deleted_secrets(proxy, deleted)
        yield proxy


@pytest.fixture
def vault_proxy(vault_address: str) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of the session's Vault dev server; no fault until the test injects one."""
    with FaultProxy(vault_address) as proxy:
        yield proxy


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


@pytest.fixture(scope="session")
def vault_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a real Vault dev server (``make vault`` builds it into .tools/bin), with the
    KV v2 engine at ``secret/`` and root token :data:`VAULT_TOKEN`."""
    command = shutil.which("vault", path=str(TOOLS_BIN)) or shutil.which("vault")
    assert command, "vault not found: run `make vault` (builds Vault from its Go module into .tools/bin)"
    port = _free_port()
    address = f"http://127.0.0.1:{port}"
    home = tmp_path_factory.mktemp("vault-home")
    log = (home / "vault.log").open("wb")
    proc = subprocess.Popen([command, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                             f"-dev-root-token-id={VAULT_TOKEN}", "-dev-no-store-token"],
                            stdout=log, stderr=subprocess.STDOUT, env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    try:
        _wait_until_up(proc, f"{address}/v1/sys/health", "vault server -dev")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
