"""Key documents for the store tests, and the checks every store error must pass."""

from __future__ import annotations

import logging
import uuid

from pulumi_imburse.stores import KeyDocument


def document(name: str = "ci") -> KeyDocument:
    """A fresh key document (a GUID public key, a random private key)."""
    return KeyDocument(public_key=str(uuid.uuid4()), private_key=f"secret-{uuid.uuid4().hex}",
                       tenant_id=str(uuid.uuid4()), account_id=str(uuid.uuid4()), name=name,
                       created_at="2026-12-07T18:00:00Z")


def assert_no_secret(text: str, *documents: KeyDocument) -> None:
    """``text`` (a message, a log) holds none of the documents' private keys."""
    for doc in documents:
        assert doc.private_key not in text, "a private key leaked"


def logged(records: list[logging.LogRecord]) -> str:
    """Every record's message and arguments, as a handler at DEBUG would write them."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in records)
