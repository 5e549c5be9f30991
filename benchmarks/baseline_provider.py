"""The naive baseline for ``benchmarks/run.py``.

``BaselineTenantKeyProvider`` is a TenantKey provider written the way the Pulumi dynamic-provider docs
teach and the seed tutorial's curl flow suggests:

- the credentials are captured in the provider object (``__init__`` arguments, as in the docs' examples
  that pass config values to the provider's constructor);
- every call does a fresh HMAC exchange for a bearer token, then the API call (the tutorial's two curl
  commands, one after the other), with module-level ``requests`` calls (a new connection each time);
- the provider is pickled **by value**: this file is loaded the way Pulumi's language host runs a
  program's ``__main__.py`` (``runpy.run_path(..., run_name="__main__")``, see
  ``run.py:load_by_value``), so its classes have ``__module__ == "__main__"``, and dill, which the
  SDK calls with ``recurse=True``, serialises a ``__main__`` class by value: its code, the helper
  functions it uses, and the instance's attributes (the account's private key included). That is
  exactly what happens to a provider class defined in a user's ``__main__.py``. The SDK then marks
  the whole ``__provider`` value secret (``serialize_as_secret_always`` defaults to ``True``), so
  the engine stores it encrypted in the inputs and the outputs of every resource.

Do not import this module by name for a benchmark: load it with ``run.py:load_by_value``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import time
from typing import Any

import pulumi
import requests
from pulumi.dynamic import CreateResult, ReadResult, Resource, ResourceProvider, UpdateResult


def hmac_header(public_key: str, private_key: str, body: bytes = b"") -> str:
    """The tutorial's ``Authorization: Hmac ...`` header, written out by hand as the curl flow does."""
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    timestamp = str(int(time.time()))
    body_signature = base64.b64encode(hashlib.sha256(body).digest()).decode() if body else ""
    unsigned = f"{public_key}:{nonce}:{timestamp}:{body_signature}"
    digest = hmac.new(base64.b64decode(private_key), unsigned.encode(), hashlib.sha256).digest()
    return f"Hmac {public_key}:{nonce}:{timestamp}:{base64.b64encode(digest).decode()}"


class BaselineTenantKeyProvider(ResourceProvider):
    """Creates, reads, updates and deletes tenant keys; a new bearer token for every call."""

    def __init__(self, base_url: str, account_id: str, public_key: str, private_key: str) -> None:
        super().__init__()
        self.base_url = base_url
        self.account_id = account_id
        self.public_key = public_key
        self.private_key = private_key

    def _headers(self, tenant_id: str) -> dict[str, str]:
        token = requests.post(f"{self.base_url}/identity/v1/hmac/management", timeout=30,
                              headers={"Authorization": hmac_header(self.public_key, self.private_key)})
        token.raise_for_status()
        return {"Authorization": f"Bearer {token.json()['accessToken']}", "x-account-id": self.account_id,
                "x-tenant-id": tenant_id}

    def create(self, props: dict[str, Any]) -> CreateResult:
        tenant_id = props["tenant_id"]
        resp = requests.post(f"{self.base_url}/v1/tenant/{tenant_id}/keys", timeout=30,
                             json={"name": props["name"], "roles": props["roles"]},
                             headers=self._headers(tenant_id))
        resp.raise_for_status()
        key = resp.json()
        return CreateResult(f"{tenant_id}/{key['publicKey']}",
                            {**props, "public_key": key["publicKey"], "private_key": key["privateKey"],
                             "account_id": key["accountId"]})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        tenant_id, public_key = id_.split("/", 1)
        resp = requests.get(f"{self.base_url}/v1/tenant/{tenant_id}/keys/{public_key}", timeout=30,
                            headers=self._headers(tenant_id))
        if resp.status_code == 404:
            return ReadResult("", {})
        resp.raise_for_status()
        return ReadResult(id_, {**props, "name": resp.json()["name"], "roles": resp.json()["roles"]})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        tenant_id, public_key = id_.split("/", 1)
        resp = requests.put(f"{self.base_url}/v1/tenant/{tenant_id}/keys/{public_key}", timeout=30,
                            json={"name": news["name"], "roles": news["roles"]}, headers=self._headers(tenant_id))
        resp.raise_for_status()
        return UpdateResult({**olds, **news})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        tenant_id, public_key = id_.split("/", 1)
        resp = requests.delete(f"{self.base_url}/v1/tenant/{tenant_id}/keys/{public_key}", timeout=30,
                               headers=self._headers(tenant_id))
        if resp.status_code != 404:
            resp.raise_for_status()


class BaselineTenantKey(Resource, module="baseline", name="TenantKey"):
    """A tenant key through :class:`BaselineTenantKeyProvider` (credentials passed in, as the docs do)."""

    def __init__(self, name: str, tenant_id: str, roles: list[str], credentials: dict[str, str],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"tenant_id": tenant_id, "roles": roles, "name": name,
                 "public_key": None, "private_key": None, "account_id": None}
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["private_key"]))
        super().__init__(BaselineTenantKeyProvider(**credentials), name, props, opts)
