"""The client against the real emulator over real HTTP: routes, tokens, retries, errors, secrets."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pulumi_imburse import routes
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import (
    AuthenticationError,
    ImburseAPIError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    ServerError,
    TransportError,
    ValidationError,
)
from pulumi_imburse.models import Address
from pulumi_imburse.transport import RetryPolicy

pytestmark = pytest.mark.integration

FAST = RetryPolicy(attempts=6, backoff_factor=0.01, backoff_jitter=0.0, backoff_max=0.05, max_elapsed=10)
TOKEN = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN].template
CREATE_KEY = routes.DEFAULT_ROUTES[routes.CREATE_KEY].template
LIST_KEYS = routes.DEFAULT_ROUTES[routes.LIST_KEYS].template
LIST_TENANTS = routes.DEFAULT_ROUTES[routes.LIST_TENANTS].template
GET_KEY = routes.DEFAULT_ROUTES[routes.GET_KEY].template


def make_client(emu: EmulatorProcess, **kw: Any) -> ImburseClient:
    kw.setdefault("retry", FAST)
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id, **kw)


@pytest.fixture
def client(emulator: EmulatorProcess) -> Iterator[ImburseClient]:
    emulator.clear_faults()
    with make_client(emulator) as c:
        yield c
    emulator.clear_faults()


@pytest.fixture
def tenant_id(client: ImburseClient) -> str:
    return client.create_tenant("Client Test Ltd", Address(country="GB")).tenant_id


def count(emu: EmulatorProcess, template: str) -> int:
    return int(emu.stats()["requests"].get(template, 0))


# ---------------------------------------------------------------- every route


def test_tenant_lifecycle(client: ImburseClient) -> None:
    t = client.create_tenant("Acme", Address(street_address="1 High St", locality="Leeds", country="GB"))
    assert t.name == "Acme" and t.address.locality == "Leeds" and t.account_id
    assert client.get_tenant(t.tenant_id) == t
    assert t.tenant_id in {x.tenant_id for x in client.list_tenants()}
    u = client.update_tenant(t.tenant_id, "Acme Two", {"country": "IE"})
    assert (u.name, u.address.country, u.address.locality) == ("Acme Two", "IE", "")
    client.delete_tenant(t.tenant_id)
    with pytest.raises(NotFoundError):
        client.get_tenant(t.tenant_id)


def test_key_lifecycle_private_key_only_on_create(client: ImburseClient, tenant_id: str) -> None:
    key = client.create_key(tenant_id, ["tenant-app-read", "tenant-app-read", "tenant-app-write"], "ci")
    assert key.private_key and key.roles == ("tenant-app-read", "tenant-app-write")
    got = client.get_key(tenant_id, key.public_key)
    assert got.private_key is None and got.name == "ci"
    assert [k.public_key for k in client.list_keys(tenant_id)] == [key.public_key]
    assert all(k.private_key is None for k in client.list_keys(tenant_id))
    upd = client.update_key(tenant_id, key.public_key, ["tenant-transaction-read"], "ci-2")
    assert (upd.name, upd.roles, upd.private_key) == ("ci-2", ("tenant-transaction-read",), None)
    client.delete_key(tenant_id, key.public_key)
    with pytest.raises(NotFoundError):
        client.get_key(tenant_id, key.public_key)


def test_created_key_authenticates_in_its_own_tenant_only(client: ImburseClient, emulator: EmulatorProcess,
                                                          tenant_id: str) -> None:
    admin = client.create_key(tenant_id, ["tenant-admin"])
    assert admin.private_key
    other = client.create_tenant("Other").tenant_id
    with ImburseClient(emulator.base_url, admin.public_key, admin.private_key, retry=FAST) as tenant_client:
        assert [k.public_key for k in tenant_client.list_keys(tenant_id)] == [admin.public_key]
        with pytest.raises(PermissionDeniedError) as err:
            tenant_client.list_keys(other)
    assert err.value.status == 403 and err.value.method == "GET" and other in err.value.path


# ---------------------------------------------------------------- bearer token


def test_32_concurrent_first_calls_make_one_token_exchange(emulator: EmulatorProcess) -> None:
    emulator.clear_faults()
    before = count(emulator, TOKEN)
    with make_client(emulator) as c:
        barrier = threading.Barrier(32)
        errors: list[BaseException] = []

        def first_call() -> None:
            try:
                barrier.wait()
                c.list_tenants()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=first_call) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert c.token_exchanges == 1
    assert count(emulator, TOKEN) - before == 1


def test_token_is_reused_across_calls(client: ImburseClient, emulator: EmulatorProcess) -> None:
    before = count(emulator, TOKEN)
    for _ in range(5):
        client.list_tenants()
    assert count(emulator, TOKEN) - before == 1


def test_a_token_living_no_longer_than_the_refresh_margin_is_reused(emulator: EmulatorProcess) -> None:
    # The emulator's tokens live 3600 s. A margin longer than that must not make every token "about to
    # expire" on arrival (which cost one exchange per call: 200 requests for 100 keys).
    for margin in (30, 3600, 3601, 86_400):
        with make_client(emulator, token_refresh_margin=margin) as c:
            for _ in range(5):
                c.list_tenants()
        assert c.token_exchanges == 1, f"margin {margin} s"


def test_a_short_token_lifetime_costs_one_exchange_not_one_per_call() -> None:
    with EmulatorProcess(token_ttl=30) as emu, make_client(emu) as c:  # lifetime = the default margin, 30 s
        tenant = c.create_tenant("Short tokens").tenant_id
        for i in range(20):
            c.create_key(tenant, ["tenant-app-read"], f"k{i}")
        stats = emu.stats()["requests"]
    assert stats.get(TOKEN) == 1 and stats.get(CREATE_KEY) == 20


def test_expired_token_is_renewed_once_on_401(emulator: EmulatorProcess) -> None:
    # Server-side expiry, without sleeping: move the emulator's clock past a short token lifetime.
    with EmulatorProcess(token_ttl=60) as emu, make_client(emu) as c:
        c.list_tenants()
        emu.advance_clock(61)
        assert c.list_tenants() == []
        assert c.token_exchanges == 2


def test_wrong_private_key_is_an_authentication_error_without_secrets(emulator: EmulatorProcess) -> None:
    wrong = "AGHYR1aWYgHgyjhJLkVCd7b8XfAVeA4tuFwCQl3X64Y="
    with ImburseClient(emulator.base_url, emulator.public_key, wrong, retry=FAST) as c:
        with pytest.raises(AuthenticationError) as err:
            c.list_tenants()
    text = f"{err.value} {err.value!r} {err.value.args}"
    assert "imburse:privateKey" in text and "clock" in text
    assert wrong not in text and emulator.private_key not in text
    assert f"Hmac {emulator.public_key}:" not in text  # the Authorization header value


# ---------------------------------------------------------------- retries and outcome


def test_429_and_503_are_retried_honouring_retry_after(client: ImburseClient, emulator: EmulatorProcess,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi_imburse.transport as transport

    slept: list[float] = []
    monkeypatch.setattr(transport, "pause", slept.append)  # the transport's waits only, not time.sleep
    client.list_tenants()  # token first, without faults
    emulator.set_faults(errorRate=0.5, errorStatuses=[429, 503], retryAfterSeconds=2, seed=7)
    before = count(emulator, LIST_TENANTS)
    for _ in range(10):
        client.list_tenants()  # every call succeeds despite the refusals
    emulator.clear_faults()
    assert slept, "some request must have been refused and retried"
    assert all(s == 2 for s in slept)  # the server's Retry-After, not our backoff
    assert count(emulator, LIST_TENANTS) - before == 10 + len(slept)


def test_post_refused_with_503_is_retried_and_creates_exactly_one_key(client: ImburseClient, emulator: EmulatorProcess,
                                                                      tenant_id: str) -> None:
    client.list_keys(tenant_id)
    emulator.set_faults(errorRate=0.6, errorStatuses=[503], retryAfterSeconds=0, seed=3)
    keys = [client.create_key(tenant_id, ["tenant-app-read"], f"k{i}") for i in range(8)]
    emulator.clear_faults()
    listed = client.list_keys(tenant_id)
    assert sorted(k.public_key for k in listed) == sorted(k.public_key for k in keys)
    assert count(emulator, CREATE_KEY) > 8


def test_commit_then_504_on_create_is_outcome_unknown(client: ImburseClient, emulator: EmulatorProcess,
                                                      tenant_id: str) -> None:
    client.list_keys(tenant_id)
    before = count(emulator, CREATE_KEY)
    emulator.set_faults(ambiguousRate=1.0)
    with pytest.raises(OutcomeUnknownError) as err:
        client.create_key(tenant_id, ["tenant-app-read"], "ambiguous")
    emulator.clear_faults()
    assert err.value.status == 504 and err.value.method == "POST"
    assert count(emulator, CREATE_KEY) - before == 1  # not repeated
    assert [k.name for k in client.list_keys(tenant_id)] == ["ambiguous"]  # it was carried out


def test_502_on_create_is_not_retried(client: ImburseClient, emulator: EmulatorProcess, tenant_id: str) -> None:
    client.list_keys(tenant_id)
    before = count(emulator, CREATE_KEY)
    emulator.set_faults(errorRate=1.0, errorStatuses=[502])
    with pytest.raises(OutcomeUnknownError):
        client.create_key(tenant_id, ["tenant-app-read"])
    emulator.clear_faults()
    assert count(emulator, CREATE_KEY) - before == 1


def test_idempotent_calls_retry_504_up_to_the_attempt_bound(client: ImburseClient, emulator: EmulatorProcess,
                                                            tenant_id: str) -> None:
    client.list_keys(tenant_id)
    before = count(emulator, LIST_KEYS)
    emulator.set_faults(errorRate=1.0, errorStatuses=[504])
    with pytest.raises(ServerError) as err:
        client.list_keys(tenant_id)
    emulator.clear_faults()
    assert err.value.status == 504
    assert count(emulator, LIST_KEYS) - before == FAST.attempts


def test_connection_refused_is_a_transport_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = RetryPolicy(attempts=2, backoff_factor=0.0, backoff_jitter=0.0)
    with ImburseClient(f"http://127.0.0.1:{port}", "pub", "c2VjcmV0", retry=policy) as c:
        with pytest.raises(TransportError) as err:
            c.list_tenants()
    assert "could not reach" in str(err.value)


# ---------------------------------------------------------------- validation and secrets


@pytest.mark.parametrize(
    ("roles", "needle"),
    [([], "non-empty"), (["tenant-owner"], "not a tenant role"), (["account-admin"], "account role")],
)
def test_bad_roles_fail_before_any_request(client: ImburseClient, emulator: EmulatorProcess, tenant_id: str,
                                           roles: list[str], needle: str) -> None:
    before = count(emulator, CREATE_KEY)
    with pytest.raises(ValidationError) as err:
        client.create_key(tenant_id, roles)
    assert "roles" in str(err.value) and needle in str(err.value) and "tenant-app-read" in str(err.value)
    assert count(emulator, CREATE_KEY) == before


def test_malformed_tenant_id_fails_before_any_request(client: ImburseClient) -> None:
    with pytest.raises(ValidationError, match="tenantId must be a GUID"):
        client.list_keys("not-a-guid")


def test_secrets_absent_from_errors_reprs_and_pickles(client: ImburseClient, emulator: EmulatorProcess,
                                                      tenant_id: str) -> None:
    key = client.create_key(tenant_id, ["tenant-app-read"])
    token = client.access_token().token
    secrets = [emulator.private_key, key.private_key, token]
    texts = [repr(client), repr(key), repr(client.access_token())]
    for call in (lambda: client.get_key(tenant_id, "7d0c6b7e-0000-4000-8000-000000000000"),
                 lambda: client.create_key(tenant_id, ["account-admin"])):
        with pytest.raises(ImburseAPIError) as err:
            call()
        texts += [str(err.value), repr(err.value)]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(client)
    for text in texts:
        for secret in secrets:
            assert secret and secret not in text
