"""Every route of the contract, happy paths and response shapes; stats; the OpenAPI document."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import pytest

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.models import ADDRESS_FIELDS
from pulumi_imburse.roles import TENANT_ROLES

from .helpers import Api, R, assert_error

TENANT_KEYS = {"tenantId", "accountId", "name", "address"}
KEY_KEYS = {"accountId", "tenantId", "name", "publicKey", "roles", "createdAt"}


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def test_access_token_shape_and_claims(api: Api) -> None:
    before = time.time()
    resp = api.exchange(hmac_authorization(api.emu.public_key, api.emu.private_key))
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"accessToken", "expires"}
    assert isinstance(body["expires"], str) and body["expires"].isdigit()
    expires = int(body["expires"]) / 1000
    assert before + 3600 - 5 <= expires <= time.time() + 3600 + 5  # default --token-ttl
    claims = jwt_claims(body["accessToken"])
    assert claims["sub"] == api.emu.public_key and claims["account"] == api.emu.account_id
    assert claims["tenant"] is None and claims["exp"] - claims["iat"] == 3600 and claims["jti"]


def test_tenant_lifecycle(api: Api, admin: str) -> None:
    created = api.create_tenant(admin, "Acme", streetAddress="1 High St", locality="Leeds", country="GB")
    assert set(created) == TENANT_KEYS and set(created["address"]) == set(ADDRESS_FIELDS)
    assert uuid.UUID(created["tenantId"]) and created["accountId"] == api.emu.account_id
    assert created["name"] == "Acme"
    assert created["address"] == {"streetAddress": "1 High St", "extendedStreetAddress": "", "locality": "Leeds",
                                  "region": "", "postCode": "", "country": "GB"}
    tid = created["tenantId"]

    got = api.call(routes.GET_TENANT, admin, tenantId=tid)
    assert got.status_code == 200 and got.json() == created

    listed = api.call(routes.LIST_TENANTS, admin)
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    assert created in listed.json()

    # PUT replaces: omitted address fields become empty.
    updated = api.call(routes.UPDATE_TENANT, admin, json={"name": "Acme Two", "country": "IE"}, tenantId=tid)
    assert updated.status_code == 200
    assert updated.json()["name"] == "Acme Two"
    assert updated.json()["address"] == {**{f: "" for f in ADDRESS_FIELDS}, "country": "IE"}
    assert api.call(routes.GET_TENANT, admin, tenantId=tid).json() == updated.json()

    deleted = api.call(routes.DELETE_TENANT, admin, tenantId=tid)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(api.call(routes.GET_TENANT, admin, tenantId=tid), 404, "NotFound", "tenantId")
    assert_error(api.call(routes.DELETE_TENANT, admin, tenantId=tid), 404, "NotFound")
    assert created not in api.call(routes.LIST_TENANTS, admin).json()


def test_key_lifecycle_private_key_only_on_create(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    created = api.create_key(admin, tid, ["tenant-app-write", "tenant-app-read", "tenant-app-read"])
    assert set(created) == KEY_KEYS | {"privateKey"}
    assert created["name"] == "API Key"  # the server's default
    assert created["roles"] == ["tenant-app-read", "tenant-app-write"]  # sorted, de-duplicated
    assert created["tenantId"] == tid and created["accountId"] == api.emu.account_id
    assert uuid.UUID(created["publicKey"])
    assert len(base64.b64decode(created["privateKey"], validate=True)) == 32
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created["createdAt"])
    pub = created["publicKey"]
    public_view = {k: v for k, v in created.items() if k != "privateKey"}

    got = api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=pub)
    assert got.status_code == 200 and got.json() == public_view and "privateKey" not in got.text

    named = api.create_key(admin, tid, ["tenant-admin"], "Admin Key")
    listed = api.call(routes.LIST_KEYS, admin, tenantId=tid)
    assert listed.status_code == 200
    assert [k["publicKey"] for k in listed.json()] == [pub, named["publicKey"]]  # oldest first
    assert all(set(k) == KEY_KEYS for k in listed.json())
    assert created["privateKey"] not in listed.text and named["privateKey"] not in listed.text

    upd = api.call(routes.UPDATE_KEY, admin, json={"name": "ci", "roles": ["tenant-transaction-read"]},
                   tenantId=tid, publicKey=pub)
    assert upd.status_code == 200 and set(upd.json()) == KEY_KEYS
    assert (upd.json()["name"], upd.json()["roles"]) == ("ci", ["tenant-transaction-read"])
    # Without a name, an update keeps the current one.
    upd2 = api.call(routes.UPDATE_KEY, admin, json={"roles": ["tenant-app-read"]}, tenantId=tid, publicKey=pub)
    assert (upd2.json()["name"], upd2.json()["roles"]) == ("ci", ["tenant-app-read"])
    assert upd2.json()["createdAt"] == created["createdAt"]

    # The private key survives updates: it still signs.
    assert api.token(pub, created["privateKey"])

    deleted = api.call(routes.DELETE_KEY, admin, tenantId=tid, publicKey=pub)
    assert deleted.status_code == 204
    assert_error(api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=pub), 404, "NotFound", "publicKey")
    assert_error(api.call(routes.DELETE_KEY, admin, tenantId=tid, publicKey=pub), 404, "NotFound", "publicKey")
    assert [k["publicKey"] for k in api.call(routes.LIST_KEYS, admin, tenantId=tid).json()] == [named["publicKey"]]


def test_created_key_authenticates_with_tenant_context(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    key = api.create_key(admin, tenant["tenantId"], ["tenant-admin"])
    token = api.token(key["publicKey"], key["privateKey"])
    claims = jwt_claims(token)
    assert (claims["sub"], claims["account"], claims["tenant"]) == (key["publicKey"], api.emu.account_id,
                                                                     tenant["tenantId"])


def test_deleting_a_tenant_deletes_its_keys(api: Api, admin: str) -> None:
    tid = api.create_tenant(admin, "doomed")["tenantId"]
    key = api.create_key(admin, tid, ["tenant-app-read"])
    assert api.call(routes.DELETE_TENANT, admin, tenantId=tid).status_code == 204
    assert_error(api.call(routes.LIST_KEYS, admin, tenantId=tid), 404, "NotFound", "tenantId")
    assert_error(api.exchange(hmac_authorization(key["publicKey"], key["privateKey"])), 401, "UnknownKey")


def test_guids_in_paths_are_case_insensitive(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    resp = api.call(routes.GET_TENANT, admin, tenantId=tenant["tenantId"].upper())
    assert resp.status_code == 200 and resp.json()["tenantId"] == tenant["tenantId"]


def test_stats_count_every_api_request_by_route_template(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    emulator.reset_stats()
    assert emulator.stats() == {"requests": {}, "inFlight": {"now": 0, "peak": 0}, "throttled": 0,
                                "throttledByAccount": {}, "window": {"first": None, "last": None},
                                "retries": {"count": 0, "minGapMs": None}}
    tid = api.create_tenant(admin, "counted")["tenantId"]
    api.call(routes.GET_TENANT, admin, tenantId=tid)
    api.call(routes.GET_TENANT, admin, tenantId=str(uuid.uuid4()))  # a 404 counts too
    api.call(routes.LIST_KEYS, None, tenantId=tid)  # and a 401
    emulator.set_faults(errorRate=1, errorStatuses=[503])
    api.call(routes.LIST_TENANTS, admin)  # and a faulted one
    emulator.clear_faults()
    emulator.faults()  # controls are not API requests
    stats = emulator.stats()
    assert {k: stats[k] for k in ("requests", "inFlight")} == {"requests": {
        R[routes.CREATE_TENANT].template: 1,
        R[routes.GET_TENANT].template: 2,
        R[routes.LIST_KEYS].template: 1,
        R[routes.LIST_TENANTS].template: 1,
    }, "inFlight": {"now": 0, "peak": 1}}  # one at a time, all answered
    assert stats["throttled"] == 0 and stats["window"]["first"] <= stats["window"]["last"]
    assert R[routes.GET_TENANT].template == "GET /v1/account/tenants/{tenantId}"


def test_unknown_route_and_method_answer_json_errors(api: Api) -> None:
    assert_error(api.session.get(api.base_url + "/v1/nothing-here", timeout=10), 404, "NotFound")
    resp = api.session.patch(api.base_url + R[routes.LIST_TENANTS].path, timeout=10)
    assert_error(resp, 405, "MethodNotAllowed")
    assert resp.headers["Allow"] == "GET, HEAD, POST"  # every method on the path, not just the first route's


def test_openapi_lists_every_route_of_the_table(api: Api) -> None:
    resp = api.session.get(api.base_url + "/openapi.json", timeout=10)
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"].startswith("3.")
    ops = {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}
    assert set(ops) == {(r.method, r.path) for r in R.values()}
    assert not any(p.startswith("/_emulator") for p in doc["paths"])
    for route in R.values():
        op = ops[(route.method, route.path)]
        assert op["operationId"] == route.name and op["summary"] == route.summary
        assert op["security"] == ([{"Hmac": []}] if route.auth == "hmac" else [{"Bearer": []}])
        path_params = {p["name"]: p for p in op["parameters"] if p["in"] == "path"}
        assert set(path_params) == set(re.findall(r"{(\w+)}", route.path))
        assert all(p["schema"]["format"] == "uuid" and p["required"] for p in path_params.values())
        assert "401" in op["responses"]
    schemas = doc["components"]["schemas"]
    assert schemas["TenantRole"]["enum"] == list(TENANT_ROLES)
    assert schemas["ApiKeyInput"]["additionalProperties"] is False
    assert schemas["TenantInput"]["additionalProperties"] is False
    assert set(schemas["TenantInput"]["properties"]) == {"name", *ADDRESS_FIELDS}
    assert "privateKey" in schemas["ApiKeyCreated"]["required"] and "privateKey" not in schemas["ApiKey"]["properties"]
    assert set(doc["components"]["securitySchemes"]) == {"Hmac", "Bearer"}
    create_key = ops[("POST", R[routes.CREATE_KEY].path)]
    assert create_key["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("ApiKeyCreated")


def test_a_route_without_a_handler_fails_at_startup(tmp_path: Any) -> None:
    from pulumi_imburse.emulator.models import Backend
    from pulumi_imburse.emulator.urls import create_app

    table = {**R, "rotate_key": routes.Route("rotate_key", "POST", "/v1/tenant/{tenantId}/keys/{publicKey}/rotate")}
    backend = Backend(tmp_path / "db")
    with pytest.raises(LookupError, match="rotate_key"):
        create_app(backend, routes=table)
    backend.close()
