"""The core's refresh verdict (:mod:`pulumi_imburse.refresh`) against the emulator: gone only when confirmed."""

from __future__ import annotations

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.refresh import RefreshRefusedError, key_or_gone, tenant_or_gone

READ = "tenant-app-read"


def fresh_account(emulator: EmulatorProcess, account_id: str | None = None) -> ImburseClient:
    acct = emulator.create_account_key(["account-admin"], new_account=True)
    return keyed(emulator, acct, account_id)


def keyed(emulator: EmulatorProcess, acct: dict[str, str], account_id: str | None = None) -> ImburseClient:
    return ImburseClient(emulator.base_url, acct["publicKey"], acct["privateKey"], account_id=account_id)


def test_a_revoked_key_of_a_visible_tenant_is_gone_and_a_live_one_is_there(emulator: EmulatorProcess) -> None:
    with fresh_account(emulator) as client:
        tenant = client.create_tenant("Verdict")
        kept, revoked = (client.create_key(tenant.tenant_id, [READ]) for _ in range(2))
        client.delete_key(tenant.tenant_id, revoked.public_key)
        assert key_or_gone(client, tenant.tenant_id, revoked.public_key, tenant.account_id, "k") is None
        found = key_or_gone(client, tenant.tenant_id, kept.public_key, tenant.account_id, "k")
        assert found is not None and found.public_key == kept.public_key


def test_a_deleted_tenant_is_gone_only_when_the_account_is_confirmed(emulator: EmulatorProcess) -> None:
    acct = emulator.create_account_key(["account-admin"], new_account=True)
    with keyed(emulator, acct) as client:
        tenant = client.create_tenant("Deleted")
        key = client.create_key(tenant.tenant_id, [READ])
        client.delete_tenant(tenant.tenant_id)
        # The account has no tenant left: its key cannot be told from another account's.
        with pytest.raises(RefreshRefusedError, match="cannot be confirmed to belong to account"):
            tenant_or_gone(client, tenant.tenant_id, tenant.account_id, "t")
        with pytest.raises(RefreshRefusedError, match="cannot be confirmed"):
            key_or_gone(client, tenant.tenant_id, key.public_key, tenant.account_id, "k")
        other = client.create_tenant("Another tenant of the same account")  # its tenant list confirms the account
        assert tenant_or_gone(client, tenant.tenant_id, tenant.account_id, "t") is None
        assert key_or_gone(client, tenant.tenant_id, key.public_key, tenant.account_id, "k") is None
        client.delete_tenant(other.tenant_id)
    with keyed(emulator, acct, tenant.account_id) as sure:
        assert tenant_or_gone(sure, tenant.tenant_id, tenant.account_id, "t") is None  # imburse:accountId confirms


def test_another_accounts_key_is_refused_naming_both_accounts(emulator: EmulatorProcess) -> None:
    with fresh_account(emulator) as mine, fresh_account(emulator) as theirs:
        tenant = mine.create_tenant("Mine")
        key = mine.create_key(tenant.tenant_id, [READ])
        theirs_tenant = theirs.create_tenant("Theirs")
        with pytest.raises(RefreshRefusedError) as err:
            key_or_gone(theirs, tenant.tenant_id, key.public_key, tenant.account_id, "TenantKey x")
        assert f"made in account {tenant.account_id}" in str(err.value)
        assert f"belongs to account {theirs_tenant.account_id}" in str(err.value)


def test_a_configured_account_id_of_another_account_is_refused_before_any_request(emulator: EmulatorProcess) -> None:
    with fresh_account(emulator, account_id="88fdb12a-14dc-419c-b74c-422e2c25cfe7") as client:
        emulator.reset_stats()
        with pytest.raises(RefreshRefusedError, match=r"88fdb12a-14dc-419c-b74c-422e2c25cfe7 \(imburse:accountId\)"):
            tenant_or_gone(client, "7d0c6b7e-2222-4000-8000-000000000000", "0f0e0d0c-2222-4000-8000-000000000000",
                           "t")
        assert sum(emulator.stats()["requests"].values()) == 0
