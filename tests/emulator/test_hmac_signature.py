"""The HMAC signer matches the contract's formula byte for byte (known-answer test).

The expected values are computed here from the formula in ``docs/imburse-api.md`` with the standard
library only, and pinned as literals computed independently with ``openssl dgst``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from pulumi_imburse import auth

from .helpers import Api

PUBLIC_KEY = "a123456b-c12c-123d-1ab4-18bd8c8e88a3"
PRIVATE_KEY = "AGHYR1aWYgHgyjhJLkVCd7b8XfAVeA4tuFwCQl3X64Y="
NONCE = "b2tWb3BFa1dRZz"
TIMESTAMP = 1558000000
BODY = '{"name":"Admin Key","roles":["tenant-admin"]}'

# printf '%s' "$BODY" | openssl dgst -sha256 -binary | base64, and
# printf '%s' "$PUB:$NONCE:$TS:$BODYSIG" | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key hex> -binary | base64
OPENSSL_BODY_SIGNATURE = "gJLOn5cSe0DIJ8o046kPIsZmQ8PSZ0vPv6ciSMeX50M="
OPENSSL_SIGNATURE = "UuZ+6yplZwAGPx3P3WMgX87BpCgH67ZO50VQmHgPzQ4="
OPENSSL_SIGNATURE_EMPTY_BODY = "EG+Eajzwmr+5nLMyxYu4FLZqRWP4Lh09fVwWotDf2zs="


def contract_header(public_key: str, private_key: str, nonce: str, timestamp: int, body: str) -> str:
    """The contract's formula, written out independently of ``pulumi_imburse.auth``."""
    body_signature = "" if body == "" else base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
    unsigned = public_key + ":" + nonce + ":" + str(timestamp) + ":" + body_signature
    digest = hmac.new(base64.b64decode(private_key), unsigned.encode("utf-8"), hashlib.sha256).digest()
    return "Hmac " + public_key + ":" + nonce + ":" + str(timestamp) + ":" + base64.b64encode(digest).decode()


@pytest.mark.parametrize(("body", "signature"), [(BODY, OPENSSL_SIGNATURE), ("", OPENSSL_SIGNATURE_EMPTY_BODY)])
def test_signer_matches_the_contract_byte_for_byte(body: str, signature: str) -> None:
    expected = f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:{signature}"
    assert contract_header(PUBLIC_KEY, PRIVATE_KEY, NONCE, TIMESTAMP, body) == expected
    for b in (body, body.encode("utf-8")):
        assert auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY, b, nonce=NONCE, timestamp=TIMESTAMP) == expected
    assert auth.body_signature(body) == (OPENSSL_BODY_SIGNATURE if body else "")


def test_the_emulator_accepts_a_header_built_from_the_contract_alone(api: Api) -> None:
    import time

    header = contract_header(api.emu.public_key, api.emu.private_key, auth.new_nonce(), int(time.time()), "")
    resp = api.exchange(header)
    assert resp.status_code == 200, resp.text
    # ... and rejects the same header with one character of the signature changed.
    tampered = header[:-10] + ("A" if header[-10] != "A" else "B") + header[-9:]
    assert api.exchange(tampered).status_code == 401
