"""The Vault KV v2 store under faults, through the fault proxy in front of a real Vault dev server: lost answers
(the check-and-set write's retry meets its own write), 429/503 refusals, 403s, Vault down, no answer; every failure
a :class:`StoreError` that says what and what to do, never a secret or the token."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import hvac
import pytest

from pulumi_imburse.stores import StoreError
from pulumi_imburse.stores.vault import ATTEMPTS, VaultKV2Store

from ..support.store_faults import (
    VAULT_DENIED,
    VAULT_RATE_LIMITED,
    VAULT_SEALED,
    FaultProxy,
    LoseAnswer,
    Reset,
    Stall,
)
from .conftest import VAULT_TOKEN
from .documents import assert_no_secret, document, logged

DATA = r"^/v1/secret/data/"
METADATA = r"^/v1/secret/metadata/"


def make(proxy: FaultProxy, **options: Any) -> VaultKV2Store:
    return VaultKV2Store(proxy.url, f"imburse/test/{uuid.uuid4().hex}", token=VAULT_TOKEN, **options)


def metadata(address: str, store: VaultKV2Store) -> dict[str, Any]:
    """The path's metadata, read straight from Vault (not through the proxy)."""
    client = hvac.Client(url=address, token=VAULT_TOKEN)
    answer: dict[str, Any] = client.secrets.kv.v2.read_secret_metadata(path=store.path, mount_point="secret")["data"]
    return answer


@pytest.fixture
def store(vault_proxy: FaultProxy) -> VaultKV2Store:
    return make(vault_proxy)


@pytest.mark.parametrize("first", [True, False], ids=["first write", "rotation"])
def test_a_write_whose_answer_was_lost_makes_exactly_one_version_and_it_is_current(
        store: VaultKV2Store, vault_proxy: FaultProxy, vault_address: str, first: bool) -> None:
    old = document()
    if not first:
        store.write_current(old)
    vault_proxy.inject(LoseAnswer(), method="POST", path=DATA)  # Vault writes the version; the answer is lost
    new = document()
    stored = store.write_current(new)
    version = 1 if first else 2
    assert vault_proxy.count(method="POST", path=DATA, forwarded=True) == (2 if first else 3)  # the retry met it
    meta = metadata(vault_address, store)
    assert meta["current_version"] == version  # exactly one version more
    assert stored.version == str(version) and stored.current
    assert meta["custom_metadata"]["imburse-current"] == new.public_key
    current = store.current()
    assert current is not None and current.public_key == new.public_key and current.current


def test_a_metadata_write_whose_answer_was_lost_is_repeated(
        store: VaultKV2Store, vault_proxy: FaultProxy, vault_address: str) -> None:
    old, new = document(), document()
    store.write_current(old)
    vault_proxy.inject(LoseAnswer(), method="POST", path=METADATA)
    store.write_current(new)
    custom = metadata(vault_address, store)["custom_metadata"]
    assert (custom["imburse-current"], custom["imburse-previous"]) == (new.public_key, old.public_key)


def test_a_delete_whose_answer_was_lost_is_repeated(store: VaultKV2Store, vault_proxy: FaultProxy) -> None:
    store.write_current(document())
    vault_proxy.inject(LoseAnswer(), method="DELETE", path=METADATA)
    store.delete()
    assert vault_proxy.count(method="DELETE", forwarded=True) == 2
    assert store.current() is None


def test_refusals_and_resets_that_stop_within_the_tries_are_not_errors(
        store: VaultKV2Store, vault_proxy: FaultProxy) -> None:
    doc = document()
    vault_proxy.inject(VAULT_SEALED, times=2, method="POST", path=DATA)
    vault_proxy.inject(VAULT_RATE_LIMITED, times=1, method="POST", path=METADATA)
    vault_proxy.inject(Reset(), times=1, method="GET")
    store.write_current(doc)
    assert vault_proxy.count(method="POST", path=DATA) == 3
    assert vault_proxy.count(method="POST", path=METADATA) == 2
    current = store.current()
    assert current is not None and current.public_key == doc.public_key


def test_the_default_is_six_tries(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy)
    vault_proxy.inject(VAULT_SEALED, times=None)
    with pytest.raises(StoreError, match="after 6 tries"):
        store.current()
    assert vault_proxy.count() == ATTEMPTS == 6


