"""Refresh's verdict on a resource: present, gone, or "cannot tell" (which fails). Shared by both faces.

A 404 from Imburse means "no such thing *in the account of the key that asked*": on its own it cannot tell a
revoked key from an account key of another account (a copy-paste between sandbox and production accounts).
Taking it as "gone" would drop the resource from the state while it lives on, unmanaged, in the account that
made it, and the next ``up`` would make a second one. So a resource is dropped only when the service says so
unambiguously for the account that made it (the ``accountId`` recorded in state):

- a tenant key is gone when its tenant is visible and belongs to that account, and the key is not;
- a tenant is gone (and its keys with it) when it is not visible and the account key is confirmed to belong to
  that account: the configured ``imburse:accountId`` is that account (the service refuses a call whose
  ``x-account-id`` is not the key's account), or the account's tenant list shows a tenant of that account.

Anything else fails the refresh with :class:`RefreshRefusedError`, naming the account mismatch or why the account
cannot be confirmed, and changes no state; a 403, a 5xx or a transport error fails it as the error it is.
"""

from __future__ import annotations

from .client import ImburseClient
from .errors import ImburseError, NotFoundError
from .models import ApiKey, Tenant

__all__ = ["RefreshRefusedError", "key_or_gone", "tenant_or_gone"]


class RefreshRefusedError(ImburseError):
    """A refresh could not tell whether a resource is gone (another account's key, an unconfirmed account):
    nothing was changed."""


def tenant_or_gone(client: ImburseClient, tenant_id: str, account_id: str, what: str) -> Tenant | None:
    """The tenant, or ``None`` if it is confirmed gone from ``account_id`` (the account recorded in state, which
    made it; empty when unknown). Raises :class:`RefreshRefusedError` when that cannot be confirmed."""
    _refuse_other_configured_account(client, account_id, what)
    try:
        tenant: Tenant | None = client.get_tenant(tenant_id)
    except NotFoundError:
        tenant = None
    if tenant is None:  # (outside the except block: a refusal is its own message, not "during handling of" the 404)
        _confirm_account(client, tenant_id, account_id, what)
        return None
    _refuse_other_account(tenant.account_id, account_id, what)
    return tenant


def key_or_gone(client: ImburseClient, tenant_id: str, public_key: str, account_id: str, what: str) -> ApiKey | None:
    """The key, or ``None`` if it is confirmed gone (its tenant is visible in ``account_id`` and the key is not,
    or the tenant itself is confirmed gone). Raises :class:`RefreshRefusedError` when that cannot be confirmed."""
    _refuse_other_configured_account(client, account_id, what)
    try:
        return client.get_key(tenant_id, public_key)
    except NotFoundError:
        pass
    # (outside the except block, as above)
    tenant_or_gone(client, tenant_id, account_id, what)  # the tenant is visible in that account, or confirmed gone
    return None


def _refuse_other_account(seen: str, recorded: str, what: str) -> None:
    if recorded and seen and seen.lower() != recorded.lower():
        raise RefreshRefusedError(_mismatch(what, recorded, f"account {seen}"))


def _refuse_other_configured_account(client: ImburseClient, recorded: str, what: str) -> None:
    configured = client.account_id
    if recorded and configured and configured.strip().lower() != recorded.lower():
        raise RefreshRefusedError(_mismatch(what, recorded, f"account {configured} (imburse:accountId)"))


def _confirm_account(client: ImburseClient, tenant_id: str, recorded: str, what: str) -> None:
    """Return if the account key is confirmed to be ``recorded``'s, so a 404 means gone; else raise."""
    configured = client.account_id
    if recorded and configured and configured.strip().lower() == recorded.lower():
        return  # every call carried x-account-id: <recorded>, which the service checks against the key
    seen = {t.account_id.lower() for t in client.list_tenants() if t.account_id}
    if recorded and recorded.lower() in seen:
        return
    if seen:
        raise RefreshRefusedError(_mismatch(what, recorded or "(not recorded)",
                                            f"account {', '.join(sorted(seen))}"))
    raise RefreshRefusedError(
        f"{what}: refresh stopped, nothing was changed: tenant {tenant_id} is not visible to the configured account "
        f"key, and that key sees no tenant at all, so it cannot be confirmed to belong to account "
        f"{recorded or '(not recorded)'}, which made this resource. Either the tenant was deleted, or the account "
        "key is another account's. If the key is right and the tenant was deleted, set imburse:accountId to "
        f"{recorded or 'the account id'} (the service then confirms the account) and refresh again, or remove the "
        "resource from the state with `pulumi state delete <urn>`.")


def _mismatch(what: str, recorded: str, configured: str) -> str:
    return (f"{what}: refresh stopped, nothing was changed: this resource was made in account {recorded}, but the "
            f"configured account key belongs to {configured}. A 404 from another account says nothing about this "
            f"one. Set imburse:publicKey and imburse:privateKey (or IMBURSE_PUBLIC_KEY and IMBURSE_PRIVATE_KEY) to "
            f"an account key of account {recorded}, run `pulumi up` to record them, then refresh.")
