"""A provider process exits when the engine that started it goes away (``pulumi_imburse.lifeline``), also under a
launcher script that does not ``exec`` it (Pulumi's ``pulumi-resource-pulumi-python``), and with its stderr a
broken pipe (the engine read it). The CLI-level check is ``tests/faults/test_crash_safety.py`` (kill -9 of the CLI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pulumi_imburse.lifeline import proc_stat

WATCHED = ("import sys, time; from pulumi_imburse.lifeline import watch_parent; "
           "assert watch_parent('test provider', interval=0.1); print('watching', flush=True); time.sleep(120)")


def _pid_file_child(parent: subprocess.Popen[str], tmp_path: Path) -> int:
    """The pid the engine stand-in wrote once its child (the watched process) said it watches."""
    assert parent.stdout is not None
    assert parent.stdout.readline().strip() == "watching"
    return int((tmp_path / "child.pid").read_text())


def _gone(pid: int, deadline_s: float = 10.0) -> bool:
    """Whether ``pid`` is gone (or a zombie) before the deadline; polled, not slept."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        fields = proc_stat(pid)
        if fields is None or fields[0] == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("launcher", [False, True], ids=["direct", "under-a-launcher-script"])
def test_the_provider_exits_when_its_engine_is_killed(tmp_path: Path, launcher: bool) -> None:
    child = f'"{sys.executable}" -c "{WATCHED}"'
    if launcher:  # the engine runs a shell script, which runs Python without exec (as Pulumi's launcher does)
        script = tmp_path / "pulumi-resource-test"
        script.write_text(f"#!/bin/sh\n{child}\n")
        script.chmod(0o755)
        child = str(script)
    # The engine stand-in: starts the provider with a pipe as its stderr, then is killed with -9.
    first = watched = 0
    engine = subprocess.Popen(["bash", "-c", f"{child} 2>&1 & echo $! > {tmp_path}/child.pid; wait"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        first = _pid_file_child(engine, tmp_path)
        watched = first
        if launcher:  # the Python process is the launcher's child
            found = subprocess.run(["pgrep", "-P", str(first)], capture_output=True, text=True, check=False)
            watched = int(found.stdout.split()[0])
        assert engine.stdout is not None
        engine.stdout.close()  # the engine's end of the provider's stderr: gone with it
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait()
        assert _gone(watched), f"the provider process {watched} outlived its engine"
    finally:
        for pid in {first, watched} - {0}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
