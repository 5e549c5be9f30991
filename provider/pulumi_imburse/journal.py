"""The create journal: which keys this machine's creates made, so a create interrupted by a kill is never lost.

A create that is killed (the provider process, the dynamic provider host or the Pulumi CLI, ``kill -9``) may have
made a key whose answer nobody received: no state holds it, and once it carries its declared name nothing in the
service tells it from a key made by hand. So :func:`~pulumi_imburse.keys.create.create_key` writes a row here
*before* its ``POST`` (write-ahead, committed), with

- ``owner``: the resource's URN (the plugin's ``request.urn``; the dynamic resources compute theirs in the
  constructor and pass it as the internal input ``__urn``),
- the account (base URL and account id, else the account's public key), the tenant,
- ``name``: the name the key is created under, a provisional ``pulumi-pending-<hex>`` or a freshly generated
  name that no state holds,
- ``public_key``: once the ``POST`` answered, and ``state``: ``open`` (made, not yet seen in a state),
  ``recorded`` (the engine named it in a later call: Diff, Read, Update or Delete, so a state holds it) or
  ``settled`` (revoked, or never made),
- when and by which process (pid),
- ``destination``: where the key's private key is delivered (a secret store, :mod:`pulumi_imburse.stores`), so
  settling the row also takes the key's version out of that store.

**Settle at create.** The engine creates a resource only when no state holds it (a resource in the state is
diffed, and a replacement's Diff names the old key first). So before a create for owner X, every ``open`` row of
X in the same account and tenant, other than the create's own, is an interrupted create no state holds: its key
is revoked (by public key when known, and every key of the tenant carrying the row's name, which only that
create used) and the row is settled.

The file is ``$IMBURSE_JOURNAL`` if set, else ``$PULUMI_HOME/imburse/journal.db``, else
``~/.pulumi/imburse/journal.db``: SQLite in WAL mode, safe for several processes (plugins, dynamic hosts,
stacks). It holds no secret: no private key, no token, no account private key. Rows ``recorded`` or ``settled``
more than :data:`PRUNE_AFTER_DAYS` days ago are pruned. No Pulumi import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import ImburseError
from .lifeline import proc_stat

ENV_VAR: Final = "IMBURSE_JOURNAL"
"""The environment variable naming the journal file."""
PRUNE_AFTER_DAYS: Final = 30
"""Rows recorded or settled this many days ago are deleted."""
OPEN, RECORDED, SETTLED = "open", "recorded", "settled"

log = logging.getLogger(__name__)


class JournalError(ImburseError):
    """The create journal's file cannot be opened or written (the message names it and :data:`ENV_VAR`)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS creates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    account TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    public_key TEXT,
    state TEXT NOT NULL DEFAULT 'open',
    created REAL NOT NULL,
    changed REAL NOT NULL,
    pid INTEGER NOT NULL,
    destination TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS creates_owner ON creates (owner, state);
CREATE INDEX IF NOT EXISTS creates_open_key ON creates (public_key) WHERE state = 'open';
"""


def default_path() -> Path:
    """Where the journal is: ``$IMBURSE_JOURNAL``, else ``$PULUMI_HOME/imburse/journal.db``, else
    ``~/.pulumi/imburse/journal.db``."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit)
    home = os.environ.get("PULUMI_HOME")
    base = Path(home) if home else Path.home() / ".pulumi"
    return base / "imburse" / "journal.db"


@dataclass(frozen=True)
class Entry:
    """One create as the journal has it."""

    id: int
    owner: str
    account: str
    tenant_id: str
    name: str
    public_key: str | None
    state: str
    created: float
    pid: int
    destination: str = ""
    """The resolved destination the key's private key was delivered to (JSON, no secret), or empty."""


