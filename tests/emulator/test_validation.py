"""Malformed requests answer 400 with a message (and ``field``) naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_imburse import routes
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.validation import NAME_MAX_LENGTH

from .helpers import Api, assert_error

LONG = "x" * (NAME_MAX_LENGTH + 1)


@pytest.mark.parametrize(("body", "field", "needle"), [
    ({}, "name", "required"),
    ({"name": None}, "name", "required"),
    ({"name": ""}, "name", "empty"),
    ({"name": "   "}, "name", "empty"),
    ({"name": LONG}, "name", f"at most {NAME_MAX_LENGTH}"),
    ({"name": 7}, "name", "string"),
    ({"name": "ok", "country": 44}, "country", "string"),
    ({"name": "ok", "address": {"country": "GB"}}, "address", "not a property"),
    ({"name": "ok", "tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe7"}, "tenantId", "not a property"),
])
@pytest.mark.parametrize("route", [routes.CREATE_TENANT, routes.UPDATE_TENANT])
def test_tenant_body(api: Api, admin: str, tenant: dict[str, Any], route: str, body: dict[str, Any], field: str,
                     needle: str) -> None:
    params = {"tenantId": tenant["tenantId"]} if route == routes.UPDATE_TENANT else {}
    resp = api.call(route, admin, json=body, **params)
    assert needle in assert_error(resp, 400, "ValidationError", field)["message"]


@pytest.mark.parametrize(("body", "field", "needle"), [
    ({}, "roles", "non-empty list"),
    ({"roles": []}, "roles", "non-empty list"),
    ({"roles": "tenant-admin"}, "roles", "non-empty list"),
    ({"roles": ["tenant-owner"]}, "roles", "not a tenant role"),
    ({"roles": ["account-admin"]}, "roles", "account role"),
    ({"roles": ["tenant-admin", 3]}, "roles", "must be a string"),
    ({"roles": ["t.sup.a"]}, "roles", "not a tenant role"),
    ({"roles": ["tenant-admin"], "name": LONG}, "name", f"at most {NAME_MAX_LENGTH}"),
    ({"roles": ["tenant-admin"], "name": ""}, "name", "empty"),
    ({"roles": ["tenant-admin"], "privateKey": "AGHYR1aWYgHgyjhJLkVCd7b8XfAVeA4tuFwCQl3X64Y="}, "privateKey",
     "not a property"),
])
@pytest.mark.parametrize("route", [routes.CREATE_KEY, routes.UPDATE_KEY])
def test_key_body(api: Api, admin: str, tenant: dict[str, Any], route: str, body: dict[str, Any], field: str,
                  needle: str) -> None:
    tid = tenant["tenantId"]
    params = {"tenantId": tid}
    if route == routes.UPDATE_KEY:
        params["publicKey"] = api.create_key(admin, tid, ["tenant-app-read"])["publicKey"]
    body_ = assert_error(api.call(route, admin, json=body, **params), 400, "ValidationError", field)
    assert needle in body_["message"]
    if field == "roles":
        assert "tenant-app-read" in body_["message"]  # the allowed values are listed
    if route == routes.CREATE_KEY:
        assert api.call(routes.LIST_KEYS, admin, tenantId=tid).json() == []  # nothing was created


@pytest.mark.parametrize(("raw", "needle"), [
    (b"", "JSON object"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"name"', "JSON object"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_body_that_is_not_a_json_object(api: Api, admin: str, raw: bytes, needle: str) -> None:
    resp = api.call(routes.CREATE_TENANT, admin, data=raw, headers={"Content-Type": "application/json"})
    assert needle in assert_error(resp, 400, "ValidationError")["message"]


@pytest.mark.parametrize(("name", "params", "field"), [
    (routes.GET_TENANT, {"tenantId": "not-a-guid"}, "tenantId"),
    (routes.DELETE_TENANT, {"tenantId": "123"}, "tenantId"),
    (routes.LIST_KEYS, {"tenantId": "88fdb12a-14dc-419c-b74c-422e2c25cfe"}, "tenantId"),
    (routes.GET_KEY, {"tenantId": "TENANT", "publicKey": "88fdb12a-14dc-419c-b74c-422e2c25cfe7"}, "tenantId"),
])
def test_malformed_guid_in_path(api: Api, admin: str, name: str, params: dict[str, str], field: str) -> None:
    resp = api.call(name, admin, tenantId=params["tenantId"], publicKey=params.get("publicKey", ""))
    assert "GUID" in assert_error(resp, 400, "ValidationError", field)["message"]


def test_malformed_public_key_in_path(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    resp = api.call(routes.DELETE_KEY, admin, tenantId=tenant["tenantId"], publicKey="my-key")
    assert "GUID" in assert_error(resp, 400, "ValidationError", "publicKey")["message"]


@pytest.mark.parametrize(("config", "field"), [
    ({"errorRate": 1.5}, "errorRate"),
    ({"errorRate": "half"}, "errorRate"),
    ({"ambiguousRate": -0.1}, "ambiguousRate"),
    ({"errorStatuses": [200]}, "errorStatuses"),
    ({"errorStatuses": []}, "errorStatuses"),
    ({"errorStatuses": 503}, "errorStatuses"),
    ({"retryAfterSeconds": -1}, "retryAfterSeconds"),
    ({"retryAfterSeconds": 1.5}, "retryAfterSeconds"),
    ({"latencyMs": -5}, "latencyMs"),
    ({"latencyMs": True}, "latencyMs"),
    ({"seed": "abc"}, "seed"),
    ({"chaos": 1}, "chaos"),
])
def test_fault_configuration_is_validated(api: Api, emulator: EmulatorProcess, config: dict[str, Any],
                                          field: str) -> None:
    before = emulator.faults()
    resp = api.session.post(api.base_url + "/_emulator/faults", json=config, timeout=10)
    assert_error(resp, 400, "ValidationError", field)
    assert emulator.faults() == before  # a rejected configuration changes nothing


@pytest.mark.parametrize("body", [{"advanceSeconds": -1}, {"advanceSeconds": "1"}, {"seconds": 1}])
def test_clock_control_is_validated(api: Api, body: dict[str, Any]) -> None:
    assert_error(api.session.post(api.base_url + "/_emulator/clock", json=body, timeout=10), 400,
                 "ValidationError", "advanceSeconds")
