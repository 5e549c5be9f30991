"""An application reading its key from the store never fails, through a key's whole life, for both faces (the Python
dynamic resources and the plugin's ``imburse:index:*``) and both stores (moto_server's Secrets Manager, a Vault dev
server), through the real CLI.

One stack holds a ``RotatingTenantKey`` and a ``TenantKey``, each with a destination of its own, and each watched by
an application poller (:class:`~tests.support.apps.Poller`: the store's current version read every 20 ms and
authenticated with against the emulator), started before the secrets exist. Through

1. **create** (waiting for the first key is not a failure),
2. **rotation**: the rotating key's current key aged past ``rotationDays``, ``up --refresh``: a new current key; the
   store's previous version is the old key (AWS: ``AWSPREVIOUS``; Vault: custom metadata ``imburse-previous``),
3. **grace end**: aged past ``graceDays``, ``up --refresh``: the old key revoked, no longer previous in the store
   (Vault: its versions destroyed),
4. **a keepers change** on both: the rotating key rotates at once; the ``TenantKey`` is replaced create-before-delete
   (the new key current in the store before the old one is revoked, which is then neither current nor previous),
5. **a keepers change during the grace period**: the previous key revoked first (cut short) and out of the store,
   then a new current key; the ``TenantKey`` replaced again,

neither poller ever reads a key that does not authenticate, each reads its keys in order, and each polls all along
every step. The outputs hold no private key and say what the store says (``secretVersion``,
``previousSecretVersion``, ``privateKeyFingerprint``). Destroy (the pollers stopped first: after it there is no key
to read, by design) revokes every key and empties the stores.

Measured per step (printed, ``-s``): the polls each poller made, the step's wall time, the longest gap between polls.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import botocore.exceptions
import hvac.exceptions
import pytest

from pulumi_imburse import RotatingTenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.stores import KeyDocument, fingerprint
from pulumi_imburse.testing import emulated_stack

from ..engine import authenticates, changes, quiet
from ..plugin import native
from ..support.apps import Poller, StoreApp
from .conftest import VAULT_TOKEN, Where
from .test_destination_stacks import ENV, backend_text, key, live, resource_state

pytestmark = pytest.mark.usefixtures("no_real_aws")

READ = "tenant-app-read"
ROTATION_DAYS, GRACE_DAYS = 90, 7
STORES = ("aws", "vault")
FACES = ("dynamic", "plugin")
MIN_POLLS = 10
"""Polls each poller must make during a step (an ``up`` takes seconds; at 20 ms a few hundred are usual)."""

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Slot:
    """One of the store's two slots (current or previous): the key document there and its version id."""

    version: str
    document: KeyDocument

    @property
    def public_key(self) -> str:
        return self.document.public_key


