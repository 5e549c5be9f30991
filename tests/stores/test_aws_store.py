"""The AWS Secrets Manager store against moto_server (through the fault proxy, which answers as AWS does where moto
does not): versions by public key, staging labels as rotation, deletion with the recovery window."""

from __future__ import annotations

import uuid

import boto3
import pytest

from pulumi_imburse.stores import KeyDocument, SecretStore, StoreError, fingerprint
from pulumi_imburse.stores.aws import AwsSecretsManagerStore

from ..support.store_faults import FaultProxy


def document(name: str = "ci") -> KeyDocument:
    return KeyDocument(public_key=str(uuid.uuid4()), private_key=f"secret-{uuid.uuid4().hex}",
                       tenant_id=str(uuid.uuid4()), account_id=str(uuid.uuid4()), name=name,
                       created_at="2026-12-07T18:00:00Z")


@pytest.fixture
def store(aws_proxy: FaultProxy, aws_session: boto3.session.Session) -> AwsSecretsManagerStore:
    return AwsSecretsManagerStore(f"imburse/test/{uuid.uuid4().hex}", endpoint_url=aws_proxy.url,
                                  session=aws_session, tags={"team": "platform"})


def stages(store: AwsSecretsManagerStore, aws_session: boto3.session.Session, endpoint: str) -> dict[str, list[str]]:
    """The labelled versions as Secrets Manager reports them (unlabelled ones, which moto lists and AWS hides,
    are left out)."""
    client = aws_session.client("secretsmanager", endpoint_url=endpoint)
    versions = client.describe_secret(SecretId=store.secret_id).get("VersionIdsToStages", {})
    return {v: sorted(s) for v, s in versions.items() if s}


def test_it_is_a_secret_store(store: AwsSecretsManagerStore) -> None:
    assert isinstance(store, SecretStore)
    assert store.kind == "aws-secretsmanager"


def test_the_first_write_creates_the_secret_with_the_document_as_current(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    doc = document()
    stored = store.write_current(doc)
    assert stored.version == doc.public_key
    assert stored.reference.startswith("arn:aws:secretsmanager:")
    assert stored.fingerprint == fingerprint(doc.private_key) != doc.private_key
    current = store.current()
    assert current is not None
    assert (current.public_key, current.fingerprint, current.current) == (doc.public_key, stored.fingerprint, True)
    client = aws_session.client("secretsmanager", endpoint_url=moto_endpoint)
    value = client.get_secret_value(SecretId=store.secret_id, VersionStage="AWSCURRENT")["SecretString"]
    assert KeyDocument.from_json(value) == doc  # what the application reads: the whole key document
    tags = client.describe_secret(SecretId=store.secret_id)["Tags"]
    assert {"Key": "team", "Value": "platform"} in tags


def test_writing_the_same_document_again_makes_no_second_version(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    doc = document()
    store.write_current(doc)
    store.write_current(doc)  # the answer of the first write was lost: written again
    assert stages(store, aws_session, moto_endpoint) == {doc.public_key: ["AWSCURRENT"]}


def test_a_rotation_makes_the_old_key_previous_and_retire_ends_it(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    assert stages(store, aws_session, moto_endpoint) == {new.public_key: ["AWSCURRENT"],
                                                         old.public_key: ["AWSPREVIOUS"]}
    found = store.find(old.public_key)
    assert found is not None and found.previous and not found.current
    store.retire(old.public_key)
    assert stages(store, aws_session, moto_endpoint) == {new.public_key: ["AWSCURRENT"]}
    current = store.current()
    assert current is not None and current.public_key == new.public_key


def test_withdrawing_the_current_key_makes_the_one_before_current_again(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    store.withdraw(new.public_key)  # the new key was revoked (its create failed after the write)
    assert stages(store, aws_session, moto_endpoint) == {old.public_key: ["AWSCURRENT"]}
    current = store.current()
    assert current is not None and current.public_key == old.public_key


def test_a_write_after_a_withdrawal_of_the_same_key_makes_it_current_again(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    old, new = document(), document()
    store.write_current(old)
    store.write_current(new)
    store.withdraw(new.public_key)
    store.write_current(new)  # a retried create of the same key (same version id): current once more
    assert stages(store, aws_session, moto_endpoint)[new.public_key] == ["AWSCURRENT"]


def test_a_rotation_after_a_withdrawal_leaves_one_current_and_the_withdrawn_key_unlabelled(
        store: AwsSecretsManagerStore, aws_session: boto3.session.Session, moto_endpoint: str) -> None:
    """As on AWS (moto_server runs with AWS's AWSCURRENT move: tests/support/store_faults.py)."""
    old, withdrawn, new = document(), document(), document()
    store.write_current(old)
    store.write_current(withdrawn)
    store.withdraw(withdrawn.public_key)
    store.write_current(new)
    assert stages(store, aws_session, moto_endpoint) == {new.public_key: ["AWSCURRENT"],
                                                         old.public_key: ["AWSPREVIOUS"]}


def test_find_and_current_of_a_missing_secret_are_none(store: AwsSecretsManagerStore) -> None:
    assert store.current() is None
    assert store.find(str(uuid.uuid4())) is None
    store.withdraw(str(uuid.uuid4()))  # nothing to do
    store.retire(str(uuid.uuid4()))
    store.delete()


def test_an_arn_that_does_not_exist_is_not_created(moto_endpoint: str, aws_session: boto3.session.Session) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:imburse/missing-AbCdEf"
    store = AwsSecretsManagerStore(arn, endpoint_url=moto_endpoint, session=aws_session)
    doc = document()
    with pytest.raises(StoreError, match="does not exist") as caught:
        store.write_current(doc)
    assert doc.private_key not in str(caught.value)


@pytest.mark.parametrize("endpoint", ["http://secretsmanager.example.invalid", "file:///etc/passwd",
                                      "https://user:pw@secretsmanager.example.invalid"])
def test_an_endpoint_that_is_not_https_or_loopback_is_refused_before_any_connection(
        endpoint: str, aws_session: boto3.session.Session) -> None:
    with pytest.raises(StoreError, match="aws-secretsmanager endpoint") as caught:
        AwsSecretsManagerStore("imburse/x", endpoint_url=endpoint, session=aws_session)
    assert "pw@" not in str(caught.value)


def test_the_recovery_window_must_be_one_aws_accepts(aws_session: boto3.session.Session) -> None:
    with pytest.raises(StoreError, match=r"recoveryWindowInDays must be 0 .* or 7 to 30, got 3"):
        AwsSecretsManagerStore("imburse/x", recovery_window_days=3, session=aws_session)


def test_no_private_key_in_repr_of_a_document_or_a_store(store: AwsSecretsManagerStore) -> None:
    doc = document()
    assert doc.private_key not in repr(doc)
    store.write_current(doc)
    assert doc.private_key not in repr(store) + repr(store.current())


def test_a_client_that_cannot_be_made_is_a_store_error_naming_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    with pytest.raises(StoreError, match="give the destination's region"):
        AwsSecretsManagerStore("imburse/ci", region="not a region!", session=session)
