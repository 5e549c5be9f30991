"""A real AWS Secrets Manager protocol server on loopback: ``moto_server`` (PyPI ``moto[server]``), one per session."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import boto3
import pytest
import requests

REGION = "eu-west-1"
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a ``moto_server`` started for this session (and stopped after it)."""
    command = shutil.which("moto_server")
    assert command, "moto_server not found: install the dev extra (pip install -e '.[dev]')"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([command, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"moto_server exited with {proc.returncode} (port {port} taken?)"
            try:
                requests.get(f"{url}/moto-api/data.json", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"moto_server did not answer on {url} in {START_TIMEOUT_S} s"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws_session() -> boto3.session.Session:
    """A boto3 session with throwaway credentials (moto accepts any); no real AWS credentials are read."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)
