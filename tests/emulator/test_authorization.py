"""The authorization matrix: account keys by role, tenant keys by tenant and role, context headers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.roles import ACCOUNT_ROLES

from .helpers import Api, assert_error

KEY_BODY = {"roles": ["tenant-app-read"]}


@pytest.fixture(scope="module")
def account_keys(emulator: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """One account key per account role, in the bootstrap account."""
    return {role: emulator.create_account_key([role], name=role) for role in ACCOUNT_ROLES}


Op = Callable[[Api, str, str, str], requests.Response]

# name -> (needs write, call(api, token, tenantId, publicKey))
OPERATIONS: dict[str, tuple[bool, Op]] = {
    routes.LIST_TENANTS: (False, lambda a, t, tid, pk: a.call(routes.LIST_TENANTS, t)),
    routes.GET_TENANT: (False, lambda a, t, tid, pk: a.call(routes.GET_TENANT, t, tenantId=tid)),
    routes.CREATE_TENANT: (True, lambda a, t, tid, pk: a.call(routes.CREATE_TENANT, t, json={"name": "m"})),
    routes.UPDATE_TENANT: (True, lambda a, t, tid, pk: a.call(routes.UPDATE_TENANT, t, json={"name": "m2"},
                                                              tenantId=tid)),
    routes.DELETE_TENANT: (True, lambda a, t, tid, pk: a.call(routes.DELETE_TENANT, t, tenantId=tid)),
    routes.LIST_KEYS: (False, lambda a, t, tid, pk: a.call(routes.LIST_KEYS, t, tenantId=tid)),
    routes.GET_KEY: (False, lambda a, t, tid, pk: a.call(routes.GET_KEY, t, tenantId=tid, publicKey=pk)),
    routes.CREATE_KEY: (True, lambda a, t, tid, pk: a.call(routes.CREATE_KEY, t, json=KEY_BODY, tenantId=tid)),
    routes.UPDATE_KEY: (True, lambda a, t, tid, pk: a.call(routes.UPDATE_KEY, t, json=KEY_BODY, tenantId=tid,
                                                           publicKey=pk)),
    routes.DELETE_KEY: (True, lambda a, t, tid, pk: a.call(routes.DELETE_KEY, t, tenantId=tid, publicKey=pk)),
}


def test_the_matrix_covers_every_bearer_route() -> None:
    bearer = {name for name, r in routes.DEFAULT_ROUTES.items() if r.auth == "bearer"}
    assert set(OPERATIONS) == bearer


@pytest.mark.parametrize("role", ACCOUNT_ROLES)
def test_account_key_roles(api: Api, admin: str, account_keys: dict[str, dict[str, Any]], role: str) -> None:
    key = account_keys[role]
    token = api.token(key["publicKey"], key["privateKey"])
    may_read = role in ("account-admin", "account-tenant-write", "account-tenant-read")
    may_write = role in ("account-admin", "account-tenant-write")
    for name, (write, op) in OPERATIONS.items():
        tid = api.create_tenant(admin, f"matrix-{role}")["tenantId"]
        pk = api.create_key(admin, tid, ["tenant-app-read"])["publicKey"]
        resp = op(api, token, tid, pk)
        allowed = may_write if write else may_read
        if allowed:
            assert resp.status_code in (200, 201, 204), (role, name, resp.text)
        else:
            body = assert_error(resp, 403, "MissingRole")
            assert "account-admin" in body["message"], (role, name)
        if name in (routes.DELETE_TENANT, routes.DELETE_KEY) and not allowed:
            assert api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=pk).status_code == 200  # untouched


def test_tenant_admin_key_manages_keys_in_its_own_tenant_only(api: Api, admin: str) -> None:
    own = api.create_tenant(admin, "own")["tenantId"]
    other = api.create_tenant(admin, "other")["tenantId"]
    other_pk = api.create_key(admin, other, ["tenant-app-read"])["publicKey"]
    key = api.create_key(admin, own, ["tenant-admin"])
    token = api.token(key["publicKey"], key["privateKey"])
    # Every key route in its own tenant (self-service), including minting a key that can sign.
    minted = api.call(routes.CREATE_KEY, token, json={"roles": ["tenant-app-read"]}, tenantId=own)
    assert minted.status_code == 201 and minted.json()["privateKey"]
    pk = minted.json()["publicKey"]
    assert api.token(pk, minted.json()["privateKey"])
    assert len(api.call(routes.LIST_KEYS, token, tenantId=own).json()) == 2
    assert api.call(routes.GET_KEY, token, tenantId=own, publicKey=pk).status_code == 200
    assert api.call(routes.UPDATE_KEY, token, json={"roles": ["tenant-app-write"]}, tenantId=own,
                    publicKey=pk).status_code == 200
    assert api.call(routes.DELETE_KEY, token, tenantId=own, publicKey=pk).status_code == 204
    # Another tenant: 403 on every key route, whether or not the tenant/key exists.
    for name, (_, op) in OPERATIONS.items():
        if name in (routes.LIST_KEYS, routes.GET_KEY, routes.CREATE_KEY, routes.UPDATE_KEY, routes.DELETE_KEY):
            for tid in (other, str(uuid.uuid4())):
                assert_error(op(api, token, tid, other_pk), 403, "WrongContext")
    # Account routes: 403, even for its own tenant.
    for name in (routes.LIST_TENANTS, routes.GET_TENANT, routes.CREATE_TENANT, routes.UPDATE_TENANT,
                 routes.DELETE_TENANT):
        assert_error(OPERATIONS[name][1](api, token, own, ""), 403, "WrongContext")
    assert api.call(routes.GET_TENANT, admin, tenantId=own).status_code == 200


def test_tenant_key_without_tenant_admin_cannot_manage_or_read_keys(api: Api, admin: str,
                                                                    tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    key = api.create_key(admin, tid, [r for r in ("tenant-management", "tenant-app-read", "tenant-app-write")])
    token = api.token(key["publicKey"], key["privateKey"])
    for name in (routes.LIST_KEYS, routes.GET_KEY, routes.CREATE_KEY, routes.UPDATE_KEY, routes.DELETE_KEY):
        body = assert_error(OPERATIONS[name][1](api, token, tid, key["publicKey"]), 403, "MissingRole")
        assert "tenant-admin" in body["message"]


def test_x_account_id_must_match_the_credentials(api: Api, admin: str, emulator: EmulatorProcess) -> None:
    good = {"x-account-id": emulator.account_id}
    bad = {"x-account-id": str(uuid.uuid4())}
    assert api.call(routes.LIST_TENANTS, admin, headers=good).status_code == 200
    assert api.call(routes.LIST_TENANTS, admin, headers={"x-account-id": emulator.account_id.upper()}).ok
    assert_error(api.call(routes.LIST_TENANTS, admin, headers=bad), 403, "Forbidden", "x-account-id")

    def sign() -> str:
        return hmac_authorization(emulator.public_key, emulator.private_key)

    assert api.exchange(sign(), headers=good).status_code == 200
    assert_error(api.exchange(sign(), headers=bad), 403, "Forbidden", "x-account-id")


def test_x_tenant_id_must_match_the_path(api: Api, admin: str, tenant: dict[str, Any]) -> None:
    tid = tenant["tenantId"]
    assert api.call(routes.LIST_KEYS, admin, tenantId=tid, headers={"x-tenant-id": tid}).status_code == 200
    assert_error(api.call(routes.LIST_KEYS, admin, tenantId=tid, headers={"x-tenant-id": str(uuid.uuid4())}),
                 403, "Forbidden", "x-tenant-id")


def test_another_accounts_tenant_is_not_found(api: Api, admin: str, emulator: EmulatorProcess,
                                              tenant: dict[str, Any]) -> None:
    stranger = emulator.create_account_key(["account-admin"], new_account=True)
    assert stranger["accountId"] != emulator.account_id
    token = api.token(stranger["publicKey"], stranger["privateKey"])
    tid = tenant["tenantId"]
    pk = api.create_key(admin, tid, ["tenant-app-read"])["publicKey"]
    assert api.call(routes.LIST_TENANTS, token).json() == []
    for name in (routes.GET_TENANT, routes.UPDATE_TENANT, routes.DELETE_TENANT, routes.LIST_KEYS, routes.GET_KEY,
                 routes.CREATE_KEY, routes.UPDATE_KEY, routes.DELETE_KEY):
        assert_error(OPERATIONS[name][1](api, token, tid, pk), 404, "NotFound", "tenantId")
    assert api.call(routes.GET_KEY, admin, tenantId=tid, publicKey=pk).status_code == 200
    # Its own tenants belong to its own account.
    own = api.create_tenant(token, "stranger's")
    assert own["accountId"] == stranger["accountId"]
