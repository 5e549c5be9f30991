"""The console script as a process: credentials file, restart persistence, clean stop, legacy routes."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api


def test_credentials_file(emulator: EmulatorProcess) -> None:
    path = emulator.credentials_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(data) == {"baseUrl", "accountId", "publicKey", "privateKey"}
    assert data == emulator.credentials
    port = int(data["baseUrl"].rsplit(":", 1)[1])
    assert data["baseUrl"] == f"http://127.0.0.1:{port}" and port > 0  # the real port, not 0
    assert emulator.private_key not in repr(emulator) and emulator.private_key not in str(emulator)


def test_restart_keeps_everything(tmp_path: Path) -> None:
    db, creds_file = tmp_path / "state.db", tmp_path / "creds.json"
    with EmulatorProcess(db, creds_file) as emu:
        api = Api(emu)
        first_contents = creds_file.read_bytes()
        admin = api.admin_token()
        tenant = api.create_tenant(admin, "persistent", country="GB")
        key = api.create_key(admin, tenant["tenantId"], ["tenant-admin"], "kept")
        tenant_token = api.token(key["publicKey"], key["privateKey"])

        assert emu.restart() is emu
        assert creds_file.read_bytes() == first_contents  # same account, key, port
        api.session.close()
        api = Api(emu)
        assert api.call(routes.GET_TENANT, admin, tenantId=tenant["tenantId"]).json() == tenant  # token survives
        got = api.call(routes.GET_KEY, admin, tenantId=tenant["tenantId"], publicKey=key["publicKey"]).json()
        assert got == {k: v for k, v in key.items() if k != "privateKey"}
        assert api.call(routes.LIST_KEYS, tenant_token, tenantId=tenant["tenantId"]).status_code == 200
        # The created key's private key still authenticates after the restart.
        assert api.token(key["publicKey"], key["privateKey"])
        assert emu.stop() == 0  # SIGTERM: a clean exit
    assert not emu.running


def test_legacy_route_table(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "legacy.db", tmp_path / "creds.json", routes="legacy") as emu:
        token = requests.post(emu.base_url + routes.LEGACY_ROUTES[routes.ACCESS_TOKEN].path, timeout=10,
                              headers={"Authorization": hmac_authorization(emu.public_key, emu.private_key)}
                              ).json()["accessToken"]
        h = {"Authorization": f"Bearer {token}"}
        tid = requests.post(emu.base_url + routes.LEGACY_ROUTES[routes.CREATE_TENANT].path, json={"name": "old"},
                            headers=h, timeout=10).json()["tenantId"]
        legacy = routes.LEGACY_ROUTES[routes.CREATE_KEY].format(tenantId=tid)
        assert legacy.startswith("/management/v1/tenant/")
        assert requests.post(emu.base_url + legacy, json={"roles": ["tenant-admin"]}, headers=h,
                             timeout=10).status_code == 201
        current = routes.DEFAULT_ROUTES[routes.CREATE_KEY].format(tenantId=tid)
        assert requests.post(emu.base_url + current, json={"roles": ["tenant-admin"]}, headers=h,
                             timeout=10).status_code == 404
        assert set(emu.stats()["requests"]) == {routes.LEGACY_ROUTES[n].template
                                                for n in (routes.ACCESS_TOKEN, routes.CREATE_TENANT, routes.CREATE_KEY)}
