"""When a create's recovery fails, the key it may have made is never orphaned for good.

A create whose answer was lost must revoke the key it may have made; if the service then fails the list or the
revoke too (HTTP 500 for a whole time budget, a transport error), or the rename of a key it did get, that key
must be surfaced (the error names it) and cleaned by a later create. The failures are injected around the real
client of the emulator's account key, in the order a failing service would produce them: each create is
carried out by the emulator before its answer is "lost", so the keys really exist.

The provider runs in this process (``TenantKeyProvider().check``/``create``, the methods the provider host
calls), with its client replaced by the failing one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pulumi_imburse import tenant_key
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import ImburseAPIError, OutcomeUnknownError, ServerError
from pulumi_imburse.ledger import Ledger
from pulumi_imburse.tenant_key import TenantKeyProvider
from pulumi_imburse.validation import PENDING_NAME

from .support import account_client

ROLES = ["tenant-app-read"]
STALE_DAYS = 15 / (24 * 60)
"""The documented age (15 minutes) from which a provisionally named key is a failed create's leftover."""


class FailingService:
    """The account client, with the failures a failing service produces.

    ``lose_answers``: the next N creates are carried out, then their answer is lost (a 504).
    ``fail``: names of calls (``list_keys``, ``delete_key``, ``update_key``) that fail with HTTP 500, as they do
    after the transport retried them for all its attempts; ``fail_first``: calls that fail so only the first time.
    """

    def __init__(self, real: ImburseClient, *, lose_answers: int = 0, fail: tuple[str, ...] = (),
                 fail_first: tuple[str, ...] = ()) -> None:
        self.real, self.lose_answers, self.fail, self.fail_first = real, lose_answers, set(fail), set(fail_first)
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if name not in ("list_keys", "delete_key", "update_key"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if name in self.fail or (name in self.fail_first and self.calls.count(name) == 1):
                raise ServerError("injected: internal server error", status=500, method="GET", path="/injected")
            return attr(*args, **kwargs)

        return call

    def create_key(self, tenant_id: str, roles: list[str], name: str | None = None) -> Any:
        self.calls.append("create_key")
        key = self.real.create_key(tenant_id, roles, name)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            raise OutcomeUnknownError("injected: gateway timeout; it may or may not have been carried out",
                                      status=504, method="POST", path=f"/v1/tenant/{tenant_id}/keys")
        return key


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


@pytest.fixture
def api(emu: EmulatorProcess) -> Iterator[ImburseClient]:
    with account_client(emu) as client:
        yield client


@pytest.fixture
def tenant(api: ImburseClient, request: pytest.FixtureRequest) -> Iterator[str]:
    tenant_id = api.create_tenant(f"recovery {request.node.name}"[:100].strip()).tenant_id
    yield tenant_id
    api.delete_tenant(tenant_id)


@pytest.fixture
def ledger() -> Ledger:
    """The memory of one provider process (a test is one process unless it makes a new ledger)."""
    return Ledger()


def provider_with(ledger: Ledger, client: Any) -> TenantKeyProvider:
    """A provider of the process ``ledger`` whose rules call ``client``."""
    return TenantKeyProvider(client=lambda: client, ledger=ledger)


def create(provider: TenantKeyProvider, tenant_id: str, resource: str = "ci", **inputs: Any) -> dict[str, Any]:
    """Check then Create, as the provider host does for a new resource; the outputs."""
    news = {"tenantId": tenant_id, "roles": ROLES, "namePrefix": resource, **inputs}
    checked = provider.check({}, news)
    assert checked.failures == []
    result = provider.create(checked.inputs or {})
    assert result.outs is not None
    return result.outs


def live(api: ImburseClient, tenant_id: str) -> dict[str, str]:
    """The tenant's keys: public key -> name."""
    return {k.public_key: k.name for k in api.list_keys(tenant_id)}


def test_a_failed_reconciliation_names_the_key_it_left_and_a_later_create_revokes_it(
        ledger: Ledger, emu: EmulatorProcess, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, lose_answers=1, fail=("list_keys",))
    with pytest.raises(ImburseAPIError) as err:
        create(provider_with(ledger, failing), tenant, name="ci")
    assert failing.calls == ["create_key", "list_keys"]  # stopped: no second key it could not account for
    (left_pk, left_name), = live(api, tenant).items()
    assert PENDING_NAME.fullmatch(left_name)
    message = str(err.value)
    assert left_name in message and "nobody holds its private key" in message and "15 or more minutes" in message

    # A later create in the tenant, while the leftover is younger than 15 minutes: it stays (it could be in use).
    first = create(provider_with(ledger, api), tenant, resource="other", name="ci")
    assert live(api, tenant) == {left_pk: left_name, first["publicKey"]: "ci"}
    # Once it is 15 minutes old, the next create in the tenant (a new provider process) revokes it.
    emu.age_key(tenant, left_pk, days=STALE_DAYS)
    ledger = Ledger()  # a new provider process
    second = create(provider_with(ledger, api), tenant, resource="third", name="ci")
    assert live(api, tenant) == {first["publicKey"]: "ci", second["publicKey"]: "ci"}


def test_a_failed_revoke_during_reconciliation_is_surfaced_the_same_way(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, lose_answers=1, fail=("delete_key",))
    with pytest.raises(ImburseAPIError) as err:
        create(provider_with(ledger, failing), tenant, name="ci")
    (left_name,) = live(api, tenant).values()
    assert PENDING_NAME.fullmatch(left_name) and left_name in str(err.value)


def test_a_key_that_cannot_be_named_is_revoked_and_nothing_is_recorded(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, fail=("update_key",))
    with pytest.raises(ImburseAPIError) as err:
        create(provider_with(ledger, failing), tenant, name="ci")
    assert failing.calls.count("update_key") == tenant_key.RENAME_ROUNDS == 2
    assert live(api, tenant) == {}
    assert "it was revoked, so nothing is left behind" in str(err.value)


def test_a_rename_that_fails_one_round_of_retries_is_given_another(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, fail_first=("update_key",))
    outs = create(provider_with(ledger, failing), tenant, name="ci")
    assert failing.calls[:3] == ["create_key", "update_key", "update_key"]
    assert live(api, tenant) == {outs["publicKey"]: "ci"}
    assert outs["name"] == "ci" and outs["privateKey"]


def test_a_key_that_can_be_neither_named_nor_revoked_is_named_in_the_error(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, fail=("update_key", "delete_key"))
    with pytest.raises(ImburseAPIError) as err:
        create(provider_with(ledger, failing), tenant, name="ci")
    ((public_key, name),) = live(api, tenant).items()
    assert PENDING_NAME.fullmatch(name)
    assert public_key in str(err.value) and name in str(err.value)


def test_a_lost_answer_then_a_successful_create_leaves_exactly_one_key(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    foreign = api.create_key(tenant, ROLES, "ci").public_key
    failing = FailingService(api, lose_answers=2)
    outs = create(provider_with(ledger, failing), tenant, name="ci")
    assert failing.calls.count("create_key") == 3
    assert live(api, tenant) == {foreign: "ci", outs["publicKey"]: "ci"}
    assert outs["name"] == "ci" and outs["privateKey"]


# ---------------------------------------------------------------- keys with a generated name: one request


def test_a_key_with_a_generated_name_is_created_in_one_request_under_that_name(
        ledger: Ledger, emu: EmulatorProcess, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api)
    outs = create(provider_with(ledger, failing), tenant, resource="checkout")
    assert failing.calls[0] == "create_key" and "update_key" not in failing.calls  # no provisional name, no rename
    assert tenant_key.is_generated_name(outs["name"], "checkout")
    assert live(api, tenant) == {outs["publicKey"]: outs["name"]}


def test_lost_answers_of_a_generated_name_create_revoke_only_that_name(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    # A key made by hand with the resource's prefix, and one named like a generated name of it: neither is touched.
    foreign = {api.create_key(tenant, ROLES, n).public_key: n for n in ("checkout", "checkout-0badcafe")}
    failing = FailingService(api, lose_answers=2)
    outs = create(provider_with(ledger, failing), tenant, resource="checkout")
    assert failing.calls.count("create_key") == 3 and "update_key" not in failing.calls
    assert live(api, tenant) == {**foreign, outs["publicKey"]: outs["name"]}  # the two lost keys were revoked


def test_a_declared_name_copied_from_a_generated_one_takes_the_provisional_route(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    first = create(provider_with(ledger, api), tenant, resource="checkout")
    # The same name declared (copied from the state) by another resource, whose create loses its answer once:
    # the key already carrying that name must survive.
    failing = FailingService(api, lose_answers=1)
    second = create(provider_with(ledger, failing), tenant, resource="copy", name=first["name"])
    assert "update_key" in failing.calls  # provisional name, then the rename
    assert live(api, tenant) == {first["publicKey"]: first["name"], second["publicKey"]: first["name"]}


def test_a_generated_name_key_that_cannot_be_revoked_after_a_lost_answer_is_named_in_the_error(
        ledger: Ledger, api: ImburseClient, tenant: str) -> None:
    failing = FailingService(api, lose_answers=1, fail=("list_keys",))
    with pytest.raises(ImburseAPIError) as err:
        create(provider_with(ledger, failing), tenant, resource="checkout")
    ((_, left_name),) = live(api, tenant).items()
    assert tenant_key.is_generated_name(left_name, "checkout")
    assert left_name in str(err.value) and "revoke the tenant's keys named" in str(err.value)
