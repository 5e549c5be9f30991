"""Deleting through the AWS store: the configured recovery window, for a delete and for a withdrawal of the only
key; a write to a secret scheduled for deletion restores it; against moto_server behind the fault proxy, which
refuses a write to a deleted secret as AWS does."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import boto3
import pytest

from pulumi_imburse.stores import StoreError
from pulumi_imburse.stores.aws import AwsSecretsManagerStore

from ..support.store_faults import AWS_ACCESS_DENIED, FaultProxy
from .documents import assert_no_secret, document


def make(proxy: FaultProxy, session: boto3.session.Session, window: int = 30) -> AwsSecretsManagerStore:
    return AwsSecretsManagerStore(f"imburse/test/{uuid.uuid4().hex}", endpoint_url=proxy.url, session=session,
                                  recovery_window_days=window)


def days_until_deleted(client: Any, secret_id: str) -> float:
    """Days from now to the secret's ``DeletedDate`` (when Secrets Manager deletes it for good)."""
    deleted = client.describe_secret(SecretId=secret_id)["DeletedDate"]
    return (deleted - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400


def labelled(client: Any, secret_id: str) -> dict[str, list[str]]:
    versions = client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
    return {v: sorted(s) for v, s in versions.items() if s}


@pytest.mark.parametrize("window", [7, 30])
def test_delete_schedules_the_deletion_with_the_configured_recovery_window(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any, window: int) -> None:
    store = make(aws_proxy, aws_session, window)
    store.write_current(document())
    store.delete()
    assert window - 0.1 < days_until_deleted(moto_client, store.secret_id) <= window
    assert store.current() is None  # what an application reads now: nothing
    store.delete()  # scheduled already: done


def test_withdraw_and_retire_of_a_secret_scheduled_for_deletion_do_nothing(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any) -> None:
    store = make(aws_proxy, aws_session)
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    store.delete()
    store.retire(old.public_key)  # AWS would refuse a label change now: none is tried
    store.withdraw(new.public_key)
    assert "DeletedDate" in moto_client.describe_secret(SecretId=store.secret_id)


def test_delete_with_a_window_of_0_deletes_at_once(aws_proxy: FaultProxy, aws_session: boto3.session.Session,
                                                   moto_client: Any) -> None:
    store = make(aws_proxy, aws_session, 0)
    store.write_current(document())
    store.delete()
    with pytest.raises(moto_client.exceptions.ResourceNotFoundException):
        moto_client.describe_secret(SecretId=store.secret_id)


def test_withdrawing_the_only_key_deletes_the_secret_with_the_recovery_window(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any) -> None:
    store = make(aws_proxy, aws_session, 7)
    doc = document()
    store.write_current(doc)
    store.withdraw(doc.public_key)  # its key was revoked: nothing left that works
    assert 6.9 < days_until_deleted(moto_client, store.secret_id) <= 7  # recoverable, not force-deleted
    assert store.current() is None
    assert store.find(doc.public_key) is None
    store.withdraw(doc.public_key)  # scheduled already: nothing to do
    store.retire(doc.public_key)


def test_withdrawing_the_only_key_with_a_window_of_0_deletes_at_once(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any) -> None:
    store = make(aws_proxy, aws_session, 0)
    doc = document()
    store.write_current(doc)
    store.withdraw(doc.public_key)
    with pytest.raises(moto_client.exceptions.ResourceNotFoundException):
        moto_client.describe_secret(SecretId=store.secret_id)
    again = document()
    store.write_current(again)  # created anew
    assert labelled(moto_client, store.secret_id) == {again.public_key: ["AWSCURRENT"]}


@pytest.mark.parametrize("how", ["withdraw", "delete"])
def test_a_write_to_a_secret_scheduled_for_deletion_restores_it_with_only_the_new_key_labelled(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any, how: str) -> None:
    store = make(aws_proxy, aws_session)
    revoked = document()
    store.write_current(revoked)
    if how == "withdraw":
        store.withdraw(revoked.public_key)
    else:
        store.delete()
    aws_proxy.forget()
    new = document()
    stored = store.write_current(new)
    # AWS refused the first write (the proxy answers for moto, which accepts it), then the secret was restored
    assert aws_proxy.operations()[:3] == ["PutSecretValue", "RestoreSecret", "PutSecretValue"]
    assert "DeletedDate" not in moto_client.describe_secret(SecretId=store.secret_id)
    assert labelled(moto_client, store.secret_id) == {new.public_key: ["AWSCURRENT"]}  # the revoked key: no label
    current = store.current()
    assert current is not None and current.public_key == new.public_key == stored.public_key


def test_a_failed_write_after_a_restore_schedules_the_deletion_again(
        aws_proxy: FaultProxy, aws_session: boto3.session.Session, moto_client: Any) -> None:
    store = make(aws_proxy, aws_session, 7)
    revoked = document()
    store.write_current(revoked)
    store.withdraw(revoked.public_key)
    # The refusal of writes to deleted secrets comes first; after the restore, this one refuses the write.
    aws_proxy.inject(AWS_ACCESS_DENIED, target="secretsmanager.PutSecretValue")
    new = document()
    with pytest.raises(StoreError, match=r"secretsmanager:PutSecretValue.*AccessDeniedException") as caught:
        store.write_current(new)
    assert_no_secret(str(caught.value), new, revoked)
    # the restored secret's current version was the revoked key's: not readable again
    assert 6.9 < days_until_deleted(moto_client, store.secret_id) <= 7
    assert store.current() is None
