"""The HMAC rules of ``pulumi_imburse.auth``: the contract's signature, the header's form, and its parsing.

Known answers are the ones tests/emulator/test_hmac_signature.py pins with ``openssl dgst``.
"""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_imburse import auth

pytestmark = pytest.mark.unit

PUBLIC_KEY = "a123456b-c12c-123d-1ab4-18bd8c8e88a3"
PRIVATE_KEY = "AGHYR1aWYgHgyjhJLkVCd7b8XfAVeA4tuFwCQl3X64Y="
NONCE = "b2tWb3BFa1dRZz"
TIMESTAMP = "1558000000"
BODY = '{"name":"Admin Key","roles":["tenant-admin"]}'
OPENSSL_BODY_SIGNATURE = "gJLOn5cSe0DIJ8o046kPIsZmQ8PSZ0vPv6ciSMeX50M="
OPENSSL_SIGNATURE = "UuZ+6yplZwAGPx3P3WMgX87BpCgH67ZO50VQmHgPzQ4="
OPENSSL_SIGNATURE_EMPTY_BODY = "EG+Eajzwmr+5nLMyxYu4FLZqRWP4Lh09fVwWotDf2zs="


@pytest.mark.parametrize("body", [None, "", b""])
def test_an_empty_body_has_an_empty_body_signature(body: str | bytes | None) -> None:
    assert auth.body_signature(body) == ""
    assert auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE, TIMESTAMP, body) == OPENSSL_SIGNATURE_EMPTY_BODY


@pytest.mark.parametrize("body", [BODY, BODY.encode()])
def test_the_signature_matches_openssl_for_text_and_bytes(body: str | bytes) -> None:
    assert auth.body_signature(body) == OPENSSL_BODY_SIGNATURE
    assert auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE, TIMESTAMP, body) == OPENSSL_SIGNATURE


def test_every_part_of_the_request_changes_the_signature() -> None:
    base = auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE, TIMESTAMP, BODY)
    other_key = base64.b64encode(b"\x01" * 32).decode()
    variants = [
        auth.compute_signature("b" + PUBLIC_KEY[1:], PRIVATE_KEY, NONCE, TIMESTAMP, BODY),
        auth.compute_signature(PUBLIC_KEY, other_key, NONCE, TIMESTAMP, BODY),
        auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE + "x", TIMESTAMP, BODY),
        auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE, "1558000001", BODY),
        auth.compute_signature(PUBLIC_KEY, PRIVATE_KEY, NONCE, TIMESTAMP, BODY + " "),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_a_private_key_that_is_not_base64_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not valid base64") as caught:
        auth.compute_signature(PUBLIC_KEY, "not*base64!", NONCE, TIMESTAMP, BODY)
    assert "not*base64!" not in str(caught.value)


def test_the_header_has_the_contracts_form() -> None:
    header = auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY, BODY, nonce=NONCE, timestamp=int(TIMESTAMP))
    assert header == f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:{OPENSSL_SIGNATURE}"
    assert auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY, nonce=NONCE, timestamp=TIMESTAMP).endswith(
        f":{OPENSSL_SIGNATURE_EMPTY_BODY}")


def test_defaults_are_a_fresh_nonce_and_the_current_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth.time, "time", lambda: 1700000000.9)
    first = auth.parse_hmac_authorization(auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY))
    second = auth.parse_hmac_authorization(auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY))
    assert first.timestamp == second.timestamp == "1700000000"
    assert first.nonce != second.nonce
    assert len(first.nonce) == auth.NONCE_LENGTH and set(first.nonce) <= set(string.ascii_letters + string.digits)


@given(st.binary(max_size=256), st.sampled_from(["Hmac", "HMAC", "hmac"]))
def test_a_header_parses_back_into_its_parts_and_verifies(body: bytes, scheme: str) -> None:
    header = auth.hmac_authorization(PUBLIC_KEY, PRIVATE_KEY, body, nonce=NONCE, timestamp=TIMESTAMP)
    creds = auth.parse_hmac_authorization(scheme + header[len("Hmac"):])
    assert (creds.public_key, creds.nonce, creds.timestamp) == (PUBLIC_KEY, NONCE, TIMESTAMP)
    assert auth.verify_signature(creds, PRIVATE_KEY, body)
    assert not auth.verify_signature(creds, PRIVATE_KEY, body + b"x")
    assert not auth.verify_signature(creds, base64.b64encode(b"\x02" * 32).decode(), body)


@pytest.mark.parametrize(("header", "message"), [
    (f"Bearer {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:sig", "scheme is not Hmac"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}", "the form publicKey:nonce:timestamp:signature"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:sig:extra", "the form publicKey:nonce:timestamp:signature"),
    (f"Hmac {PUBLIC_KEY}::{TIMESTAMP}:sig", "the form publicKey:nonce:timestamp:signature"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:\u00b2:sig", "ASCII text"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:12a4:sig", "whole seconds"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:{'1' * 13}:sig", "at most 12"),
])
def test_a_malformed_header_is_refused_naming_what_is_wrong(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        auth.parse_hmac_authorization(header)


def test_a_twelve_digit_timestamp_and_surrounding_space_are_accepted() -> None:
    creds = auth.parse_hmac_authorization(f"  Hmac   {PUBLIC_KEY}:{NONCE}:{'9' * 12}:sig  ")
    assert creds == auth.HmacCredentials(PUBLIC_KEY, NONCE, "9" * 12, "sig")


def test_a_new_private_key_is_base64_of_32_random_bytes() -> None:
    keys = {auth.new_private_key() for _ in range(8)}
    assert len(keys) == 8 and all(len(base64.b64decode(k, validate=True)) == 32 for k in keys)


@pytest.mark.parametrize("private_key", [PRIVATE_KEY[:20] + " " + PRIVATE_KEY[20:], PRIVATE_KEY[:20] + "\n" +
                                         PRIVATE_KEY[20:], "*" + PRIVATE_KEY, "not base64"])
def test_a_private_key_with_characters_outside_base64_signs_nothing(private_key: str) -> None:
    # A lenient decoder would drop the stray characters and sign with some key all the same.
    with pytest.raises(ValueError) as caught:
        auth.compute_signature(PUBLIC_KEY, private_key, NONCE, TIMESTAMP, BODY)
    assert str(caught.value) == "the private key is not valid base64"


@pytest.mark.parametrize(("header", "message"), [
    (f"Bearer {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:sig", "the Authorization scheme is not Hmac"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}:sïg",
     "an Hmac Authorization header is ASCII text: publicKey:nonce:timestamp:signature"),
    (f"Hmac {PUBLIC_KEY}:{NONCE}:{TIMESTAMP}",
     "an Hmac Authorization header has the form publicKey:nonce:timestamp:signature"),
    (f"Hmac {PUBLIC_KEY}::{TIMESTAMP}:sig",
     "an Hmac Authorization header has the form publicKey:nonce:timestamp:signature"),
])
def test_a_malformed_header_is_refused_saying_what_is_wrong(header: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        auth.parse_hmac_authorization(header)
    assert str(caught.value) == message
