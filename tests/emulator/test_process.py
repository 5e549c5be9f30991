"""The console script as a process: credentials file, the line it prints on start, what it says without its
extra, restart persistence, clean stop, legacy routes."""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorError, EmulatorProcess

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


CONSOLE_SCRIPT = Path(sys.executable).with_name("imburse-emulator")
REPO = Path(__file__).resolve().parents[2]


def _first_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The first line the process writes to stderr (bounded wait)."""
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, f"nothing on stderr within {timeout} s"
    return proc.stderr.readline()


def test_prints_the_url_it_serves_and_no_secret(tmp_path: Path) -> None:
    db, creds = tmp_path / "e.db", tmp_path / "creds.json"
    proc = subprocess.Popen([str(CONSOLE_SCRIPT), "serve", "--port", "0", "--db", str(db), "--credentials-file",
                             str(creds)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = _first_line(proc)
        data = json.loads(creds.read_text())  # written before the line is printed
        assert line == f"imburse-emulator: serving {data['baseUrl']} (db {db}, credentials {creds})\n"
        assert requests.get(data["baseUrl"] + "/openapi.json", timeout=10).status_code == 200  # it does serve there
        assert data["privateKey"] not in line and data["publicKey"] not in line
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out == "" and data["privateKey"] not in err  # one line, on stderr; nothing else said on a clean run


def test_emulator_process_still_reads_the_startup(emulator: EmulatorProcess) -> None:
    """EmulatorProcess starts the same script (its output goes to a log file) and finds it ready."""
    assert emulator.running
    assert f"imburse-emulator: serving {emulator.base_url} " in emulator.log_file.read_text()


def _shadow(tmp_path: Path, module: str) -> dict[str, str]:
    """An environment in which ``module`` cannot be imported, as if its package were not installed."""
    shadow = tmp_path / "shadow" / module
    shadow.mkdir(parents=True)
    message = f"No module named {module!r}"
    (shadow / "__init__.py").write_text(f"raise ModuleNotFoundError({message!r}, name={module!r})\n")
    path = [str(shadow.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


@pytest.mark.parametrize("module", ["uvicorn", "starlette", "jwt"])
def test_without_the_extra_the_command_says_what_to_install(tmp_path: Path, module: str) -> None:
    result = subprocess.run([str(CONSOLE_SCRIPT), "serve", "--db", str(tmp_path / "e.db"), "--credentials-file",
                             str(tmp_path / "c.json")], env=_shadow(tmp_path, module), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    assert f"'{module}'" in result.stderr and "'emulator' extra" in result.stderr
    assert f'pip install "{REPO}[emulator]"' in result.stderr  # this checkout's path: runnable as written
    assert not (tmp_path / "c.json").exists()


def test_without_the_extra_importing_the_server_says_what_to_install(tmp_path: Path) -> None:
    code = "import pulumi_imburse.emulator.urls"
    result = subprocess.run([sys.executable, "-c", code], env=_shadow(tmp_path, "starlette"), capture_output=True,
                            text=True, timeout=60, check=False)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("pulumi_imburse.emulator.extra.MissingExtraError: ") and "[emulator]" in last, last
    # EmulatorProcess itself needs no extra, and says why its child could not start.
    with pytest.raises(EmulatorError) as err, EmulatorProcess(env=_shadow(tmp_path / "p", "uvicorn")):
        pass
    # "exited": it failed as soon as the child did, not at the startup timeout ("was not ready within").
    assert "exited with status 1" in str(err.value) and f'pip install "{REPO}[emulator]"' in str(err.value)