class Journal:
    """The create journal at ``path`` (see the module docs). Thread-safe and multi-process safe.

    Every method opens its own short transaction; a write waits up to 30 s for another process's.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pruned = False

    def _connect(self) -> sqlite3.Connection:
        """The connection, opened (and the schema made) on first use; call with ``_lock`` held."""
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(creates)")}
            if "destination" not in columns:  # a journal written before destinations existed
                with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                    conn.execute("ALTER TABLE creates ADD COLUMN destination TEXT NOT NULL DEFAULT ''")
            self._conn = conn
        return self._conn

    @contextlib.contextmanager
    def _db(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: ``BEGIN IMMEDIATE`` for a write (it waits for another writer), a plain read else.
        A file that cannot be opened or written raises :class:`JournalError` naming it."""
        try:
            with self._transaction(write=write) as conn:
                yield conn
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"the create journal {self.path} cannot be used ({exc}): make it writable, or set "
                               f"{ENV_VAR} to a writable file (see the README, 'If an update is interrupted')"
                               ) from None

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connect()
            if not write:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def begin(self, owner: str, account: str, tenant_id: str, name: str, destination: str = "") -> int:
        """Write (and commit) the row of a create about to send its ``POST``; its id. ``destination``: where the
        key's private key goes (:func:`pulumi_imburse.stores.destination.to_record`), so a settle can withdraw it
        from the store too. Prunes old rows once per journal object."""
        now = time.time()
        with self._db() as db:
            if not self._pruned:
                db.execute("DELETE FROM creates WHERE state != ? AND changed < ?",
                           (OPEN, now - PRUNE_AFTER_DAYS * 86400))
                self._pruned = True
            cur = db.execute("INSERT INTO creates (owner, account, tenant_id, name, state, created, changed, pid, "
                             "destination) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (owner, account, tenant_id, name, OPEN, now, now, os.getpid(), destination))
            return int(cur.lastrowid or 0)

    def made(self, row: int, public_key: str) -> None:
        """The create of ``row`` got its key: remember its public key."""
        with self._db() as db:
            db.execute("UPDATE creates SET public_key = ?, changed = ? WHERE id = ?", (public_key, time.time(), row))

    def settle(self, rows: Iterable[int]) -> None:
        """``rows`` leave nothing behind (revoked, or never made)."""
        ids = list(rows)
        if not ids:
            return
        with self._db() as db:
            db.executemany("UPDATE creates SET state = ?, changed = ? WHERE id = ?",
                           [(SETTLED, time.time(), i) for i in ids])

    def record(self, public_keys: Iterable[str | None]) -> int:
        """The engine named these keys (a state holds them): their open rows become ``recorded``. One indexed
        read per key, and an ``UPDATE`` only where an open row exists; how many rows changed. Best effort: a journal
        that cannot be used is logged, never fails the engine's call (a Diff, a refresh)."""
        try:
            return self._record([k for k in public_keys if k])
        except JournalError as exc:
            log.warning("%s", exc)
            return 0

    def _record(self, keys: list[str]) -> int:
        with self._db(write=False) as db:  # a read first: most keys named by the engine have no open row
            keys = [k for k in keys if db.execute("SELECT 1 FROM creates WHERE public_key = ? AND state = ? LIMIT 1",
                                                  (k, OPEN)).fetchone() is not None]
        if not keys:
            return 0
        with self._db() as db:
            now = time.time()
            return sum(db.execute("UPDATE creates SET state = ?, changed = ? WHERE public_key = ? AND state = ?",
                                  (RECORDED, now, k, OPEN)).rowcount for k in keys)

    def interrupted(self, owner: str, account: str, tenant_id: str, *, besides: int | None = None) -> list[Entry]:
        """The open rows of ``owner`` in ``account`` and ``tenant_id``, other than ``besides``: creates no state
        holds (see the module docs), oldest first."""
        return self._select("WHERE owner = ? AND account = ? AND tenant_id = ? AND state = ? AND id != ?",
                            (owner, account, tenant_id, OPEN, besides if besides is not None else -1))

    def entries(self) -> list[Entry]:
        """Every row (for tests and diagnostics)."""
        return self._select("", ())

    def _select(self, where: str, params: tuple[str | int, ...]) -> list[Entry]:
        """The rows ``where`` selects, oldest first, as :class:`Entry` (its fields are the columns read)."""
        columns = ", ".join(f.name for f in dataclasses.fields(Entry))
        with self._db(write=False) as db:
            rows = db.execute(f"SELECT {columns} FROM creates {where} ORDER BY id", params).fetchall()  # noqa: S608
        return [Entry(*r) for r in rows]


_journals: dict[Path, Journal] = {}
_journals_lock = threading.Lock()


def journal() -> Journal:
    """This process's journal at :func:`default_path` (one object per path)."""
    path = default_path()
    with _journals_lock:
        found = _journals.get(path)
        if found is None:
            found = _journals[path] = Journal(path)
        return found


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (another process's create may still be running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = proc_stat(pid)  # Linux: a zombie (killed, not reaped yet) is gone
    return fields is None or fields[:1] != ["Z"]
