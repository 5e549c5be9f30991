"""The stores' tests: moto's region and throwaway credentials, the Vault dev server's token. The servers themselves
(``moto_endpoint``, ``vault_address``: one each per session) are fixtures of tests/conftest.py, shared with
tests/release."""

from __future__ import annotations

import boto3
import pytest

from ..support.servers import VAULT_TOKEN

__all__ = ["REGION", "VAULT_TOKEN"]

REGION = "eu-west-1"


@pytest.fixture
def aws_session() -> boto3.session.Session:
    """A boto3 session with throwaway credentials (moto accepts any); no real AWS credentials are read."""
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)
