"""A hostile environment must not break authentication: ``~/.netrc`` and proxy variables.

requests, trusting the environment, replaces a request's ``Authorization`` header with Basic auth from a
``~/.netrc`` entry matching the host (or a ``default`` entry, common on CI machines): every HMAC exchange
then fails. The client reads the environment once (proxies, CA bundle) and never consults ``.netrc``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import TransportError
from pulumi_imburse.transport import RetryPolicy

from .support import Engine, account_client, declare_keys

ONCE = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


def _client(emu: EmulatorProcess) -> ImburseClient:
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id, retry=ONCE)


def test_a_netrc_default_entry_does_not_replace_the_signature(emu: EmulatorProcess, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login someone password hunter2\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    with _client(emu) as client:
        assert client.list_tenants() is not None


def test_the_provider_host_works_with_a_netrc_in_its_home(emu: EmulatorProcess, tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("default login someone password hunter2\n", encoding="utf-8")
    netrc.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMBURSE_")}
    env.update(HOME=str(tmp_path), NETRC=str(netrc))
    with account_client(emu) as api:
        tenant = api.create_tenant("netrc").tenant_id
    keys = declare_keys([tenant], 2, ["tenant-app-read"], prefix="netrc")
    with Engine(emu, tmp_path, env=env) as engine:
        engine.create_all(keys)
    assert all(k.out["privateKey"] for k in keys)


def test_proxy_variables_are_still_honoured(emu: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with _client(emu) as client, pytest.raises(TransportError):
        client.list_tenants()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with _client(emu) as client:
        assert client.list_tenants() is not None
