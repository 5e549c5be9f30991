"""AWS Secrets Manager as a :class:`~pulumi_imburse.stores.SecretStore` (destination type ``aws-secretsmanager``).

A key resource's secret holds one version per key; the version id is the key's public key (passed as the
``ClientRequestToken``, so a write whose answer was lost is written again without a second version: Secrets
Manager answers a ``PutSecretValue`` of a token it has, with the same value, with that version). The staging
labels carry the rotation, as AWS's own rotation does: ``AWSCURRENT`` is the key an application reads,
``AWSPREVIOUS`` the key still valid during a grace period (Secrets Manager moves ``AWSPREVIOUS`` itself when a new
version becomes current).

Deletion. :meth:`~AwsSecretsManagerStore.delete`, and a :meth:`~AwsSecretsManagerStore.withdraw` of the only key,
delete the secret with the configured recovery window (``recovery_window_days``: 7 to 30 days, or 0 for at
once). A secret scheduled for deletion cannot be read (``find`` and ``current`` answer ``None``, as for a missing
one) or written: AWS refuses a ``PutSecretValue`` with ``InvalidRequestException`` ("... because it was marked for
deletion"), so :meth:`~AwsSecretsManagerStore.write_current` then restores it (``RestoreSecret``), writes, and
takes ``AWSPREVIOUS`` off the restored (revoked) key's version. (moto_server 5.2 accepts that ``PutSecretValue``
and leaves the secret deleted; the tests give it AWS's answer through ``tests/support/store_faults.py``.)

Credentials come from boto3's standard chain (environment, shared config and credentials files, SSO, instance or
container roles). ``endpoint_url`` points the client elsewhere (a VPC endpoint, or a local test server); it must
be ``https://`` or ``http://`` to this machine, checked before any connection. The client retries with botocore's
``adaptive`` mode (exponential backoff with jitter, client-side rate limiting on throttling; connection errors,
lost answers, 5xx and throttling are retried, ``max_attempts`` in all): every write is idempotent by its token.

Logging: botocore logs whole requests (``botocore.endpoint``: the parameters, ``SecretString`` included) and
responses (``botocore.parsers``: ``GetSecretValue``'s body) at DEBUG. The first store made sets the ``botocore``
and ``boto3`` loggers to WARNING and filters everything below WARNING out of botocore's loggers that log bodies
(:data:`BODY_LOGGERS`), so no level a program or the provider sets (the root at DEBUG, or ``botocore`` set to
DEBUG afterwards) lets a private key into a log.

Least privilege for the provider: ``secretsmanager:CreateSecret``, ``PutSecretValue``, ``GetSecretValue``,
``DescribeSecret``, ``UpdateSecretVersionStage``, ``DeleteSecret``, ``RestoreSecret`` and ``TagResource`` (with
``tags``) on the secrets it manages, and ``kms:GenerateDataKey``/``kms:Decrypt`` on ``kms_key_id`` if given.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast

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
MAX_ATTEMPTS: Final = 8
"""botocore's attempts per call (the first and 7 retries; backoff up to 1, 2, 4, ... 20 s: about 35 s on average
before a call that keeps failing gives up)."""
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 30.0
LEAST_PRIVILEGE: Final = ("secretsmanager:CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret, "
                          "UpdateSecretVersionStage, DeleteSecret, RestoreSecret, TagResource")
SDK_LOGGERS: Final = ("botocore", "boto3")
"""Set to WARNING by :func:`guard_sdk_logs` (their children inherit it)."""
BODY_LOGGERS: Final = ("botocore.endpoint", "botocore.parsers", "botocore.awsrequest", "botocore.handlers",
                       "botocore.auth")
"""botocore's loggers whose DEBUG records carry request or response bodies (or parameters, or the canonical
request): :func:`guard_sdk_logs` filters out their records below WARNING (a logger's filter sees only the records
logged to it, so each has one)."""

_CREDENTIAL_CODES: Final = frozenset({"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException",
                                      "ExpiredToken", "InvalidSignatureException", "SignatureDoesNotMatch",
                                      "IncompleteSignature", "MissingAuthenticationToken"})
_THROTTLING_CODES: Final = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                                      "RequestThrottledException", "ThrottledException"})
_SERVER_CODES: Final = frozenset({"InternalServiceError", "InternalFailure", "ServiceUnavailable"})
_KMS_CODES: Final = frozenset({"DecryptionFailure", "EncryptionFailure", "KMSAccessDeniedException",
                               "KMSDisabledException", "KMSInvalidStateException", "KMSNotFoundException"})
_DELETION: Final = re.compile(r"delet", re.IGNORECASE)


class AwsSecretsManagerStore:
    """One secret in AWS Secrets Manager holding a key resource's key documents.

    :param secret_id: the secret's name (created at the first write) or ARN (which must exist).
    :param region: the AWS region; by default boto3's (``AWS_REGION``, the shared config).
    :param kms_key_id: the KMS key that encrypts a secret this store creates; by default AWS's ``aws/secretsmanager``.
    :param tags: tags of a secret this store creates.
    :param endpoint_url: another Secrets Manager endpoint (``https://``, or ``http://`` to this machine).
    :param recovery_window_days: the recovery window of :meth:`delete` (7 to 30), or 0 to delete at once.
    :param max_attempts: botocore's attempts per call (:data:`MAX_ATTEMPTS`).
    :param read_timeout_s: seconds to wait for an answer before the attempt counts as failed.
    """

    kind: ClassVar[str] = KIND

    def __init__(self, secret_id: str, *, region: str | None = None, kms_key_id: str | None = None,
                 tags: Mapping[str, str] | None = None, endpoint_url: str | None = None,
                 recovery_window_days: int = 30, session: boto3.session.Session | None = None,
                 max_attempts: int = MAX_ATTEMPTS, read_timeout_s: float = READ_TIMEOUT_S) -> None:
        if not secret_id:
            raise StoreError(f"{KIND}: secretId is empty: give the secret's name or ARN")
        if endpoint_url is not None:
            problem = base_url_problem(endpoint_url, f"{KIND} endpoint")
            if problem:
                raise StoreError(problem.replace("such as https://sandbox-api.imbursepayments.com ", ""))
        if recovery_window_days != 0 and not 7 <= recovery_window_days <= 30:
            raise StoreError(f"{KIND}: recoveryWindowInDays must be 0 (delete at once) or 7 to 30, got "
                             f"{recovery_window_days}")
        guard_sdk_logs()
        self.secret_id = secret_id
        self.kms_key_id = kms_key_id
        self.tags = dict(tags or {})
        self.recovery_window_days = recovery_window_days
        self.max_attempts = max_attempts
        self.read_timeout_s = read_timeout_s
        config = botocore.config.Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts},
                                        connect_timeout=CONNECT_TIMEOUT_S, read_timeout=read_timeout_s)
        try:
            self._client: SecretsManagerClient = (
                session.client("secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config)
                if session is not None else _shared_client(region, endpoint_url, max_attempts, read_timeout_s, config))
        except botocore.exceptions.BotoCoreError as exc:  # no region, a bad region name, an unreadable AWS config
            raise StoreError(f"{KIND}: cannot make a Secrets Manager client for secret {secret_id!r} ({exc}): give "
                             "the destination's region (or set AWS_REGION)") from None
        self._endpoint = str(self._client.meta.endpoint_url)

    def __repr__(self) -> str:
        return f"AwsSecretsManagerStore({self.secret_id!r})"

    @property
    def reference(self) -> str:
        """The secret's name or ARN, as given."""
        return self.secret_id

    # ------------------------------------------------------------------ the SecretStore operations

    def write_current(self, document: KeyDocument) -> StoredVersion:
        """Store ``document`` as the version ``document.public_key`` and make it ``AWSCURRENT``; a secret scheduled
        for deletion is restored first (its versions are revoked keys': none stays ``AWSPREVIOUS``)."""
        token = _token(document.public_key)
        value = document.to_json()
        try:
            answer: Mapping[str, Any] = self._put(token, value, document)
        except _NotFound:
            answer = self._create(token, value, document)
        except _MarkedForDeletion:
            answer = self._restore_and_put(token, value, document)
        arn = str(answer["ARN"])
        # A create answers without stages: its one version is current. A write of a version written before (an
        # earlier try) answers with that version's stages: if it was withdrawn or overtaken since, current again.
        if "VersionStages" in answer and CURRENT not in answer["VersionStages"]:
            self._move(CURRENT, to=token)
        return StoredVersion(reference=arn, version=token, fingerprint=document.fingerprint,
                             public_key=document.public_key, current=True)

    def find(self, public_key: str) -> StoredVersion | None:
        """The version ``public_key``, read to take its fingerprint; ``None`` if there is none (or no secret, or the
        secret is scheduled for deletion)."""
        token = _token(public_key)
        try:
            answer = self._call("read", self._client.get_secret_value, SecretId=self.secret_id, VersionId=token)
        except (_NotFound, _MarkedForDeletion):
            return None
        return self._version(answer)

    def current(self) -> StoredVersion | None:
        """The ``AWSCURRENT`` version; ``None`` if the secret does not exist or is scheduled for deletion (what an
        application reads then: nothing)."""
        try:
            # The stage named explicitly: AWS's default, and moto_server (the tests' server) keeps a default
            # version of its own that a moved AWSCURRENT label does not update.
            answer = self._call("read", self._client.get_secret_value, SecretId=self.secret_id,
                                VersionStage=CURRENT)
        except (_NotFound, _MarkedForDeletion):
            return None
        return self._version(answer)

    def withdraw(self, public_key: str) -> None:
        """Take the version ``public_key`` out of ``AWSCURRENT`` (back to ``AWSPREVIOUS``'s version; with none,
        the secret holds only revoked keys and is deleted as :meth:`delete` does, recovery window included) and out
        of ``AWSPREVIOUS``. A secret scheduled for deletion already: nothing to do."""
        token = _token(public_key)
        stages = self._stages()
        if stages is None:
            return
        mine = stages.get(token, [])
        if CURRENT in mine:
            before = next((v for v, labels in stages.items() if PREVIOUS in labels and v != token), None)
            if before is None:
                self.delete()
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
        """Delete the secret: recoverable for ``recovery_window_days`` (or at once with 0). Gone, or scheduled for
        deletion already: done."""
        window: dict[str, Any] = ({"ForceDeleteWithoutRecovery": True} if self.recovery_window_days == 0
                                  else {"RecoveryWindowInDays": self.recovery_window_days})
        try:
            self._call("delete", self._client.delete_secret, SecretId=self.secret_id, **window)
        except (_NotFound, _MarkedForDeletion):
            return

    # ------------------------------------------------------------------ helpers

    def _put(self, token: str, value: str, document: KeyDocument) -> Mapping[str, Any]:
        written: Mapping[str, Any] = self._call("write", self._client.put_secret_value, document=document,
                                                SecretId=self.secret_id, ClientRequestToken=token, SecretString=value)
        return written

    def _create(self, token: str, value: str, document: KeyDocument) -> Mapping[str, Any]:
        if self.secret_id.startswith("arn:"):
            raise StoreError(f"{KIND}: secret {self.secret_id!r} does not exist (an ARN names an existing secret; "
                             "give a name to have it created)")
        extra: dict[str, Any] = {"Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]}
        if self.kms_key_id:
            extra["KmsKeyId"] = self.kms_key_id
        try:
            created: Mapping[str, Any] = self._call(
                "create", self._client.create_secret, document=document, Name=self.secret_id,
                ClientRequestToken=token, SecretString=value, Description="Imburse tenant API key (pulumi-imburse)",
                **extra)
            return created
        except _Exists:  # made meanwhile by another writer: a new version of it
            return self._put(token, value, document)

    def _restore_and_put(self, token: str, value: str, document: KeyDocument) -> Mapping[str, Any]:
        """The secret is scheduled for deletion (its keys revoked): restore it, write, and take ``AWSPREVIOUS`` off
        the revoked key's version. A failed write schedules the deletion again (the restored secret's current
        version is a revoked key's) before the error is raised."""
        self._call("restore", self._client.restore_secret, SecretId=self.secret_id)
        try:
            answer = self._put(token, value, document)
        except StoreError:
            try:
                self.delete()
            except StoreError:
                pass  # the write's error is the one to report
            raise
        stale = next((v for v, labels in (self._stages() or {}).items() if PREVIOUS in labels and v != token), None)
        if stale is not None:
            self._call("withdraw", self._client.update_secret_version_stage, SecretId=self.secret_id,
                       VersionStage=PREVIOUS, RemoveFromVersionId=stale)
        return answer

    def _version(self, answer: Mapping[str, Any]) -> StoredVersion:
        document = KeyDocument.from_json(str(answer.get("SecretString") or ""))
        stages = list(answer.get("VersionStages") or [])
        return StoredVersion(reference=str(answer["ARN"]), version=str(answer["VersionId"]),
                             fingerprint=document.fingerprint, public_key=document.public_key,
                             current=CURRENT in stages, previous=PREVIOUS in stages)

    def _stages(self) -> dict[str, list[str]] | None:
        """The versions' staging labels; ``None`` if the secret does not exist or is scheduled for deletion."""
        try:
            answer = self._call("describe", self._client.describe_secret, SecretId=self.secret_id)
        except _NotFound:
            return None
        if answer.get("DeletedDate"):
            return None
        return {str(v): list(labels) for v, labels in (answer.get("VersionIdsToStages") or {}).items()}

    def _move(self, stage: str, *, to: str, away_from: str | None = None) -> None:
        if away_from is None:
            holder = next((v for v, labels in (self._stages() or {}).items() if stage in labels), None)
            if holder == to:
                return
            away_from = holder
        extra: dict[str, Any] = {"RemoveFromVersionId": away_from} if away_from else {}
        self._call("label", self._client.update_secret_version_stage, SecretId=self.secret_id, VersionStage=stage,
                   MoveToVersionId=to, **extra)

    def _call(self, operation: str, fn: Any, *, document: KeyDocument | None = None, **kwargs: Any) -> Any:
        """``fn(**kwargs)``, its failures as :class:`StoreError` naming the store, secret, operation, AWS's error
        code and what to do (never a value: ``document``'s private key is cut out of any text AWS sends back)."""
        try:
            return fn(**kwargs)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            message = _scrub(str(error.get("Message", "")), document)
            action = f"secretsmanager:{exc.operation_name}"
            if code == "ResourceNotFoundException":
                raise _NotFound(self._message(operation, action, code, message, "")) from None
            if code == "ResourceExistsException" and operation == "create":
                raise _Exists(code) from None
            if code == "InvalidRequestException" and _DELETION.search(message):
                raise _MarkedForDeletion(self._message(
                    operation, action, code, message,
                    "The secret is scheduled for deletion: `aws secretsmanager restore-secret` brings it back")
                ) from None
            raise StoreError(self._message(operation, action, code, message, self._hint(code, action))) from None
        except botocore.exceptions.BotoCoreError as exc:  # no credentials, endpoint unreachable, timeouts
            code = type(exc).__name__
            raise StoreError(self._message(operation, "", code, _scrub(str(exc), document),
                                           self._hint(code, ""))) from None

    def _message(self, operation: str, action: str, code: str, message: str, hint: str) -> str:
        where = f" ({action})" if action else ""
        message = message.strip().rstrip(".")
        return (f"{KIND} {operation} of secret {self.secret_id!r}{where} failed: {code}"
                + (f": {message}" if message else "") + (f". {hint}" if hint else ""))

    def _hint(self, code: str, action: str) -> str:
        attempts = f"after {self.max_attempts} attempts"
        if code == "AccessDeniedException":
            return (f"The credentials lack {action or 'a permission'} on this secret; the provider needs "
                    f"{LEAST_PRIVILEGE} on the secrets it manages (and kms:GenerateDataKey, kms:Decrypt on a "
                    "kmsKeyId)")
        if code in _CREDENTIAL_CODES:
            return ("AWS does not accept the credentials (boto3's chain: AWS_PROFILE, AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, shared files, SSO, instance roles): check they are valid, not expired, "
                    "and for this region's partition")
        if code == "NoCredentialsError":
            return "Give AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, SSO, a role)"
        if code in _THROTTLING_CODES:
            return (f"Secrets Manager still throttled the call {attempts}: deploy with a lower `--parallel`, or "
                    "raise the account's Secrets Manager request quota")
        if code in _SERVER_CODES:
            return f"Secrets Manager kept failing {attempts}: try again later"
        if code in _KMS_CODES:
            return "The credentials need kms:GenerateDataKey and kms:Decrypt on the secret's KMS key, enabled"
        if code == "EndpointConnectionError":
            return (f"Nothing answered at {self._endpoint} {attempts}: check the endpoint and region, and that "
                    "the network reaches it")
        if code in ("ConnectTimeoutError", "ConnectionClosedError", "ReadTimeoutError"):
            return (f"No answer from {self._endpoint} {attempts} (each waits up to {self.read_timeout_s:g} s): "
                    "the store is down or unreachable; a write whose answer was lost is safe to repeat")
        return ""


_clients: dict[tuple[str | None, str | None, int, float], Any] = {}
_clients_lock = threading.Lock()


def _shared_client(region: str | None, endpoint_url: str | None, max_attempts: int, read_timeout_s: float,
                   config: botocore.config.Config) -> SecretsManagerClient:
    """One Secrets Manager client per region, endpoint and retry settings for the whole process: a key resource's
    store is one secret, and making a client (a session, the service model) for each of 100 keys cost more than
    their writes. botocore clients are thread-safe; the credentials chain is read once, and refreshed by botocore."""
    key = (region, endpoint_url, max_attempts, read_timeout_s)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = boto3.session.Session().client(
                "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config)
        return cast("SecretsManagerClient", client)


class _NotFound(StoreError):
    """The secret (or version) does not exist."""


class _Exists(Exception):
    """A create met a secret of that name."""


class _MarkedForDeletion(StoreError):
    """The secret is scheduled for deletion (``InvalidRequestException``): it cannot be read or written."""


def _scrub(text: str, document: KeyDocument | None) -> str:
    """``text`` without ``document``'s private key (or its JSON form), should an error echo a request's value."""
    if document is not None:
        for secret in (document.to_json(), document.private_key):
            if secret:
                text = text.replace(secret, "***")
    return text


class _BelowWarning(logging.Filter):
    """Drops records below WARNING: botocore's DEBUG records carry whole requests and responses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


_guarded = threading.Lock()
_GUARD = _BelowWarning()


def guard_sdk_logs() -> None:
    """Keep request and response bodies out of every log: :data:`SDK_LOGGERS` at WARNING, and a filter on each of
    :data:`BODY_LOGGERS` that drops what is logged below WARNING even if a program sets a level of DEBUG later.
    Once per process (later calls find it done)."""
    with _guarded:
        for name in BODY_LOGGERS:
            logger = logging.getLogger(name)
            if _GUARD in logger.filters:
                return
            logger.addFilter(_GUARD)
        for name in SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _token(public_key: str) -> str:
    """The ``ClientRequestToken`` (the version id) of ``public_key``'s document."""
    if len(public_key) not in TOKEN_LENGTH:
        raise StoreError(f"{KIND}: a public key of {len(public_key)} characters cannot be a version id "
                         f"(Secrets Manager takes {TOKEN_LENGTH.start} to {TOKEN_LENGTH.stop - 1})")
    return public_key
