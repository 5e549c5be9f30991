"""The create journal (``pulumi_imburse.journal``) and how ``create_key`` writes it: a row committed before the
``POST``, the public key as soon as it answers, settled when nothing is left, and the interrupted creates of the
same resource revoked at its next create (issue 17, "Never lose track of a key")."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse import journal as journal_mod
from pulumi_imburse.errors import ImburseAPIError, NotFoundError, OutcomeUnknownError, ServerError, ValidationError
from pulumi_imburse.journal import OPEN, RECORDED, SETTLED, Journal, default_path
from pulumi_imburse.keys import create
from pulumi_imburse.ledger import Ledger
from pulumi_imburse.models import ApiKey

pytestmark = pytest.mark.unit

URN = "urn:pulumi:dev::app::imburse:index:TenantKey::ci"
TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
ACCOUNT = "http://127.0.0.1:1 acct"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "journal.db")


def test_the_journal_file_is_named_by_env_then_pulumi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMBURSE_JOURNAL", str(tmp_path / "j.db"))
    assert default_path() == tmp_path / "j.db"
    monkeypatch.delenv("IMBURSE_JOURNAL")
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "imburse" / "journal.db"
    monkeypatch.delenv("PULUMI_HOME")
    assert default_path() == Path.home() / ".pulumi" / "imburse" / "journal.db"


def test_interrupted_are_the_open_rows_of_the_same_owner_account_and_tenant(journal: Journal) -> None:
    mine = journal.begin(URN, ACCOUNT, TENANT, "pulumi-pending-a")
    journal.begin(URN + "2", ACCOUNT, TENANT, "pulumi-pending-b")  # another resource
    journal.begin(URN, "other account", TENANT, "pulumi-pending-c")
    journal.begin(URN, ACCOUNT, "other tenant", "pulumi-pending-d")
    done = journal.begin(URN, ACCOUNT, TENANT, "pulumi-pending-e")
    journal.settle([done])
    assert [e.id for e in journal.interrupted(URN, ACCOUNT, TENANT)] == [mine]
    assert journal.interrupted(URN, ACCOUNT, TENANT, besides=mine) == []


def test_record_marks_only_open_rows_of_the_keys_named(journal: Journal) -> None:
    a, b = journal.begin(URN, ACCOUNT, TENANT, "n-a"), journal.begin(URN, ACCOUNT, TENANT, "n-b")
    journal.made(a, "pk-a")
    journal.made(b, "pk-b")
    assert journal.record([None, "", "pk-unknown"]) == 0
    assert journal.record(["pk-a"]) == 1
    assert journal.record(["pk-a"]) == 0  # already recorded
    states = {e.public_key: e.state for e in journal.entries()}
    assert states == {"pk-a": RECORDED, "pk-b": OPEN}
    assert [e.id for e in journal.interrupted(URN, ACCOUNT, TENANT)] == [b]


def test_rows_recorded_or_settled_over_30_days_ago_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    old = Journal(path)
    kept_open = old.begin(URN, ACCOUNT, TENANT, "open-one")
    recorded, settled, fresh = (old.begin(URN, ACCOUNT, TENANT, n) for n in ("rec", "set", "fresh"))
    old.made(recorded, "pk-rec")
    old.record(["pk-rec"])
    old.settle([settled, fresh])
    long_ago = time.time() - 31 * 86400
    with sqlite3.connect(path) as db:
        db.execute("UPDATE creates SET changed = ? WHERE id IN (?, ?, ?)", (long_ago, kept_open, recorded, settled))
    old.close()
    Journal(path).begin(URN, ACCOUNT, TENANT, "new")  # a new journal object prunes at its first write
    names = {e.name for e in Journal(path).entries()}
    assert names == {"open-one", "fresh", "new"}  # an open row is never pruned: it is a key nobody settled


def _write_rows(path: str, owner: str, n: int) -> None:
    j = Journal(path)
    for i in range(n):
        row = j.begin(owner, ACCOUNT, TENANT, f"{owner}-{i}")
        j.made(row, f"{owner}-pk-{i}")
        j.record([f"{owner}-pk-{i}"])


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "journal.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_rows, args=(path, f"w{i}", 100)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    entries = Journal(path).entries()
    assert len(entries) == 400 and {e.state for e in entries} == {RECORDED}


def test_an_ended_process_is_not_alive_and_this_one_is() -> None:
    assert journal_mod.process_alive(os.getpid())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert not journal_mod.process_alive(gone.pid)


# ------------------------------------------------------------------ create_key and the journal


@dataclass
class FakeService:
    """A tenant's keys, and a client whose calls fail where told; each POST checks the journal first."""

    journal: Journal
    fail: dict[str, Exception] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    rows_at_post: list[list[Any]] = field(default_factory=list)
    made: int = 0
    base_url: str = "http://127.0.0.1:1"
    account_id: str = "acct"
    public_key: str = "account-key"

    def operation(self) -> Any:
        return contextlib.nullcontext()

    def _call(self, name: str) -> None:
        self.calls.append(name)
        error = self.fail.get(name)
        if error is not None:
            raise error

    def create_key(self, tenant_id: str, roles: list[str], name: str | None = None) -> ApiKey:
        self.rows_at_post.append([(e.name, e.state) for e in self.journal.entries()])
        self._call("create_key")
        self.made += 1
        key = ApiKey(account_id="acct", tenant_id=tenant_id, name=str(name), public_key=f"pk-{self.made}",
                     roles=tuple(roles), private_key="secret", created_at="2026-01-01T00:00:00Z")
        self.keys[key.public_key] = key
        return key

    def update_key(self, tenant_id: str, public_key: str, roles: list[str], name: str | None) -> ApiKey:
        self._call("update_key")
        key = ApiKey(account_id="acct", tenant_id=tenant_id, name=str(name), public_key=public_key,
                     roles=tuple(roles), created_at="2026-01-01T00:00:00Z")
        self.keys[public_key] = key
        return key

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        self._call("list_keys")
        return list(self.keys.values())

    def delete_key(self, tenant_id: str, public_key: str) -> None:
        self._call("delete_key")
        if self.keys.pop(public_key, None) is None:
            raise NotFoundError("no such key", status=404, method="DELETE", path="/k")


