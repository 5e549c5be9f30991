"""The test-only key-age control: ``POST /_emulator/keys/age`` makes a tenant key older, as every reader sees it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from pulumi_imburse import routes
from pulumi_imburse.emulator.process import EmulatorError, EmulatorProcess

from .helpers import Api, assert_error

AGE_PATH = "/_emulator/keys/age"
MISSING = "7d0c6b7e-3333-4000-8000-000000000000"


def _created(key: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(key["createdAt"]).replace("Z", "+00:00"))


def test_aging_a_key_moves_its_created_at_back_and_nothing_else(api: Api, admin: str, emulator: EmulatorProcess,
                                                                 tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    key = api.create_key(admin, tid, ["tenant-app-read"], "to-age")
    aged = emulator.age_key(tid, key["publicKey"], 91)
    assert _created(key) - _created(aged) == dt.timedelta(days=91)
    # Every reader of the API sees the new age; the key is otherwise the same and still authenticates.
    read = api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=key["publicKey"]).json()
    assert read == aged
    assert {k: v for k, v in read.items() if k != "createdAt"} == {
        k: v for k, v in key.items() if k not in ("createdAt", "privateKey")}
    api.token(key["publicKey"], key["privateKey"])
    # Aging adds up, and fractions of a day are allowed.
    again = emulator.age_key(tid, key["publicKey"], 0.5)
    assert _created(key) - _created(again) == dt.timedelta(days=91.5)


@pytest.mark.parametrize(("change", "field"), [
    ({"days": -1}, "days"),
    ({"days": "91"}, "days"),
    ({"days": True}, "days"),
    ({"days": None}, "days"),
    ({"tenantId": "not-a-guid"}, "tenantId"),
    ({"publicKey": None}, "publicKey"),
    ({"age": 3}, "age"),
])
def test_bad_input_is_a_400_naming_the_field(api: Api, admin: str, tenant: dict[str, Any],
                                             change: dict[str, Any], field: str) -> None:
    tid = tenant["tenantId"]
    key = api.create_key(admin, tid, ["tenant-app-read"])
    body = {"tenantId": tid, "publicKey": key["publicKey"], "days": 10, **change}
    body = {k: v for k, v in body.items() if not (k == "publicKey" and v is None)}
    resp = api.session.post(api.base_url + AGE_PATH, json=body, timeout=10)
    assert_error(resp, 400, "ValidationError", field)
    # Nothing moved.
    assert api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=key["publicKey"]).json()["createdAt"] == \
        key["createdAt"]


def test_a_body_that_is_not_an_object_is_a_400(api: Api) -> None:
    resp = api.session.post(api.base_url + AGE_PATH, json=[1], timeout=10)
    assert_error(resp, 400, "ValidationError")


def test_an_unknown_key_is_a_404_naming_it(api: Api, admin: str, emulator: EmulatorProcess,
                                           tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    resp = api.session.post(api.base_url + AGE_PATH, json={"tenantId": tid, "publicKey": MISSING, "days": 1},
                            timeout=10)
    body = assert_error(resp, 404, "NotFound", "publicKey")
    assert MISSING in body["message"] and tid in body["message"]
    # A key of another tenant is unknown in this one.
    other = api.create_tenant(admin, "other tenant")
    elsewhere = api.create_key(admin, other["tenantId"], ["tenant-app-read"])
    with pytest.raises(EmulatorError, match="HTTP 404"):
        emulator.age_key(tid, elsewhere["publicKey"], 1)
    api.call(routes.DELETE_TENANT, admin, tenantId=other["tenantId"])
