"""The requests each store operation sends, counted by the fault proxy: what a store adds to an ``up`` (the
coordinator's figure: 100 new keys cost 100 first writes). A change that adds a request shows here."""

from __future__ import annotations

import uuid

import boto3

from pulumi_imburse.stores.aws import AwsSecretsManagerStore
from pulumi_imburse.stores.vault import VaultKV2Store

from ..support.store_faults import FaultProxy
from .conftest import VAULT_TOKEN
from .costs import hundred_keys, operation_costs


def test_aws_secrets_manager_requests_per_operation(aws_proxy: FaultProxy,
                                                    aws_session: boto3.session.Session) -> None:
    costs = operation_costs(lambda: AwsSecretsManagerStore(f"imburse/cost/{uuid.uuid4().hex}",
                                                           endpoint_url=aws_proxy.url, session=aws_session),
                            aws_proxy)
    assert costs == {
        "write_current: first key (no secret yet)": ["PutSecretValue", "CreateSecret"],
        "write_current: same key again": ["PutSecretValue"],
        "write_current: rotation": ["PutSecretValue"],
        "find: current key": ["GetSecretValue"],
        "find: previous key": ["GetSecretValue"],
        "current": ["GetSecretValue"],
        "retire: previous key": ["DescribeSecret", "UpdateSecretVersionStage"],
        "retire: nothing to do": ["DescribeSecret"],
        "withdraw: current key, previous back": ["DescribeSecret", "UpdateSecretVersionStage",
                                                 "UpdateSecretVersionStage"],
        "withdraw: nothing to do": ["DescribeSecret"],
        "withdraw: the only key (deletes)": ["DescribeSecret", "DeleteSecret"],
        "delete": ["DeleteSecret"],
    }


def test_aws_secrets_manager_hundred_new_keys_cost_two_requests_each(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> None:
    sent, _ = hundred_keys(lambda: AwsSecretsManagerStore(f"imburse/cost/{uuid.uuid4().hex}",
                                                          endpoint_url=aws_proxy.url, session=aws_session),
                           aws_proxy, parallel=1)  # moto_server answers some concurrent calls 500 (retried)
    assert sent == 200


def test_vault_kv2_requests_per_operation(vault_proxy: FaultProxy) -> None:
    costs = operation_costs(lambda: VaultKV2Store(vault_proxy.url, f"imburse/cost/{uuid.uuid4().hex}",
                                                  token=VAULT_TOKEN), vault_proxy)
    path = "/v1/secret/{}/imburse/cost/"
    meta, data, destroy = "GET metadata", "GET data", "POST destroy"
    assert {label: [_short(op, path) for op in ops] for label, ops in costs.items()} == {
        "write_current: first key (no secret yet)": [meta, "POST data", "POST metadata"],
        "write_current: same key again": [meta],
        "write_current: rotation": [meta, data, "POST data", "POST metadata"],
        "find: current key": [meta, data],
        "find: previous key": [meta, data],
        "current": [meta, data],
        "retire: previous key": [meta, "POST metadata", destroy],
        "retire: nothing to do": [meta],
        "withdraw: current key, previous back": [meta, data, data, "POST data", "POST metadata", destroy],
        "withdraw: nothing to do": [meta, data],
        "withdraw: the only key (deletes)": [meta, data, "DELETE metadata"],
        "delete": [meta, "DELETE metadata"],
    }


def test_vault_kv2_hundred_new_keys_cost_three_requests_each(vault_proxy: FaultProxy) -> None:
    sent, _ = hundred_keys(lambda: VaultKV2Store(vault_proxy.url, f"imburse/cost/{uuid.uuid4().hex}",
                                                 token=VAULT_TOKEN), vault_proxy, parallel=1)
    assert sent == 300


def _short(operation: str, path: str) -> str:
    """``GET /v1/secret/metadata/imburse/cost/<id>`` as ``GET metadata``."""
    method, _, rest = operation.partition(" ")
    for part in ("metadata", "data", "destroy"):
        if rest.startswith(path.format(part)):
            return f"{method} {part}"
    return operation
