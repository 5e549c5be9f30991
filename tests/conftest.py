"""Shared fixtures: one real emulator process per test session (per xdist worker), its account client, and a fresh
tenant per test; the secret stores' servers (``moto_endpoint``, ``vault_address``), started by the first test that
asks for them.

The project's own Pulumi CLI (`make pulumi-cli`, .tools/bin) goes first on PATH, so `pytest` run by hand
uses the same CLI as `make test`. A test that needs the CLI and finds none fails (it is not skipped).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import settings

from pulumi_imburse import journal, routes, transport
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from .support.locks import fixed_ports
from .support.servers import moto_server, vault_dev_server

# Hypothesis' per-example deadline (200 ms) is a wall-clock assert: on a loaded 2-core machine a pure rule's
# example can take longer and the test fails for the machine, not the rule. Every profile runs without it.
settings.register_profile("imburse", deadline=None)
settings.load_profile("imburse")

TOOLS_BIN = Path(__file__).resolve().parents[1] / ".tools" / "bin"
if TOOLS_BIN.is_dir() and str(TOOLS_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test not marked ``unit`` (tests/unit: pure rules) is an ``integration`` test (the emulator, the
    provider host or the Pulumi engine), so ``-m unit`` and ``-m integration`` each select one layer."""
    for item in items:
        if item.get_closest_marker("unit") is None:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _own_journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The providers run in this process journal their creates in the session's own file, not the user's
    ``~/.pulumi`` (a stack's providers use the journal in its own Pulumi home: ``testing.stacks.cli_env``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(journal.ENV_VAR, str(tmp_path_factory.mktemp("journal") / "journal.db"))
        yield


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    """Every test starts with no account limiter: throttling one test provoked does not pace the next."""
    transport.forget_limiters()
    yield
    transport.forget_limiters()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    """The ``imburse-emulator`` console script, started once on a free port with a temporary db."""
    with EmulatorProcess() as emu:
        yield emu


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a ``moto_server`` (AWS Secrets Manager's protocol) for the session."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="session")
def vault_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a real Vault dev server for the session (``make vault`` builds it into
    .tools/bin), with the KV v2 engine at ``secret/`` and root token ``support.servers.VAULT_TOKEN``."""
    with vault_dev_server(tmp_path_factory.mktemp("vault-home")) as address:
        yield address


@pytest.fixture
def fixed_port() -> Iterator[None]:
    """For a test that binds a fixed port (``make demo``'s): it waits until no other test on the machine does."""
    with fixed_ports():
        yield


@pytest.fixture
def emu(emulator: EmulatorProcess) -> EmulatorProcess:
    """The emulator a test's ``api`` and ``existing_tenant`` use: the session's, unless the test module defines an
    ``emu`` of its own (a fresh process, for faults or request counts that other tests must not disturb)."""
    return emulator


@pytest.fixture
def api(emu: EmulatorProcess) -> Iterator[ImburseClient]:
    """A client of the emulator's account key, for arranging and checking state out of band; no faults are left
    over from another test, nor left to the next."""
    emu.clear_faults()
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as client:
        yield client
    emu.clear_faults()


@pytest.fixture
def existing_tenant(api: ImburseClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A tenant made outside Pulumi, named after the test; deleted with its keys after the test, unless the test
    deleted it."""
    tenant_id = api.create_tenant(f"Existing {request.node.name}"[:100].strip()).tenant_id
    yield tenant_id
    if tenant_id in {t.tenant_id for t in api.list_tenants()}:
        api.delete_tenant(tenant_id)


def account_token(emu: EmulatorProcess) -> str:
    """A bearer token for the emulator's bootstrap account key (one HMAC exchange)."""
    route = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN]
    resp = requests.post(emu.base_url + route.path, timeout=10,
                         headers={"Authorization": hmac_authorization(emu.public_key, emu.private_key)})
    resp.raise_for_status()
    return str(resp.json()["accessToken"])


@pytest.fixture
def tenant(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A fresh tenant (the API's Tenant model) in the bootstrap account, deleted after the test."""
    headers = {"Authorization": f"Bearer {account_token(emulator)}"}
    create = routes.DEFAULT_ROUTES[routes.CREATE_TENANT]
    resp = requests.post(emulator.base_url + create.path, json={"name": f"t-{request.node.name}"[:100]},
                         headers=headers, timeout=10)
    resp.raise_for_status()
    data: dict[str, Any] = resp.json()
    yield data
    delete = routes.DEFAULT_ROUTES[routes.DELETE_TENANT]
    with contextlib.suppress(requests.RequestException):
        requests.delete(emulator.base_url + delete.format(tenantId=data["tenantId"]), headers=headers, timeout=10)
