"""The requests each store operation sends, counted by the fault proxy: what a store adds to an ``up`` (the
coordinator's figure: 100 new keys cost 100 first writes). A change that adds a request shows here."""

from __future__ import annotations

import uuid

import boto3

from pulumi_imburse.stores.aws import AwsSecretsManagerStore

from ..support.store_faults import FaultProxy
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
