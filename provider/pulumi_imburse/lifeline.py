"""A provider process exits when the Pulumi engine that started it goes away.

The engine (the ``pulumi`` CLI) starts the provider plugin and the dynamic provider host as its children. If the
CLI is killed (``kill -9``, an out-of-memory kill, a closed CI job) they are re-parented and would live on, holding
an API client and possibly finishing a create whose answer nobody will read. :func:`watch_parent` starts a daemon
thread that polls, about every :data:`POLL_SECONDS`, whether the process's parent is still the one it started
with, and exits the process (status 1, a line on stderr) when it is not.

The dynamic provider host runs under Pulumi's ``pulumi-resource-pulumi-python`` launcher, a shell script that
does not ``exec`` Python: the launcher is the parent and outlives the CLI. Where the parent is such a launcher
(Linux: its command line, from ``/proc``), the launcher's own parent is watched too. No Pulumi import.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Final

POLL_SECONDS: Final = 0.5
"""How often the parent is checked."""
LAUNCHER_MARK: Final = "pulumi-resource-"
"""A parent whose command line carries this (and that is not this process's own executable) is a launcher script:
its parent is the engine."""

_started = threading.Lock()
_watching = False


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (Linux): ``[state, parent pid, ...]``; ``None``
    when unknown or gone. The name is cut at its last ``)``, since it may itself hold spaces and parentheses."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (Linux ``/proc``), or ``None`` when unknown or gone."""
    fields = proc_stat(pid)
    return int(fields[1]) if fields is not None and len(fields) > 1 else None


def _cmdline(pid: int) -> list[str]:
    try:
        return [a for a in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if a]
    except OSError:
        return []


def _is_launcher(pid: int) -> bool:
    """Whether ``pid`` is a shell running a Pulumi provider launcher script (it did not ``exec`` its child)."""
    args = _cmdline(pid)
    return len(args) >= 2 and Path(args[0]).name in ("sh", "bash", "dash") and LAUNCHER_MARK in Path(args[1]).name


def watch_parent(what: str, *, interval: float = POLL_SECONDS) -> bool:
    """Start (once per process) the daemon thread that exits this process when its engine goes away; ``what``
    names the process in the line it prints. ``False`` if already started or there is no parent to watch."""
    global _watching
    with _started:
        if _watching:
            return False
        parent = os.getppid()
        if parent <= 1:
            return False
        grand = parent_of(parent) if _is_launcher(parent) else None
        _watching = True

    def gone() -> str | None:
        if os.getppid() != parent:
            return f"its parent (pid {parent}) exited"
        if grand is not None and parent_of(parent) != grand:
            return f"the engine (pid {grand}) exited"
        return None

    def run() -> None:
        while True:
            time.sleep(interval)
            why = gone()
            if why:
                # The engine read our stderr: the pipe is likely broken now, and must not stop the exit.
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(f"{what}: {why}, so the Pulumi engine is gone; exiting.\n")
                    sys.stderr.flush()
                os._exit(1)

    threading.Thread(target=run, name="imburse-lifeline", daemon=True).start()
    return True