class Store:
    """The store as an operator inspects it (beside what the application reads): the current and previous slots,
    through the store's own protocol (AWS: the staging labels; Vault: the latest version and the custom metadata)."""

    def __init__(self, app: StoreApp) -> None:
        self.app = app
        self.destination = app.destination
        self.aws = self.destination["type"] == "aws-secretsmanager"

    def _aws_slot(self, stage: str) -> Slot | None:
        try:
            answer = self.app._aws.get_secret_value(SecretId=self.destination["secretId"], VersionStage=stage)
        except botocore.exceptions.ClientError:
            return None
        return Slot(str(answer["VersionId"]), KeyDocument.from_json(answer["SecretString"]))

    def _vault_metadata(self) -> dict[str, Any]:
        try:
            answer = self.app._vault.secrets.kv.v2.read_secret_metadata(path=self.destination["path"],
                                                                          mount_point="secret")
        except hvac.exceptions.InvalidPath:
            return {}
        data: dict[str, Any] = answer["data"]
        return data

    def _vault_slot(self, version: str) -> Slot | None:
        try:
            answer = self.app._vault.secrets.kv.v2.read_secret_version(
                path=self.destination["path"], version=int(version), mount_point="secret",
                raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return None
        data = (answer.get("data") or {}).get("data")
        return Slot(version, KeyDocument.from_fields(data)) if data else None

    def current(self) -> Slot | None:
        """What an application reads (AWS ``AWSCURRENT``; Vault the latest version, which the metadata names
        current)."""
        if self.aws:
            return self._aws_slot("AWSCURRENT")
        meta = self._vault_metadata()
        if not meta:
            return None
        slot = self._vault_slot(str(meta["current_version"]))
        custom = meta.get("custom_metadata") or {}
        assert slot is None or (custom.get("imburse-current"), custom.get("imburse-current-version")) == \
            (slot.public_key, slot.version), "the metadata's current is not the latest version"
        return slot

    def previous(self) -> Slot | None:
        """The version still valid during a grace period (AWS ``AWSPREVIOUS``; Vault ``imburse-previous``)."""
        if self.aws:
            return self._aws_slot("AWSPREVIOUS")
        custom = self._vault_metadata().get("custom_metadata") or {}
        if not custom.get("imburse-previous"):
            return None
        slot = self._vault_slot(str(custom["imburse-previous-version"]))
        assert slot is not None and slot.public_key == custom["imburse-previous"], custom
        return slot

    def labels_of(self, public_key: str) -> set[str]:
        """Every label the store gives ``public_key``'s version: AWS staging labels; Vault ``current``/``previous``
        by the metadata, ``latest`` when the latest version holds it."""
        if self.aws:
            answer = self.app._aws.describe_secret(SecretId=self.destination["secretId"])
            # A public key is its version id (the ClientRequestToken).
            return set(answer.get("VersionIdsToStages", {}).get(public_key, []))
        meta = self._vault_metadata()
        custom = meta.get("custom_metadata") or {}
        labels = {name for name in ("current", "previous") if custom.get(f"imburse-{name}") == public_key}
        latest = self._vault_slot(str(meta["current_version"])) if meta else None
        return labels | ({"latest"} if latest is not None and latest.public_key == public_key else set())

    def destroyed(self, version: str) -> bool:
        """Vault: whether the version's data is destroyed (no one can read that private key again)."""
        versions = self._vault_metadata().get("versions") or {}
        return bool(versions.get(str(version), {}).get("destroyed"))


@dataclasses.dataclass
class Step:
    """What a step cost and what each poller did meanwhile."""

    name: str
    wall: float = 0.0
    polls: dict[str, int] = dataclasses.field(default_factory=dict)
    max_gap: dict[str, float] = dataclasses.field(default_factory=dict)
    seen: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    failed: dict[str, int] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        each = ", ".join(f"{w}: {self.polls[w]} polls, {self.failed[w]} failed, max gap "
                         f"{self.max_gap[w] * 1000:.0f} ms" for w in self.polls)
        return f"{self.name}: {self.wall:.1f} s ({each})"


class Watch:
    """The steps of a test, each timed, with the polls every poller made during it."""

    def __init__(self, pollers: dict[str, Poller]) -> None:
        self.pollers = pollers
        self.steps: list[Step] = []

    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run ``action``, then wait until every poller polled a few times more (it has seen the step's end); the
        step is then :attr:`steps`' last. Returns what ``action`` returned."""
        marks = {w: p.mark() for w, p in self.pollers.items()}
        began = time.monotonic()
        result = action()
        for p in self.pollers.values():
            p.wait_polls(p.mark())
        step = Step(name, wall=time.monotonic() - began)
        for w, p in self.pollers.items():
            polls = p.polls[marks[w]:]
            step.polls[w] = len(polls)
            step.max_gap[w] = max((b.at - a.at for a, b in itertools.pairwise(polls)), default=0.0)
            step.seen[w] = list(dict.fromkeys(q.public_key for q in polls))
            step.failed[w] = sum(1 for q in p.failures if q.at >= began)
        self.steps.append(step)
        assert not any(step.failed.values()), f"an application's poll failed during {step}"
        return result


def rotating(face: str, name: str, tenant_id: str, **inputs: Any) -> None:
    """A RotatingTenantKey of either face (inputs by Python name)."""
    if face == "dynamic":
        RotatingTenantKey(name, tenant_id=tenant_id, **inputs)
    else:
        wire = {"roles": "roles", "rotation_days": "rotationDays", "grace_days": "graceDays", "keepers": "keepers",
                "destination": "destination"}
        native.rotating_tenant_key(name, tenantId=tenant_id, **{wire[k]: v for k, v in inputs.items()})


def check_outputs(outs: dict[str, Any], store: Store, *, previous: bool) -> None:
    """The outputs of a delivered key say what its store says, and hold no private key."""
    current = store.current()
    assert current is not None and outs["publicKey"] == current.public_key
    assert outs["privateKey"] == "" and not outs.get("previousPrivateKey")  # absent, null or ""
    assert outs["secretVersion"] == current.version and outs["secretReference"]
    assert outs["privateKeyFingerprint"] == fingerprint(current.document.private_key)
    if previous:
        before = store.previous()
        assert before is not None and outs["previousPublicKey"] == before.public_key
        assert outs["previousSecretVersion"] == before.version
    else:
        assert not outs.get("previousPublicKey") and not outs.get("previousSecretVersion")


@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("store", STORES)
def test_an_application_reading_the_store_never_fails_through_create_rotation_grace_end_and_keepers(
        face: str, store: str, where: Where, emulator: EmulatorProcess,
        api: ImburseClient, existing_tenant: str) -> None:
    tenant, path = existing_tenant, f"imburse/poll-{uuid.uuid4().hex[:12]}"
    rot_to, key_to = where(store, f"{path}/payments"), where(store, f"{path}/ci")
    rot, tk = Store(StoreApp(rot_to, vault_token=VAULT_TOKEN)), Store(StoreApp(key_to, vault_token=VAULT_TOKEN))
    keepers = {"generation": "1"}

    def program() -> None:
        rotating(face, "payments", tenant, roles=[READ], rotation_days=ROTATION_DAYS, grace_days=GRACE_DAYS,
                 keepers=dict(keepers), destination=rot_to)
        key(face, "ci", tenant, roles=[READ], keepers=dict(keepers), destination=key_to)

    # The applications: their own readers, polling from before the secrets exist.
    pollers = {"rotating": Poller(StoreApp(rot_to, vault_token=VAULT_TOKEN), emulator),
               "tenant": Poller(StoreApp(key_to, vault_token=VAULT_TOKEN), emulator)}
    private_keys: set[str] = set()

    def held(slot: Slot | None) -> Slot:
        assert slot is not None
        private_keys.add(slot.document.private_key)
        return slot

    with emulated_stack(program, project_name=f"poll-{store}-{face}", emulator=emulator, env=ENV) as s:
        watch = Watch(pollers)

        def up(**kwargs: Any) -> dict[str, int]:
            return changes(s.stack.up(on_output=quiet, **kwargs))

        with pollers["rotating"], pollers["tenant"]:
            # 1. create: each key delivered, current in its store.
            assert watch.step("create", lambda: up()) == {"create": 3}
            a, t1 = held(rot.current()), held(tk.current())
            outs = resource_state(s, ":RotatingTenantKey")
            check_outputs(outs, rot, previous=False)
            check_outputs(resource_state(s, ":TenantKey"), tk, previous=False)
            assert watch.steps[-1].seen == {"rotating": ["", a.public_key], "tenant": ["", t1.public_key]}

            # 2. rotation: B current, A previous in the store (and still working).
            emulator.age_key(tenant, a.public_key, ROTATION_DAYS + 1)
            assert watch.step("rotation", lambda: up(refresh=True)) == {"update": 1}
            b, before = held(rot.current()), rot.previous()
            assert b.public_key != a.public_key and before == a
            check_outputs(resource_state(s, ":RotatingTenantKey"), rot, previous=True)
            assert authenticates(emulator, a.public_key, a.document.private_key)  # in its grace period
            assert watch.steps[-1].seen["rotating"] == [a.public_key, b.public_key]

            # 3. grace end: A revoked, out of the store's previous slot (Vault: its version destroyed).
            emulator.age_key(tenant, b.public_key, GRACE_DAYS + 1)
            assert watch.step("grace end", lambda: up(refresh=True)) == {"update": 1}
            assert rot.current() == b and rot.previous() is None
            assert not authenticates(emulator, a.public_key, a.document.private_key)
            assert rot.labels_of(a.public_key) == set()
            if store == "vault":
                assert rot.destroyed(a.version)
            check_outputs(resource_state(s, ":RotatingTenantKey"), rot, previous=False)
            assert watch.steps[-1].seen["rotating"] == [b.public_key]

            # 4. keepers: the rotating key rotates at once (C current, B previous); the TenantKey is replaced, its new
            #    key current before the old one is revoked, which then is neither current nor previous in the store.
            keepers["generation"] = "2"
            assert watch.step("keepers", lambda: up()) == {"update": 1, "replace": 1}
            c, t2 = held(rot.current()), held(tk.current())
            assert c.public_key not in (a.public_key, b.public_key) and rot.previous() == b
            check_outputs(resource_state(s, ":RotatingTenantKey"), rot, previous=True)
            assert t2.public_key != t1.public_key and tk.previous() is None
            assert tk.labels_of(t1.public_key) == set()
            if store == "vault":
                assert tk.destroyed(t1.version)
            check_outputs(resource_state(s, ":TenantKey"), tk, previous=False)
            assert live(api, tenant) == {b.public_key, c.public_key, t2.public_key}
            assert watch.steps[-1].seen == {"rotating": [b.public_key, c.public_key],
                                            "tenant": [t1.public_key, t2.public_key]}

            # 5. keepers again, B still in its grace period: B revoked first (cut short) and out of the store, then
            #    D current, C previous; the TenantKey replaced again.
            keepers["generation"] = "3"
            assert watch.step("keepers in grace", lambda: up()) == {"update": 1, "replace": 1}
            d, t3 = held(rot.current()), held(tk.current())
            assert d.public_key not in (b.public_key, c.public_key) and rot.previous() == c
            assert not authenticates(emulator, b.public_key, b.document.private_key)
            assert rot.labels_of(b.public_key) == set() and tk.labels_of(t2.public_key) == set()
            if store == "vault":
                assert rot.destroyed(b.version) and tk.destroyed(t2.version)
            check_outputs(resource_state(s, ":RotatingTenantKey"), rot, previous=True)
            check_outputs(resource_state(s, ":TenantKey"), tk, previous=False)
            assert live(api, tenant) == {c.public_key, d.public_key, t3.public_key}

        # The pollers stopped: a destroy takes the keys away, by design. Never a failure, every key in order.
        for step in watch.steps:
            print(f"[{store}/{face}] {step}")
        assert pollers["rotating"].failures == [] and pollers["tenant"].failures == []
        assert pollers["rotating"].keys_seen == [k.public_key for k in (a, b, c, d)]
        assert pollers["tenant"].keys_seen == [k.public_key for k in (t1, t2, t3)]
        assert all(n >= MIN_POLLS for step in watch.steps for n in step.polls.values()), \
            [str(x) for x in watch.steps]
        assert all(private_key not in backend_text(s) for private_key in private_keys)

        s.stack.destroy(on_output=quiet)  # every key revoked, both secrets gone
        assert live(api, tenant) == set()
        assert rot.current() is None and not rot.app.exists() and tk.current() is None and not tk.app.exists()

