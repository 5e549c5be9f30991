"""Bearer tokens mid-run, through the real provider host with 16 steps in flight.

- A token that expires mid-run (the emulator's clock moved past it, while the client's own clock still
  trusts it) is renewed once, and every create goes through.
- A token the service revokes mid-run (it rotates the key that signs tokens; the account key stays valid)
  is renewed once, and every create goes through.
- A revoked account key fails the next call with one clear error after one renewal attempt: no storm.
- 32 concurrent first calls make one token exchange; no HMAC nonce is ever used twice (checked in the
  emulator's database: every exchange leaves exactly one new nonce, and a reused one would be refused).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from ..support.host import ProviderError
from .support import CREATE_KEY_ROUTE, TOKEN_ROUTE, Engine, account_client, count, declare_keys, nonces, pmap

ROLES = ["tenant-app-read"]
TOKEN_TTL = 120
"""Seconds; the client renews 30 s early, so a token stays good for the client's clock during a test."""


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(token_ttl=TOKEN_TTL) as e:
        e.set_faults(latencyMs=5)  # calls overlap in flight
        yield e


@pytest.fixture(scope="module")
def tenants(emu: EmulatorProcess) -> Iterator[list[str]]:
    with account_client(emu) as api:
        ids = [api.create_tenant(f"tokens {i}").tenant_id for i in range(2)]
        yield ids
        for tid in ids:
            api.delete_tenant(tid)


def test_expired_bearer_mid_run_is_renewed_once(emu: EmulatorProcess, tenants: list[str], tmp_path: Path) -> None:
    keys = declare_keys(tenants, 48, ROLES, prefix="expiry")
    with Engine(emu, tmp_path) as engine:
        engine.warm_up(keys[0])
        emu.reset_stats()
        engine.create_all(keys[:16])
        emu.advance_clock(TOKEN_TTL + 30)  # expired for the service; the client's clock still trusts it
        try:
            engine.create_all(keys[16:])
        finally:
            emu.reset_clock()
    assert all(k.out["privateKey"] for k in keys)
    assert count(emu, TOKEN_ROUTE) == 2  # the first token, and one renewal however many calls got 401
    # Each call that was in flight with the expired token got one 401 and was sent again (the host runs 4).
    assert 48 < count(emu, CREATE_KEY_ROUTE) <= 48 + 4


def _rotate_token_signing_key(db: Path) -> None:
    """What a service does to revoke every outstanding bearer token: a new signing key (emulator stopped)."""
    con = sqlite3.connect(db)
    try:
        con.execute("UPDATE meta SET value = ? WHERE key = 'jwt_secret'", (secrets.token_hex(32),))
        con.commit()
    finally:
        con.close()


def test_revoked_bearer_mid_run_is_renewed_once(tmp_path: Path) -> None:
    with EmulatorProcess(tmp_path / "emulator.db", tmp_path / "credentials.json") as emu:
        with account_client(emu) as api:
            tenant = api.create_tenant("revocation").tenant_id
            old_token = api.access_token().token
        keys = declare_keys([tenant], 40, ROLES, prefix="revoked")
        with Engine(emu, tmp_path) as engine:
            engine.warm_up(keys[0])
            engine.create_all(keys[:16])
            emu.stop()
            _rotate_token_signing_key(emu.db)
            emu.start()  # same port, same database: keys and tenants kept, every token revoked; stats at zero
            get = routes.DEFAULT_ROUTES[routes.LIST_TENANTS]
            refused = requests.get(emu.base_url + get.path, headers={"Authorization": f"Bearer {old_token}"},
                                   timeout=10)
            assert (refused.status_code, refused.json()["error"]) == (401, "InvalidToken")
            engine.create_all(keys[16:])
        assert all(k.out["privateKey"] for k in keys)
        assert count(emu, TOKEN_ROUTE) == 1  # one renewal after the revocation
        assert 24 < count(emu, CREATE_KEY_ROUTE) <= 24 + 4
        with account_client(emu) as api:
            assert len(api.list_keys(tenant)) == 40


def test_revoked_account_key_fails_once_with_a_clear_error(emu: EmulatorProcess, tenants: list[str],
                                                           tmp_path: Path) -> None:
    minted = emu.create_account_key(["account-admin"], name="ci key")
    config = {"imburse:baseUrl": emu.base_url, "imburse:publicKey": minted["publicKey"],
              "imburse:privateKey": minted["privateKey"], "imburse:accountId": minted["accountId"]}
    keys = declare_keys(tenants, 5, ROLES, prefix="doomed")
    with Engine(emu, tmp_path, config=config) as engine:
        engine.create_all(keys[:4])
        con = sqlite3.connect(emu.db)  # revoke the key: the emulator has no API route for account keys
        try:
            con.execute("DELETE FROM account_keys WHERE public_key = ?", (minted["publicKey"],))
            con.commit()
        finally:
            con.close()
        emu.reset_stats()
        with pytest.raises(ProviderError) as failure:
            engine.create(keys[4])
        log = engine.host.log
    text = f"{failure.value}\n{failure.value.details}"
    assert "was not accepted" in text and "imburse:privateKey" in text
    assert count(emu, CREATE_KEY_ROUTE) == 1 and count(emu, TOKEN_ROUTE) == 1  # one 401, one renewal attempt
    for secret in (minted["privateKey"], emu.private_key):
        assert secret not in text and secret not in log


def test_32_concurrent_first_calls_make_one_exchange_and_reuse_no_nonce(emu: EmulatorProcess, tenants: list[str],
                                                                       tmp_path: Path) -> None:
    # Through the host: 32 Creates in flight are a fresh host's first API calls.
    keys = declare_keys(tenants, 32, ROLES, prefix="first")
    with Engine(emu, tmp_path) as engine:
        for k in keys:  # Check makes no API call
            k.inputs, failures = engine.host.check(k.urn, {}, k.props)
            assert failures == []
        seen = nonces(emu)
        emu.reset_stats()
        pmap(lambda k: engine.host.create(k.urn, k.inputs), keys, parallel=32)
    assert count(emu, TOKEN_ROUTE) == 1 and count(emu, CREATE_KEY_ROUTE) == 32
    assert len(nonces(emu) - seen) == 1

    # One client, 32 threads released at once: one exchange.
    barrier = threading.Barrier(32)
    with account_client(emu) as client:
        def first_call(_: int) -> int:
            barrier.wait(timeout=30)
            return len(client.list_tenants())

        seen = nonces(emu)
        emu.reset_stats()
        pmap(first_call, range(32), parallel=32)
        assert client.token_exchanges == 1
    assert count(emu, TOKEN_ROUTE) == 1 and len(nonces(emu) - seen) == 1

    # 32 clients at once: 32 exchanges, 32 distinct nonces, none refused as a replay.
    barrier = threading.Barrier(32)

    def own_client(_: int) -> str:
        with ImburseClient(emu.base_url, emu.public_key, emu.private_key) as c:
            barrier.wait(timeout=30)
            return c.access_token().token

    seen = nonces(emu)
    emu.reset_stats()
    tokens = pmap(own_client, range(32), parallel=32)
    assert len(set(tokens)) == 32
    assert count(emu, TOKEN_ROUTE) == 32 and len(nonces(emu) - seen) == 32
