"""Locks for what tests share beyond one process: xdist workers, and other checkouts on the same machine.

``make test`` runs the suite in pytest-xdist workers, each with its own session emulator on a free port and its
own temporary directories; only what has a fixed name is shared, and a test that uses it holds its lock.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from filelock import FileLock

LOCK_DIR = Path(tempfile.gettempdir())
WAIT = 600.0
"""Seconds a test waits for a lock before it fails (pytest-timeout bounds the test itself)."""


def fixed_ports() -> FileLock:
    """Held by a test that binds a fixed port (``make demo``'s 18787, which examples/*/Pulumi.dev.yaml name): one
    such test at a time on this machine, as two would fail with "address already in use"."""
    return FileLock(str(LOCK_DIR / "pulumi-imburse-fixed-ports.lock"), timeout=WAIT)
