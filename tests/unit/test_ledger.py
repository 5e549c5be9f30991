"""What a provider process remembers lives in one ledger per process (``pulumi_imburse.ledger``), injected into
the providers, never in the pickled provider or a module global (issue 16)."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import pytest

from pulumi_imburse.keys.rules import key_name
from pulumi_imburse.ledger import PROCESS_LEDGER, Ledger
from pulumi_imburse.plugin.server import ImburseProviderServicer
from pulumi_imburse.rotating_key import RotatingTenantKeyProvider
from pulumi_imburse.tenant import TenantProvider
from pulumi_imburse.tenant_key import TenantKeyProvider

pytestmark = pytest.mark.unit

TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"


def test_the_dynamic_hosts_providers_share_the_process_ledger() -> None:
    # The host unpickles each provider by reference (no arguments): every type gets the process's ledger.
    made = [pickle.loads(pickle.dumps(cls(ledger=Ledger())))
            for cls in (TenantKeyProvider, RotatingTenantKeyProvider, TenantProvider)]
    assert all(p.ledger is PROCESS_LEDGER for p in made)


def test_a_pickled_provider_carries_no_ledger() -> None:
    ledger = Ledger()
    ledger.fresh_names.add("ci-0123abcd")
    assert b"0123abcd" not in pickle.dumps(TenantKeyProvider(ledger=ledger))


def test_the_plugin_gives_its_providers_one_ledger_of_their_own() -> None:
    with ThreadPoolExecutor(1) as pool:
        servicer = ImburseProviderServicer(version="0", pool=pool)
        ledgers = {id(p.ledger) for p in servicer._providers.values()}
    assert len(ledgers) == 1 and id(PROCESS_LEDGER) not in ledgers


@pytest.mark.parametrize("cls", [TenantKeyProvider, RotatingTenantKeyProvider])
def test_check_records_the_name_it_generates_in_its_own_ledger(cls: type) -> None:
    mine, other = Ledger(), Ledger()
    news = {"tenantId": TENANT, "roles": ["tenant-app-read"], "namePrefix": "ci", "graceDays": 1}
    if cls is TenantKeyProvider:
        del news["graceDays"]
    name = key_name(cls(ledger=mine).check({}, news).inputs)
    assert not other.fresh_names.take(name)
    assert mine.fresh_names.take(name) and not mine.fresh_names.take(name)  # fresh for one create only


def test_a_declared_or_kept_name_is_never_fresh() -> None:
    ledger = Ledger()
    provider = TenantKeyProvider(ledger=ledger)
    news = {"tenantId": TENANT, "roles": ["tenant-app-read"], "namePrefix": "ci"}
    declared = key_name(provider.check({}, {**news, "name": "ci-0123abcd"}).inputs)
    kept = key_name(provider.check({"name": "ci-89abcdef"}, news).inputs)
    assert kept == "ci-89abcdef"
    assert not ledger.fresh_names.take(declared) and not ledger.fresh_names.take(kept)


def test_each_ledger_says_a_message_once() -> None:
    first, second = Ledger(), Ledger()
    assert first.said.claim("m") and not first.said.claim("m") and second.said.claim("m")
