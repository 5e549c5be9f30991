"""Every way authentication fails: HMAC (signature, window, nonce, key, format) and bearer tokens."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization, new_nonce, new_private_key
from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api, assert_error

WINDOW = 300


def sign(api: Api, **kw: Any) -> str:
    return hmac_authorization(api.emu.public_key, api.emu.private_key, **kw)


def test_bad_signature(api: Api) -> None:
    header = hmac_authorization(api.emu.public_key, new_private_key())
    assert_error(api.exchange(header), 401, "InvalidSignature", secrets=(header.rsplit(":", 1)[1],))


def test_signature_covers_the_body(api: Api) -> None:
    header = sign(api, body=b'{"a":1}')
    assert_error(api.exchange(header, data=b'{"a":2}'), 401, "InvalidSignature")
    assert api.exchange(sign(api, body=b'{"a":1}'), data=b'{"a":1}').status_code == 200


@pytest.mark.parametrize(("offset", "code"), [(-(WINDOW + 100), "TimestampExpired"),
                                              (WINDOW + 100, "TimestampInFuture")])
def test_timestamp_outside_the_five_minute_window(api: Api, offset: int, code: str) -> None:
    body = assert_error(api.exchange(sign(api, timestamp=int(time.time()) + offset)), 401, code)
    assert "5 minutes" in body["message"]


@pytest.mark.parametrize("offset", [-(WINDOW - 30), WINDOW - 30])
def test_timestamp_inside_the_window_is_accepted(api: Api, offset: int) -> None:
    assert api.exchange(sign(api, timestamp=int(time.time()) + offset)).status_code == 200


def test_replayed_nonce(api: Api) -> None:
    header = sign(api)
    assert api.exchange(header).status_code == 200
    assert_error(api.exchange(header), 401, "NonceReused")
    # The same nonce is refused even in a freshly signed header.
    nonce = header.split(":")[1]
    assert_error(api.exchange(sign(api, nonce=nonce)), 401, "NonceReused")


def test_unknown_key(api: Api) -> None:
    assert_error(api.exchange(hmac_authorization(str(uuid.uuid4()), new_private_key())), 401, "UnknownKey")


@pytest.mark.parametrize(("header", "code"), [
    (None, "MissingAuthorization"),
    ("", "MissingAuthorization"),
    ("Hmac", "MalformedAuthorization"),
    ("Hmac abc:def", "MalformedAuthorization"),
    ("Hmac a:b:notanumber:sig", "MalformedAuthorization"),
    ("Basic dXNlcjpwYXNz", "MalformedAuthorization"),
    ("Bearer abc.def.ghi", "MalformedAuthorization"),
])
def test_malformed_hmac_header(api: Api, header: str | None, code: str) -> None:
    body = assert_error(api.exchange(header), 401, code)
    if header and " " in header:
        assert header.split(" ", 1)[1] not in body["message"]  # never echoed


def test_scheme_word_is_case_insensitive(api: Api) -> None:
    header = sign(api)
    assert api.exchange("HMAC" + header[len("Hmac"):]).status_code == 200


@pytest.mark.parametrize("make", ["bad_signature", "stale", "fault"])
def test_a_rejected_request_does_not_burn_its_nonce(api: Api, emulator: EmulatorProcess, make: str) -> None:
    nonce = new_nonce()
    if make == "bad_signature":
        bad = hmac_authorization(api.emu.public_key, new_private_key(), nonce=nonce)
        assert_error(api.exchange(bad), 401, "InvalidSignature")
    elif make == "stale":
        assert_error(api.exchange(sign(api, nonce=nonce, timestamp=int(time.time()) - WINDOW - 100)), 401,
                     "TimestampExpired")
    else:
        emulator.set_faults(errorRate=1, errorStatuses=[503])
        assert api.exchange(sign(api, nonce=nonce)).status_code == 503
        emulator.clear_faults()
    assert api.exchange(sign(api, nonce=nonce)).status_code == 200


# ---------------------------------------------------------------------- bearer


@pytest.mark.parametrize(("header", "code"), [
    (None, "MissingAuthorization"),
    ("Bearer", "MalformedAuthorization"),
    ("Token abc", "MalformedAuthorization"),
    ("Bearer not-a-jwt", "InvalidToken"),
])
def test_malformed_bearer(api: Api, header: str | None, code: str) -> None:
    headers = {"Authorization": header} if header is not None else {}
    assert_error(api.call(routes.LIST_TENANTS, None, headers=headers), 401, code)


def test_hmac_header_on_a_bearer_route(api: Api) -> None:
    header = sign(api)
    assert_error(api.call(routes.LIST_TENANTS, None, headers={"Authorization": header}), 401,
                 "MalformedAuthorization", secrets=(header,))


def test_token_signed_by_someone_else(api: Api, admin: str) -> None:
    claims = jwt.decode(admin, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-emulator-secret-but-long-enough-for-hs256", algorithm="HS256")
    assert_error(api.call(routes.LIST_TENANTS, forged), 401, "InvalidToken", secrets=(forged,))
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert_error(api.call(routes.LIST_TENANTS, unsigned), 401, "InvalidToken")


def test_expired_bearer_via_the_emulator_clock(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    assert api.call(routes.LIST_TENANTS, admin).status_code == 200
    emulator.advance_clock(3600 - 60)
    assert api.call(routes.LIST_TENANTS, admin).status_code == 200  # not yet
    emulator.advance_clock(61)
    assert_error(api.call(routes.LIST_TENANTS, admin), 401, "TokenExpired", secrets=(admin,))
    # The HMAC window follows the real clock, so a client can still get a new token ...
    fresh = api.admin_token()
    # ... whose expiry is on the emulated clock.
    assert api.call(routes.LIST_TENANTS, fresh).status_code == 200


def test_revoked_bearer_after_the_key_is_deleted(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    key = api.create_key(admin, tid, ["tenant-admin"])
    token = api.token(key["publicKey"], key["privateKey"])
    assert api.call(routes.LIST_KEYS, token, tenantId=tid).status_code == 200
    assert api.call(routes.DELETE_KEY, admin, tenantId=tid, publicKey=key["publicKey"]).status_code == 204
    assert_error(api.call(routes.LIST_KEYS, token, tenantId=tid), 401, "TokenRevoked", secrets=(token,))
    assert_error(api.exchange(hmac_authorization(key["publicKey"], key["privateKey"])), 401, "UnknownKey")


def test_bearer_of_a_deleted_tenants_key(api: Api, admin: str) -> None:
    tid = api.create_tenant(admin, "short-lived")["tenantId"]
    key = api.create_key(admin, tid, ["tenant-admin"])
    token = api.token(key["publicKey"], key["privateKey"])
    assert api.call(routes.GET_KEY, token, tenantId=tid, publicKey=key["publicKey"]).status_code == 200
    assert api.call(routes.DELETE_TENANT, admin, tenantId=tid).status_code == 204
    assert_error(api.call(routes.GET_KEY, token, tenantId=tid, publicKey=key["publicKey"]), 401, "TokenRevoked")


def test_roles_are_read_from_current_state(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    key = api.create_key(admin, tid, ["tenant-admin"])
    token = api.token(key["publicKey"], key["privateKey"])
    assert api.call(routes.LIST_KEYS, token, tenantId=tid).status_code == 200
    api.call(routes.UPDATE_KEY, admin, json={"roles": ["tenant-app-read"]}, tenantId=tid, publicKey=key["publicKey"])
    assert_error(api.call(routes.LIST_KEYS, token, tenantId=tid), 403, "MissingRole")
