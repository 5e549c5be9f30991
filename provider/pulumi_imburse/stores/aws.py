"""AWS Secrets Manager as a :class:`~pulumi_imburse.stores.SecretStore` (destination type ``aws-secretsmanager``).

A key resource's secret holds one version per key; the version id is the key's public key (passed as the
``ClientRequestToken``, so a write whose answer was lost is written again without a second version). The staging
labels carry the rotation, as AWS's own rotation does: ``AWSCURRENT`` is the key an application reads,
``AWSPREVIOUS`` the key still valid during a grace period (Secrets Manager moves ``AWSPREVIOUS`` itself when a new
version becomes current).

Credentials come from boto3's standard chain (environment, shared config and credentials files, SSO, instance or
container roles). ``endpoint_url`` points the client elsewhere (a VPC endpoint, or a local test server); it must
be ``https://`` or ``http://`` to this machine, checked before any connection. The client retries with botocore's
``adaptive`` mode (client-side rate limiting on throttling).

Least privilege for the provider: ``secretsmanager:CreateSecret``, ``PutSecretValue``, ``GetSecretValue``,
``DescribeSecret``, ``UpdateSecretVersionStage``, ``DeleteSecret`` and ``TagResource`` (with ``tags``) on
the secrets it manages, and ``kms:GenerateDataKey``/``kms:Decrypt`` on ``kms_key_id`` if given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

import boto3
import botocore.config
import botocore.exceptions

from ..config import base_url_problem
from . import KeyDocument, StoredVersion, StoreError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

KIND: Final = "aws-secretsmanager"
CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"
TOKEN_LENGTH: Final = range(32, 65)
"""The lengths Secrets Manager accepts for a ``ClientRequestToken`` (a public key is a 36-character GUID)."""


class AwsSecretsManagerStore:
    """One secret in AWS Secrets Manager holding a key resource's key documents.

    :param secret_id: the secret's name (created at the first write) or ARN (which must exist).
    :param region: the AWS region; by default boto3's (``AWS_REGION``, the shared config).
    :param kms_key_id: the KMS key that encrypts a secret this store creates; by default AWS's ``aws/secretsmanager``.
    :param tags: tags of a secret this store creates.
    :param endpoint_url: another Secrets Manager endpoint (``https://``, or ``http://`` to this machine).
    :param recovery_window_days: the recovery window of :meth:`delete` (7 to 30), or 0 to delete at once.
    """

    kind: ClassVar[str] = KIND

    def __init__(self, secret_id: str, *, region: str | None = None, kms_key_id: str | None = None,
                 tags: Mapping[str, str] | None = None, endpoint_url: str | None = None,
                 recovery_window_days: int = 30, session: boto3.session.Session | None = None) -> None:
        if not secret_id:
            raise StoreError(f"{KIND}: secretId is empty: give the secret's name or ARN")
        if endpoint_url is not None:
            problem = base_url_problem(endpoint_url, f"{KIND} endpoint")
            if problem:
                raise StoreError(problem.replace("such as https://sandbox-api.imbursepayments.com ", ""))
        if recovery_window_days != 0 and not 7 <= recovery_window_days <= 30:
            raise StoreError(f"{KIND}: recoveryWindowInDays must be 0 (delete at once) or 7 to 30, got "
                             f"{recovery_window_days}")
        self.secret_id = secret_id
        self.kms_key_id = kms_key_id
        self.tags = dict(tags or {})
        self.recovery_window_days = recovery_window_days
        config = botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 8},
                                        connect_timeout=5, read_timeout=30)
        self._client: SecretsManagerClient = (session or boto3.session.Session()).client(
            "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config)

    def __repr__(self) -> str:
        return f"AwsSecretsManagerStore({self.secret_id!r})"

    @property
    def reference(self) -> str:
        """The secret's name or ARN, as given."""
        return self.secret_id

    # ------------------------------------------------------------------ the SecretStore operations

    def write_current(self, document: KeyDocument) -> StoredVersion:
        """Store ``document`` as the version ``document.public_key`` and make it ``AWSCURRENT``."""
        token = _token(document.public_key)
        value = document.to_json()
        try:
            answer: Mapping[str, Any] = self._call("write", self._client.put_secret_value, SecretId=self.secret_id,
                                                   ClientRequestToken=token, SecretString=value)
        except _NotFound:
            answer = self._create(token, value)
        arn = str(answer["ARN"])
        # A create answers without stages: its one version is current. A write of a version written before (an
        # earlier try) answers with that version's stages: if it was withdrawn or overtaken since, current again.
        if "VersionStages" in answer and CURRENT not in answer["VersionStages"]:
            self._move(CURRENT, to=token)
        return StoredVersion(reference=arn, version=token, fingerprint=document.fingerprint,
                             public_key=document.public_key, current=True)

    def find(self, public_key: str) -> StoredVersion | None:
        """The version ``public_key``, read to take its fingerprint; ``None`` if there is none (or no secret)."""
        token = _token(public_key)
        try:
            answer = self._call("read", self._client.get_secret_value, SecretId=self.secret_id, VersionId=token)
        except _NotFound:
            return None
        return self._version(answer)

    def current(self) -> StoredVersion | None:
        """The ``AWSCURRENT`` version; ``None`` if the secret does not exist."""
        try:
            # The stage named explicitly: AWS's default, and moto_server (the tests' server) keeps a default
            # version of its own that a moved AWSCURRENT label does not update.
            answer = self._call("read", self._client.get_secret_value, SecretId=self.secret_id,
                                VersionStage=CURRENT)
        except _NotFound:
            return None
        return self._version(answer)

    def withdraw(self, public_key: str) -> None:
        """Take the version ``public_key`` out of ``AWSCURRENT`` (back to ``AWSPREVIOUS``'s version; with none,
        the secret holds only revoked keys and is deleted at once) and out of ``AWSPREVIOUS``."""
        token = _token(public_key)
        stages = self._stages()
        if stages is None:
            return
        mine = stages.get(token, [])
        if CURRENT in mine:
            before = next((v for v, labels in stages.items() if PREVIOUS in labels and v != token), None)
            if before is None:
                self._call("delete", self._client.delete_secret, SecretId=self.secret_id,
                           ForceDeleteWithoutRecovery=True)
                return
            self._move(CURRENT, to=before, away_from=token)  # Secrets Manager then labels `token` AWSPREVIOUS
            mine = [PREVIOUS]
        if PREVIOUS in mine:
            self._call("withdraw", self._client.update_secret_version_stage, SecretId=self.secret_id,
                       VersionStage=PREVIOUS, RemoveFromVersionId=token)

    def retire(self, public_key: str) -> None:
        """End ``public_key``'s grace period in the store: its version loses ``AWSPREVIOUS``."""
        token = _token(public_key)
        stages = self._stages()
        if stages is not None and PREVIOUS in stages.get(token, []):
            self._call("retire", self._client.update_secret_version_stage, SecretId=self.secret_id,
                       VersionStage=PREVIOUS, RemoveFromVersionId=token)

    def delete(self) -> None:
        """Delete the secret: recoverable for ``recovery_window_days`` (or at once with 0). Gone already: done."""
        window: dict[str, Any] = ({"ForceDeleteWithoutRecovery": True} if self.recovery_window_days == 0
                                  else {"RecoveryWindowInDays": self.recovery_window_days})
        try:
            self._call("delete", self._client.delete_secret, SecretId=self.secret_id, **window)
        except _NotFound:
            return

    # ------------------------------------------------------------------ helpers

    def _create(self, token: str, value: str) -> Mapping[str, Any]:
        if self.secret_id.startswith("arn:"):
            raise StoreError(f"{KIND}: secret {self.secret_id!r} does not exist (an ARN names an existing secret; "
                             "give a name to have it created)")
        extra: dict[str, Any] = {"Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]}
        if self.kms_key_id:
            extra["KmsKeyId"] = self.kms_key_id
        try:
            created: Mapping[str, Any] = self._call(
                "create", self._client.create_secret, Name=self.secret_id, ClientRequestToken=token,
                SecretString=value, Description="Imburse tenant API key (pulumi-imburse)", **extra)
            return created
        except _Exists:  # made meanwhile by another writer: a new version of it
            written: Mapping[str, Any] = self._call("write", self._client.put_secret_value, SecretId=self.secret_id,
                                                    ClientRequestToken=token, SecretString=value)
            return written

    def _version(self, answer: Mapping[str, Any]) -> StoredVersion:
        document = KeyDocument.from_json(str(answer.get("SecretString") or ""))
        stages = list(answer.get("VersionStages") or [])
        return StoredVersion(reference=str(answer["ARN"]), version=str(answer["VersionId"]),
                             fingerprint=document.fingerprint, public_key=document.public_key,
                             current=CURRENT in stages, previous=PREVIOUS in stages)

    def _stages(self) -> dict[str, list[str]] | None:
        try:
            answer = self._call("describe", self._client.describe_secret, SecretId=self.secret_id)
        except _NotFound:
            return None
        return {str(v): list(labels) for v, labels in (answer.get("VersionIdsToStages") or {}).items()}

    def _move(self, stage: str, *, to: str, away_from: str | None = None) -> None:
        if away_from is None:
            holder = next((v for v, labels in (self._stages() or {}).items() if stage in labels), None)
            if holder == to:
                return
            away_from = holder
        extra = {"RemoveFromVersionId": away_from} if away_from else {}
        self._call("label", self._client.update_secret_version_stage, SecretId=self.secret_id, VersionStage=stage,
                   MoveToVersionId=to, **extra)

    def _call(self, operation: str, fn: Any, **kwargs: Any) -> Any:
        """``fn(**kwargs)``, its failures as :class:`StoreError` naming the store, secret and operation."""
        try:
            return fn(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code == "ResourceNotFoundException":
                raise _NotFound(code) from None
            if code == "ResourceExistsException" and operation == "create":
                raise _Exists(code) from None
            raise StoreError(f"{KIND} {operation} of secret {self.secret_id!r} failed: {code}: "
                             f"{error.get('Message', '')}") from None
        except botocore.exceptions.BotoCoreError as exc:  # no credentials, endpoint unreachable, timeouts
            raise StoreError(f"{KIND} {operation} of secret {self.secret_id!r} failed: {exc}") from None


class _NotFound(Exception):
    """The secret (or version) does not exist."""


class _Exists(Exception):
    """A create met a secret of that name."""


def _token(public_key: str) -> str:
    """The ``ClientRequestToken`` (the version id) of ``public_key``'s document."""
    if len(public_key) not in TOKEN_LENGTH:
        raise StoreError(f"{KIND}: a public key of {len(public_key)} characters cannot be a version id "
                         f"(Secrets Manager takes {TOKEN_LENGTH.start} to {TOKEN_LENGTH.stop - 1})")
    return public_key
