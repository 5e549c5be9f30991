"""The stores' tests: moto's region and throwaway credentials, the Vault dev server's token, and a fault proxy
(:mod:`tests.support.store_faults`) in front of either server, one per test. The servers themselves
(``moto_endpoint``, ``vault_address``: one each per session) are fixtures of tests/conftest.py, shared with
tests/release and tests/policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from ..support.apps import AWS_ENV
from ..support.servers import VAULT_TOKEN
from ..support.store_faults import FaultProxy, refuse_writes_to_deleted_secrets

__all__ = ["REGION", "VAULT_TOKEN"]

REGION = "eu-west-1"


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


Where = Callable[..., dict[str, Any]]
"""``where(store, path, recovery_window_days=7)``: a destination input of that store (``aws``/``vault``) for the
secret at ``path``."""


@pytest.fixture
def where(request: pytest.FixtureRequest) -> Where:
    """Destinations for stack tests: AWS through :func:`aws_proxy` (moto, refusing writes to a secret scheduled for
    deletion as AWS does), Vault at the session's dev server. The fixtures are started only for the store asked."""
    def make(store: str, path: str, *, recovery_window_days: int = 7) -> dict[str, Any]:
        if store == "aws":
            endpoint = request.getfixturevalue("aws_proxy").url
            return {"type": "aws-secretsmanager", "secretId": path, "endpoint": endpoint, "region": REGION,
                    "recoveryWindowInDays": recovery_window_days}
        return {"type": "vault-kv2", "address": request.getfixturevalue("vault_address"), "path": path}
    return make


@pytest.fixture
def no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test process's own boto3 clients use moto's throwaway credentials, never a real profile."""
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
