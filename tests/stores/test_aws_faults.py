"""The AWS store under faults, through the fault proxy in front of moto_server: a lost answer, throttling, 403s,
the store down, no answer; every failure a :class:`StoreError` that says what and what to do, never a secret."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import boto3
import pytest

from pulumi_imburse.stores import StoreError
from pulumi_imburse.stores.aws import LEAST_PRIVILEGE, MAX_ATTEMPTS, AwsSecretsManagerStore

from ..support.store_faults import (
    AWS_ACCESS_DENIED,
    AWS_THROTTLED,
    AWS_UNRECOGNIZED_CLIENT,
    FaultProxy,
    LoseAnswer,
    Reset,
    Stall,
    aws_error,
)
from .documents import assert_no_secret, document, logged

PUT = "secretsmanager.PutSecretValue"
CREATE = "secretsmanager.CreateSecret"


def make(proxy: FaultProxy, session: boto3.session.Session, **options: Any) -> AwsSecretsManagerStore:
    return AwsSecretsManagerStore(f"imburse/test/{uuid.uuid4().hex}", endpoint_url=proxy.url, session=session,
                                  **options)


def versions(client: Any, secret_id: str) -> dict[str, list[str]]:
    """Every version moto holds (moto lists unlabelled ones too, so a second version would show), with its labels."""
    listed = client.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True)["Versions"]
    return {v["VersionId"]: sorted(v.get("VersionStages", [])) for v in listed}


@pytest.fixture
def store(aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> AwsSecretsManagerStore:
    return make(aws_proxy, aws_session)


def test_a_write_whose_answer_was_lost_makes_exactly_one_current_version(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy, moto_client: Any) -> None:
    old, new = document(), document()
    store.write_current(old)
    aws_proxy.inject(LoseAnswer(), target=PUT)  # moto writes the version; the answer never arrives
    stored = store.write_current(new)
    assert aws_proxy.count(target=PUT, forwarded=True) == 3  # the first write's, the lost one, its retry
    assert versions(moto_client, store.secret_id) == {old.public_key: ["AWSPREVIOUS"], new.public_key: ["AWSCURRENT"]}
    assert stored.version == new.public_key and stored.current


def test_a_create_whose_answer_was_lost_makes_exactly_one_current_version(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy, moto_client: Any) -> None:
    doc = document()
    aws_proxy.inject(LoseAnswer(), target=CREATE)
    store.write_current(doc)
    assert aws_proxy.count(target=CREATE, forwarded=True) == 2
    assert versions(moto_client, store.secret_id) == {doc.public_key: ["AWSCURRENT"]}


def test_putting_the_same_token_and_value_again_makes_no_new_version(
        store: AwsSecretsManagerStore, moto_client: Any) -> None:
    """What makes a retried write safe: Secrets Manager (and moto) answer a PutSecretValue of a token it has, with
    the same value, with that version."""
    old, new = document(), document()
    store.write_current(old)
    for _ in range(2):
        moto_client.put_secret_value(SecretId=store.secret_id, ClientRequestToken=new.public_key,
                                     SecretString=new.to_json())
    assert versions(moto_client, store.secret_id) == {old.public_key: ["AWSPREVIOUS"], new.public_key: ["AWSCURRENT"]}


def test_a_connection_reset_is_retried(store: AwsSecretsManagerStore, aws_proxy: FaultProxy) -> None:
    doc = document()
    store.write_current(doc)
    aws_proxy.inject(Reset())
    current = store.current()
    assert current is not None and current.public_key == doc.public_key


def test_throttling_that_stops_within_the_retries_is_not_an_error(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy) -> None:
    doc = document()
    store.write_current(doc)
    aws_proxy.forget()
    aws_proxy.inject(AWS_THROTTLED, times=2, target=PUT)
    store.write_current(document())
    assert aws_proxy.count(target=PUT) == 3


def test_throttling_that_outlasts_the_retries_fails_naming_the_call_and_what_to_do(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> None:
    store = make(aws_proxy, aws_session, max_attempts=3)
    aws_proxy.inject(AWS_THROTTLED, times=None)
    doc = document()
    with pytest.raises(StoreError) as caught:
        store.write_current(doc)
    message = str(caught.value)
    assert message.startswith(f"aws-secretsmanager write of secret {store.secret_id!r} "
                              "(secretsmanager:PutSecretValue) failed: ThrottlingException: Rate exceeded.")
    assert "after 3 attempts" in message and "--parallel" in message
    assert aws_proxy.count() == 3  # gave up after its attempts
    assert_no_secret(message, doc)


def test_an_error_that_echoes_the_value_written_does_not_carry_it_on(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy) -> None:
    doc = document()
    aws_proxy.inject(aws_error("ValidationException", f"Value '{doc.to_json()}' at 'secretString' failed to satisfy "
                               f"constraint (private key {doc.private_key})"), times=None)
    with pytest.raises(StoreError, match=r"ValidationException: Value '\*\*\*' at 'secretString'.*private key "
                                         r"\*\*\*") as caught:
        store.write_current(doc)
    assert_no_secret(str(caught.value), doc)


def test_the_default_retries_are_botocores_adaptive_mode(aws_session: boto3.session.Session) -> None:
    store = AwsSecretsManagerStore("imburse/x", session=aws_session)
    retries = store._client.meta.config.retries
    assert retries == {"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS}


def test_access_denied_names_the_permission_and_the_least_privilege(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy) -> None:
    store.write_current(document())
    aws_proxy.inject(AWS_ACCESS_DENIED, times=None, target=PUT)
    doc = document()
    with pytest.raises(StoreError) as caught:
        store.write_current(doc)
    message = str(caught.value)
    assert "(secretsmanager:PutSecretValue) failed: AccessDeniedException: User: " in message
    assert "The credentials lack secretsmanager:PutSecretValue on this secret" in message
    assert LEAST_PRIVILEGE in message
    assert aws_proxy.count(target=PUT) == 2  # a refusal is not retried
    assert_no_secret(message, doc)


def test_credentials_aws_does_not_recognise_are_named_as_such(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy) -> None:
    aws_proxy.inject(AWS_UNRECOGNIZED_CLIENT, times=None)
    with pytest.raises(StoreError, match=r"read of secret .* failed: UnrecognizedClientException: The security token "
                                         r"included in the request is invalid\. AWS does not accept the credentials"):
        store.current()


def test_a_store_that_is_down_fails_naming_the_endpoint(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> None:
    store = make(aws_proxy, aws_session, max_attempts=2)
    doc = document()
    with aws_proxy.down(), pytest.raises(StoreError) as caught:
        store.write_current(doc)
    message = str(caught.value)
    assert message.startswith(f"aws-secretsmanager write of secret {store.secret_id!r} failed: "
                              "EndpointConnectionError: Could not connect to the endpoint URL")
    assert f"Nothing answered at {aws_proxy.url} after 2 attempts" in message
    assert_no_secret(message, doc)
    store.write_current(doc)  # back up: the same write goes through


def test_no_answer_fails_after_the_read_timeout(aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> None:
    store = make(aws_proxy, aws_session, max_attempts=1, read_timeout_s=0.5)
    aws_proxy.inject(Stall())
    with pytest.raises(StoreError, match=r"read of secret .* failed: ReadTimeoutError: .*No answer from .* after 1 "
                                         r"attempts \(each waits up to 0\.5 s\)"):
        store.current()


def test_no_private_key_reaches_any_log_even_at_debug(
        store: AwsSecretsManagerStore, aws_proxy: FaultProxy, caplog: pytest.LogCaptureFixture) -> None:
    """botocore logs whole requests and responses at DEBUG: the store keeps them out, whatever level is set."""
    caplog.set_level(logging.DEBUG)  # the root logger: a program's logging.basicConfig(level=DEBUG)
    logging.getLogger("botocore").setLevel(logging.DEBUG)  # and botocore's own, set after the store was made
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    store.current()
    store.find(old.public_key)
    store.withdraw(new.public_key)
    aws_proxy.inject(AWS_THROTTLED, times=1)
    store.write_current(new)
    assert any(r.name.startswith("botocore") for r in caplog.records)  # botocore did log, at DEBUG, what is safe
    assert_no_secret(logged(caplog.records), old, new)
