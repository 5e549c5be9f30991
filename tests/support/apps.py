"""The application's side of a secret store: what an application reading a key's destination gets, and a poller
that reads it every 20 ms and authenticates with it, as a service using the key would.

Reads go straight to the store's own protocol (boto3 ``get_secret_value`` of ``AWSCURRENT``; Vault's
``GET <mount>/data/<path>``, the latest version), never through the provider's store classes, so the tests see what an
application sees.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
import hvac
import hvac.exceptions

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.stores import KeyDocument

from ..engine import authenticates

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "eu-west-1",
           "AWS_EC2_METADATA_DISABLED": "true"}
"""Throwaway credentials moto accepts; no real AWS credential is read (and no metadata endpoint is asked)."""


class StoreApp:
    """An application that reads its key from a resolved destination (a ``destination`` input as Check records it)."""

    def __init__(self, destination: Mapping[str, Any], *, vault_token: str = "") -> None:
        self.destination = dict(destination)
        if destination["type"] == "aws-secretsmanager":
            session = boto3.session.Session(aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                                            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                                            region_name=destination.get("region") or AWS_ENV["AWS_REGION"])
            self._aws = session.client("secretsmanager", endpoint_url=destination["endpoint"])
        else:
            self._vault = hvac.Client(url=destination["address"], token=vault_token)

    def read(self, stage: str = "AWSCURRENT") -> KeyDocument | None:
        """The document an application reads now (AWS: ``stage``; Vault: the latest version), or ``None``."""
        if self.destination["type"] == "aws-secretsmanager":
            try:
                answer = self._aws.get_secret_value(SecretId=self.destination["secretId"], VersionStage=stage)
            except botocore.exceptions.ClientError:
                return None
            return KeyDocument.from_json(answer["SecretString"])
        try:
            answer = self._vault.secrets.kv.v2.read_secret_version(
                path=self.destination["path"], mount_point=self.destination.get("mount") or "secret",
                raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return None
        return KeyDocument.from_fields(answer["data"]["data"])

    def exists(self) -> bool:
        """Whether the secret exists and is not scheduled for deletion (AWS) / has metadata (Vault)."""
        if self.destination["type"] == "aws-secretsmanager":
            try:
                answer = self._aws.describe_secret(SecretId=self.destination["secretId"])
            except botocore.exceptions.ClientError:
                return False
            return "DeletedDate" not in answer
        try:
            self._vault.secrets.kv.v2.read_secret_metadata(path=self.destination["path"],
                                                            mount_point=self.destination.get("mount") or "secret")
        except hvac.exceptions.InvalidPath:
            return False
        return True


@dataclass
class Poll:
    """One poll: when (monotonic seconds), the public key read (``""``: none), and whether it authenticated."""

    at: float
    public_key: str
    ok: bool


@dataclass
class Poller:
    """Reads ``app`` every ``interval`` seconds and authenticates with what it read, in a thread, until stopped.

    Started before the secret exists, it counts polls before the first key as ``waiting`` (an application deployed
    with its key waits for it); every poll after the first key was read must authenticate."""

    app: StoreApp
    emulator: EmulatorProcess
    interval: float = 0.02
    polls: list[Poll] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._run, name="store-poller", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            document = self.app.read()
            ok = document is not None and authenticates(self.emulator, document.public_key, document.private_key)
            if not ok and document is not None:
                # As an application does on a 401: read the secret again and retry once. A key read just before the
                # store moved on may be revoked by the time it is used (a TenantKey replacement has no grace
                # period); the store is at fault only if what it offers *now* does not work either.
                again = self.app.read()
                if again is not None and again != document:
                    document = again
                    ok = authenticates(self.emulator, again.public_key, again.private_key)
            self.polls.append(Poll(time.monotonic(), document.public_key if document else "", ok))
            self._stop.wait(self.interval)

    @property
    def failures(self) -> list[Poll]:
        """Polls after the first key was read that did not get a working key."""
        started = next((i for i, p in enumerate(self.polls) if p.public_key), len(self.polls))
        return [p for p in self.polls[started:] if not p.ok]

    @property
    def keys_seen(self) -> list[str]:
        """The public keys read, in order, each once."""
        return list(dict.fromkeys(p.public_key for p in self.polls if p.public_key))

    def mark(self) -> int:
        """How many polls so far (to wait for more, :meth:`wait_polls`)."""
        return len(self.polls)

    def wait_polls(self, since: int, count: int = 3, timeout: float = 10.0) -> None:
        """Wait until ``count`` polls happened after mark ``since`` (the app has seen the latest state)."""
        deadline = time.monotonic() + timeout
        while len(self.polls) < since + count:
            assert time.monotonic() < deadline, "the poller stopped polling"
            time.sleep(self.interval)