def unknown() -> OutcomeUnknownError:
    return OutcomeUnknownError("lost", status=504, method="POST", path="/keys")


def failing() -> ServerError:
    return ServerError("down", status=500, method="GET", path="/keys")


def make(service: FakeService, name: str = "ci", owner: str = URN, ledger: Ledger | None = None) -> ApiKey:
    warnings: list[str] = []
    return create.create_key(service, TENANT, ["tenant-app-read"], name,  # type: ignore[arg-type]
                             ledger=ledger or Ledger(service.journal), warn=warnings.append, owner=owner)


def test_the_row_is_committed_before_the_post_and_holds_the_public_key_after(journal: Journal) -> None:
    service = FakeService(journal)
    key = make(service)
    [at_post] = service.rows_at_post
    [(name, state)] = at_post
    assert state == OPEN and name.startswith("pulumi-pending-")
    [entry] = journal.entries()
    assert (entry.owner, entry.public_key, entry.state, entry.name) == (URN, key.public_key, OPEN, name)
    assert "secret" not in repr(journal.entries())  # no private key in the journal


def test_a_fresh_generated_name_is_journalled_before_its_post(journal: Journal) -> None:
    ledger = Ledger(journal)
    ledger.fresh_names.add("ci-0a1b2c3d")
    service = FakeService(journal)
    make(service, name="ci-0a1b2c3d", ledger=ledger)
    assert service.rows_at_post == [[("ci-0a1b2c3d", OPEN)]]
    assert "update_key" not in service.calls  # one request: no provisional name, no rename


@pytest.mark.parametrize(("fail", "state"), [
    ({"create_key": ValidationError("refused", status=400, method="POST", path="/keys")}, SETTLED),
    ({"update_key": failing()}, SETTLED),  # the rename failed; the key was revoked
    ({"update_key": failing(), "delete_key": failing()}, OPEN),  # ... and could not be revoked: left open
])
def test_a_failed_create_settles_its_row_only_when_nothing_is_left(journal: Journal, fail: dict[str, Exception],
                                                                   state: str) -> None:
    service = FakeService(journal, fail=fail)
    with pytest.raises(ImburseAPIError):
        make(service)
    [entry] = journal.entries()
    assert entry.state == state


def test_an_unknown_outcome_whose_clean_up_failed_leaves_the_row_open(journal: Journal) -> None:
    service = FakeService(journal, fail={"create_key": unknown(), "list_keys": failing()})
    with pytest.raises(OutcomeUnknownError):
        make(service)
    [entry] = journal.entries()
    assert entry.state == OPEN and entry.public_key is None


def test_the_next_create_of_the_resource_revokes_what_its_interrupted_creates_made(journal: Journal) -> None:
    service = FakeService(journal)
    interrupted = make(service)  # made, never recorded: as if the engine never got the answer
    pending = service.create_key(TENANT, ["tenant-app-read"], "pulumi-pending-" + "0" * 32)  # its POST unanswered
    journal.begin(URN, create.account_of(service), TENANT, pending.name)  # type: ignore[arg-type]
    other = make(service, owner=URN + "-other")  # another resource's open create: not touched
    warnings: list[str] = []
    again = create.create_key(service, TENANT, ["tenant-app-read"], "ci",  # type: ignore[arg-type]
                              ledger=Ledger(journal), warn=warnings.append, owner=URN)
    assert set(service.keys) == {other.public_key, again.public_key}
    assert interrupted.public_key not in service.keys and pending.public_key not in service.keys
    assert len(warnings) == 2 and all("interrupted" in w and URN in w for w in warnings)
    assert "secret" not in " ".join(warnings)
    states = {e.name if e.public_key is None else e.public_key: e.state for e in journal.entries()}
    assert states[interrupted.public_key] == SETTLED and states[pending.name] == SETTLED
    assert states[again.public_key] == OPEN and states[other.public_key] == OPEN


def test_a_key_the_engine_named_is_never_settled(journal: Journal) -> None:
    service = FakeService(journal)
    first = make(service)
    journal.record([first.public_key])  # Diff of the old resource before its replacement
    second = make(service)
    assert set(service.keys) == {first.public_key, second.public_key}


def test_a_create_with_no_owner_settles_nothing(journal: Journal) -> None:
    service = FakeService(journal)
    first = make(service, owner="")
    second = make(service, owner="")
    assert set(service.keys) == {first.public_key, second.public_key}


def test_a_journal_that_cannot_be_written_fails_a_create_naming_it_but_never_a_diff(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    broken = Journal(tmp_path / "file" / "journal.db")
    assert broken.record(["pk-a"]) == 0  # Diff, Read: logged, not failed
    with pytest.raises(journal_mod.JournalError, match=r"file/journal\.db.*IMBURSE_JOURNAL"):
        make(FakeService(broken))