def test_a_sealed_vault_that_stays_sealed_fails_naming_the_path_and_what_to_do(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy, attempts=2)
    vault_proxy.inject(VAULT_SEALED, times=None)
    doc = document()
    with pytest.raises(StoreError) as caught:
        store.write_current(doc)
    assert str(caught.value) == (
        f"vault-kv2 read metadata of {store.reference!r} at {vault_proxy.url} failed: HTTP 503 VaultDown: Vault is "
        "sealed. Vault is sealed, a standby that cannot forward, or down (after 2 tries): unseal it or try again later")
    assert vault_proxy.count() == 2


def test_a_rate_limit_that_outlasts_the_tries_says_to_lower_parallel(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy, attempts=2)
    vault_proxy.inject(VAULT_RATE_LIMITED, times=None)
    with pytest.raises(StoreError, match=r"failed: HTTP 429 RateLimitExceeded: .*rate limit quota exceeded\. Vault's "
                                         r"rate limit quota still refused the request after 2 tries: deploy with a "
                                         r"lower `--parallel`"):
        store.current()


def test_permission_denied_names_the_capability_and_path_the_policy_lacks(
        store: VaultKV2Store, vault_proxy: FaultProxy) -> None:
    old = document()
    store.write_current(old)
    store.write_current(document())
    vault_proxy.inject(VAULT_DENIED, times=None, method="POST", path=r"^/v1/secret/destroy/")
    with pytest.raises(StoreError) as caught:
        store.retire(old.public_key)  # the grace period ended: its version is destroyed
    message = str(caught.value)
    assert message.startswith(f"vault-kv2 destroy of {store.reference!r} at {vault_proxy.url} failed: HTTP 403 "
                              "Forbidden: permission denied. The token is invalid or expired, or its policy lacks "
                              f'capabilities ["update"] on path "secret/destroy/{store.path}"; the provider needs: ')
    assert f'path "secret/metadata/{store.path}" {{capabilities = ["create", "update", "read", "delete"]}}' in message
    assert vault_proxy.count(path=r"^/v1/secret/destroy/") == 1  # a refusal is not retried
    assert_no_secret(message, old)


def test_a_vault_that_is_down_fails_naming_the_address(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy, attempts=2)
    doc = document()
    with vault_proxy.down(), pytest.raises(StoreError) as caught:
        store.write_current(doc)
    message = str(caught.value)
    assert message.startswith(f"vault-kv2 read metadata of {store.reference!r} at {vault_proxy.url} failed: "
                              "NewConnectionError: ")
    assert "Connection refused" in message
    assert message.endswith(f"Nothing answered at {vault_proxy.url} after 2 tries: is Vault running, and the address "
                            "(VAULT_ADDR) right?")
    assert_no_secret(message, doc)
    assert VAULT_TOKEN not in message
    store.write_current(doc)  # back up: the same write goes through


def test_no_answer_fails_after_the_timeout(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy, attempts=1, timeout_s=0.5)
    vault_proxy.inject(Stall())
    with pytest.raises(StoreError, match=r"read metadata of .* failed: ReadTimeoutError: .*No answer from .* "
                                         r"within 0\.5 s, 1 tries"):
        store.current()


def test_connections_closed_without_an_answer_say_so(vault_proxy: FaultProxy) -> None:
    store = make(vault_proxy, attempts=2)
    vault_proxy.inject(Reset(), times=None)
    with pytest.raises(StoreError, match=r"read metadata of .* failed: ProtocolError: .*Connection aborted.*\. "
                                         r"http://127\.0\.0\.1:\d+ closed the connection without an answer, 2 tries"):
        store.current()
    assert vault_proxy.count() == 2


def test_no_private_key_or_token_reaches_any_log_even_at_debug(
        store: VaultKV2Store, vault_proxy: FaultProxy, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    old, new = document(), document()
    store.write_current(old)
    vault_proxy.inject(LoseAnswer(), method="POST", path=DATA)
    vault_proxy.inject(VAULT_SEALED, times=1)
    store.write_current(new)
    store.find(old.public_key)
    store.withdraw(new.public_key)
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # the retries were logged, at DEBUG
    text = logged(caplog.records)
    assert_no_secret(text, old, new)
    assert VAULT_TOKEN not in text
