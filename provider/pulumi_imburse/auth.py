"""The Imburse HMAC-SHA256 request signature: the one implementation of the algorithm.

The client signs with :func:`hmac_authorization`; the emulator verifies with
:func:`parse_hmac_authorization` and :func:`compute_signature`, so both sides run the same code.

Algorithm (``docs/imburse-api.md``)::

    bodySignature = "" if body is empty else base64(SHA256(utf8(body)))
    unsigned      = publicKey + ":" + nonce + ":" + timestamp + ":" + bodySignature
    signature     = base64(HMAC_SHA256(key=base64decode(privateKey), msg=utf8(unsigned)))
    header value  = "Hmac " + publicKey + ":" + nonce + ":" + timestamp + ":" + signature
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from typing import Final

SCHEME: Final = "Hmac"
NONCE_LENGTH: Final = 32
_NONCE_ALPHABET: Final = string.ascii_letters + string.digits
MAX_TIMESTAMP_DIGITS: Final = 12
"""The most digits an Hmac timestamp may have (epoch seconds have 10 until the year 2286)."""


def _as_bytes(body: str | bytes | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


def body_signature(body: str | bytes | None) -> str:
    """``""`` for an empty body, else base64 of the SHA-256 of the body's bytes."""
    raw = _as_bytes(body)
    if not raw:
        return ""
    return base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii")


def new_nonce() -> str:
    """A cryptographically random alphanumeric nonce (``secrets``; safe under concurrency)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LENGTH))


def compute_signature(public_key: str, private_key: str, nonce: str, timestamp: str, body: str | bytes | None) -> str:
    """The base64 HMAC-SHA256 signature of one request.

    Raises :class:`ValueError` (without echoing the key) when ``private_key`` is not base64.
    """
    try:
        key = base64.b64decode(private_key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the private key is not valid base64") from None
    unsigned = f"{public_key}:{nonce}:{timestamp}:{body_signature(body)}"
    digest = hmac.new(key, unsigned.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hmac_authorization(
    public_key: str,
    private_key: str,
    body: str | bytes | None = b"",
    *,
    nonce: str | None = None,
    timestamp: int | str | None = None,
) -> str:
    """The full ``Authorization`` header value: ``Hmac {publicKey}:{nonce}:{timestamp}:{signature}``.

    ``nonce`` defaults to a fresh random one and ``timestamp`` to the current UTC epoch seconds.
    """
    nonce = new_nonce() if nonce is None else nonce
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = compute_signature(public_key, private_key, nonce, ts, body)
    return f"{SCHEME} {public_key}:{nonce}:{ts}:{signature}"


@dataclass(frozen=True)
class HmacCredentials:
    """The parts of a received ``Authorization: Hmac ...`` header."""

    public_key: str
    nonce: str
    timestamp: str
    signature: str


def parse_hmac_authorization(header: str) -> HmacCredentials:
    """Split an ``Hmac`` header value; the scheme word is case-insensitive.

    Raises :class:`ValueError` naming what is malformed.
    """
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != SCHEME.lower():
        raise ValueError("the Authorization scheme is not Hmac")
    if not rest.isascii():
        raise ValueError("an Hmac Authorization header is ASCII text: publicKey:nonce:timestamp:signature")
    parts = rest.strip().split(":")
    if len(parts) != 4 or not all(parts):
        raise ValueError("an Hmac Authorization header has the form publicKey:nonce:timestamp:signature")
    public_key, nonce, timestamp, signature = parts
    if len(timestamp) > MAX_TIMESTAMP_DIGITS or any(c not in string.digits for c in timestamp):
        raise ValueError(f"the Hmac timestamp is not whole seconds since the Unix epoch (ASCII digits, at most "
                         f"{MAX_TIMESTAMP_DIGITS})")
    return HmacCredentials(public_key, nonce, timestamp, signature)


def verify_signature(creds: HmacCredentials, private_key: str, body: str | bytes | None) -> bool:
    """Whether ``creds.signature`` is the signature of ``body`` under ``private_key`` (constant time)."""
    expected = compute_signature(creds.public_key, private_key, creds.nonce, creds.timestamp, body)
    return hmac.compare_digest(expected, creds.signature)


def new_private_key() -> str:
    """A new private key: base64 of 32 random bytes, as the service issues them."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")
