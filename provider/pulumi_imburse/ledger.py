"""What a provider process remembers between calls: one :class:`Ledger`, owned by the providers that share it.

The engine calls Check, Diff, Create, Read, Update and Delete of a deployment's resources in one provider process,
and a few rules need to know what happened earlier in that process: which resources were seen to exist before an
adoption (:mod:`pulumi_imburse._adopt`), which names Check generated moments ago (they may skip the provisional
name, :mod:`pulumi_imburse.keys.create`), which tenants were already swept for leftovers, which messages were
already said, the stack config and the API clients built from it. A :class:`Ledger` holds all of that; nothing of
it is a module global, and every provider takes its ledger as an argument (tests inject their own).

**Where the ledger lives.** A Python dynamic provider is pickled by reference to its class (see
``ImburseProvider.__reduce__``), so the dynamic provider host builds each provider object with no arguments: such
objects take :data:`PROCESS_LEDGER`, the one ledger of the host process, shared by the ``Tenant``, ``TenantKey``
and ``RotatingTenantKey`` providers of that process (as the engine's calls for one resource reach the same process
but not always the same object). The provider plugin (:mod:`pulumi_imburse.plugin.server`) serves one provider
instance per process: its servicer makes one ledger and passes it to the provider object of each type it serves.
Nothing here imports Pulumi.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from . import config as settings
from .client import ImburseClient
from .journal import Journal
from .journal import journal as process_journal
from .stores.destination import StoreConfig

T = TypeVar("T")


class LockedSet(Generic[T]):
    """A set that several threads share (the engine calls a provider concurrently): each operation is atomic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: set[T] = set()

    def add(self, item: T) -> T:
        """Put ``item`` in; returns it."""
        with self._lock:
            self._items.add(item)
        return item

    def __contains__(self, item: object) -> bool:
        with self._lock:
            return item in self._items

    def claim(self, item: T) -> bool:
        """Put ``item`` in; whether this caller was the first (it was not in yet)."""
        with self._lock:
            if item in self._items:
                return False
            self._items.add(item)
            return True

    def take(self, item: T) -> bool:
        """Take ``item`` out; whether it was in."""
        with self._lock:
            if item in self._items:
                self._items.discard(item)
                return True
            return False

    def release(self, item: T) -> None:
        """Take ``item`` out if it is in (a claim whose purpose failed: a later caller may claim it again)."""
        with self._lock:
            self._items.discard(item)


class AdoptionLedger:
    """What one provider process knows about adoptions, for one resource type. Thread-safe."""

    def __init__(self) -> None:
        self._existing: LockedSet[tuple[str, ...]] = LockedSet()
        self._adopted: LockedSet[tuple[str, ...]] = LockedSet()
        self._imported: LockedSet[tuple[str, ...]] = LockedSet()

    def mark_existing(self, resource: tuple[str, ...]) -> None:
        """``resource`` (a declaration naming an adoption target) already exists in the stack's state."""
        self._existing.add(resource)

    def exists(self, resource: tuple[str, ...]) -> bool:
        """Whether :meth:`mark_existing` was called for ``resource`` in this process."""
        return resource in self._existing

    def record_adopted(self, target: tuple[str, ...]) -> None:
        """``target`` (the service object) was adopted by a create in this process."""
        self._adopted.add(target)

    def adopted_here(self, target: tuple[str, ...]) -> bool:
        """Whether a create in this process adopted ``target``."""
        return target in self._adopted

    def record_imported(self, target: tuple[str, ...]) -> None:
        """``target`` was read for an import (``import_`` or ``pulumi import``: Read with the id only)."""
        self._imported.add(target)

    def imported_here(self, target: tuple[str, ...]) -> bool:
        """Whether ``target`` was read for an import in this process (so this deployment imports it)."""
        return target in self._imported


Once = LockedSet[str]
"""Strings claimed at most once (a tenant swept, a message said): :meth:`LockedSet.claim`, then maybe
:meth:`~LockedSet.release`."""

FreshNames = LockedSet[str]
"""Names this provider process generated for new keys and no create has used yet: :meth:`LockedSet.add` at Check,
:meth:`~LockedSet.take` at Create (a name is fresh for one create only).

The engine calls Check, then Create, of a new resource in the same provider process, so a generated name found
here was made moments ago from 32 random bits by this process's Check: no other key carries it. A name a user
declared (even one copied from a generated name) or kept from a prior state is never here."""


class Ledger:
    """The memory of one provider process (or one provider plugin instance); see the module docs."""

    def __init__(self, journal: Journal | None = None) -> None:
        """``journal``: the create journal (:mod:`pulumi_imburse.journal`); default: the process's, at its default
        path, opened on first use."""
        self._journal = journal
        self.tenant_adoptions = AdoptionLedger()
        """Tenants adopted, imported or seen to exist by this process."""
        self.key_adoptions = AdoptionLedger()
        """Tenant keys adopted, imported or seen to exist by this process."""
        self.swept = Once()
        """Tenants already swept for leftovers of failed creates (a create lists a tenant once per process)."""
        self.fresh_names = FreshNames()
        """Key names Check generated that no create has used yet."""
        self.said = Once()
        """Messages already logged (the engine diffs a resource again after a refresh: said once)."""
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {}
        self._clients: dict[tuple[str, str | None, str, str | None], ImburseClient] = {}
        self._stores: tuple[str, StoreConfig] | None = None

    @property
    def journal(self) -> Journal:
        """The create journal of this process's key creates (:mod:`pulumi_imburse.journal`)."""
        return self._journal if self._journal is not None else process_journal()

    def configure(self, config: Mapping[str, Any]) -> None:
        """Remember the stack config the engine sent (namespaced keys such as ``imburse:baseUrl``)."""
        with self._lock:
            self._config = {k: v for k, v in config.items() if k.startswith(settings.NAMESPACE + ":")}

    def store_config(self) -> StoreConfig:
        """The stores' settings of the configured stack (``imburse:destination``, ``imburse:vaultToken``, else
        ``VAULT_TOKEN``), made again when the config changed."""
        with self._lock:
            raw = (self._config.get(settings.DESTINATION_KEY), self._config.get(settings.VAULT_TOKEN.config_key))
            key = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()  # no token kept
            if self._stores is None or self._stores[0] != key:
                self._stores = (key, StoreConfig.from_settings(*raw))
            return self._stores[1]

    def base_url_failure(self) -> str | None:
        """Why the configured base URL (stack config, else ``IMBURSE_BASE_URL``) is refused, naming where it came
        from; ``None`` if it is fine (see :func:`~pulumi_imburse.config.base_url_problem`)."""
        with self._lock:
            config = dict(self._config)
        return settings.base_url_failure(config)

    def client(self) -> ImburseClient:
        """The client for the configured credentials, built on first use and shared by every provider of this
        ledger (so one bearer token serves every resource of every Imburse type in the process).

        Stack config wins, then ``IMBURSE_*`` environment variables. A missing credential, a base URL that is
        not an http(s) URL or a private key that is not base64 raises
        :class:`~pulumi_imburse.errors.ConfigurationError` naming the config key and the variable.
        """
        with self._lock:
            creds = settings.resolve(self._config)
        public_key, private_key = creds.require()
        creds.check()
        digest = hashlib.sha256(private_key.encode()).hexdigest()
        key = (creds.base_url, public_key, digest, creds.account_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = ImburseClient.from_credentials(creds)
            return client


PROCESS_LEDGER = Ledger()
"""The ledger of this process's dynamic providers (the dynamic provider host builds them with no arguments)."""
