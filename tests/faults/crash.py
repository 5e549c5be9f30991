"""Kill a process of a ``pulumi up`` at a random moment, run the documented recovery, and count what is left.

Used by ``tests/faults/test_crash_safety.py`` (a few kills) and ``make crash-run`` (``scripts/crash_run.py``, 20
kills). One run: a fresh tenant, a fresh stack of ``tests/faults/programs/crash`` (named and auto-named keys, the
dynamic resources and the plugin), ``pulumi up`` by the real CLI against an emulator with latency (it commits,
then waits, so a kill during the wait loses the answer of a committed create); at a random moment while keys are
being made, ``kill -9`` of the plugin, the dynamic provider host or the CLI. Then the commands the README
documents ("If an update is interrupted"), exactly as written there (:data:`RECOVERY`), and the count: live keys
of the tenant not in the state (orphans), names carried twice, pending operations, state keys not live.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.lifeline import proc_stat
from pulumi_imburse.plugin import schema
from pulumi_imburse.testing import emulated_stack
from pulumi_imburse.testing.stacks import EmulatedStack

PROGRAM: Final = Path(__file__).resolve().parent / "programs" / "crash"
TARGETS: Final = ("plugin", "dynamic", "cli")
"""What is killed: the ``pulumi-resource-imburse`` plugin, the dynamic provider host, or the ``pulumi`` CLI."""
RECOVERY: Final = (("cancel", "--yes"), ("up", "--yes", "--skip-preview"),
                   ("refresh", "--clear-pending-creates", "--yes"))
"""The README's "If an update is interrupted" commands (``pulumi`` and these arguments), in order."""
KEY_TYPES: Final = (schema.TENANT_KEY_TOKEN, schema.ROTATING_KEY_TOKEN,
                    "pulumi-python:dynamic/imburse:TenantKey", "pulumi-python:dynamic/imburse:RotatingTenantKey")
DYNAMIC_TYPES: Final = KEY_TYPES[2:]
LATENCY_MS: Final = 300
CREATE_KEY_ROUTE: Final = "POST /v1/tenant/{tenantId}/keys"
GONE_WITHIN_S: Final = 15.0
"""The deadline for the provider processes of a killed CLI to exit (they poll their parent every 0.5 s)."""


@dataclass
class Outcome:
    """One kill and its recovery, as counted afterwards."""

    target: str
    after_creates: int
    """The kill came once the emulator had received this many key creates of this ``up``..."""
    delay_s: float
    """... and this long after."""
    killed: bool
    """Whether the target was still running when the kill came (else the ``up`` had finished)."""
    keys: int = 0
    in_state: int = 0
    orphans: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    pending: int = 0
    missing: list[str] = field(default_factory=list)
    """Public keys in the state that the service does not have."""
    urn_mismatches: list[str] = field(default_factory=list)
    """Dynamic resources whose computed ``__urn`` input is not their URN."""
    survivors: list[int] = field(default_factory=list)
    """Provider processes of the killed CLI still running at the deadline."""
    gone_s: float | None = None
    """How long the provider processes of a killed CLI took to exit."""
    seconds: float = 0.0
    log: str = ""

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.duplicates or self.pending or self.missing or self.urn_mismatches
                    or self.survivors)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "log"}


def _children() -> dict[int, int]:
    """``{pid: parent pid}`` of every process (Linux ``/proc``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = proc_stat(int(entry.name))
            if fields is not None:
                found[int(entry.name)] = int(fields[1])
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    fields = proc_stat(pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``."""
    parents = _children()
    below: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - below
        below |= frontier
    return below


def providers(cli_pid: int) -> dict[str, list[int]]:
    """The provider processes under the CLI ``cli_pid``: ``{"plugin": [...], "dynamic": [...]}``."""
    found: dict[str, list[int]] = {"plugin": [], "dynamic": []}
    for pid in descendants(cli_pid):
        args = _cmdline(pid)
        if "pulumi-resource-imburse" in args and "python" in args.split(" ")[0] + args:
            found["plugin"].append(pid)
        elif "-m pulumi.dynamic" in args:
            found["dynamic"].append(pid)
    return found


def pulumi(s: EmulatedStack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI on the stack, as a user runs it in the project directory."""
    exe = shutil.which("pulumi")
    assert exe, "the Pulumi CLI is not on PATH (make pulumi-cli)"
    return subprocess.run([exe, *args, "--stack", s.stack.name, "--non-interactive"], cwd=s.work_dir,
                          env={**os.environ, **s.env}, capture_output=True, text=True, timeout=timeout, check=False)


def run_once(emu: EmulatorProcess, api: ImburseClient, target: str, rng: random.Random, *,
             count: int = 50) -> Outcome:
    """One kill of ``target`` during an ``up`` of ``count`` keys, at a moment drawn from ``rng``; the recovery; the
    count (see the module docs).

    The moment: once the emulator has received a number of key creates drawn from 1 to ``count - 5`` (so the kill
    falls while keys are being made, however fast the machine) and the process to kill runs, plus a delay drawn
    from 0 to 0.6 s (a create's request and its answer's wait, or between two)."""
    started = time.monotonic()
    tenant_id = api.create_tenant(f"crash {target}").tenant_id
    after_creates, jitter = rng.randint(1, max(1, count - 5)), round(rng.uniform(0.0, 0.6), 2)
    outcome = Outcome(target, after_creates, jitter, killed=False)
    log: list[str] = []
    try:
        with emulated_stack(PROGRAM, emulator=emu, inline=False, destroy_on_exit=False,
                            config={"crash:tenantId": tenant_id, "crash:count": str(count)}) as s:
            exe = shutil.which("pulumi")
            assert exe
            before = creates(emu)
            up = subprocess.Popen([exe, "up", "--yes", "--skip-preview", "--non-interactive", "--stack", s.stack.name],
                                  cwd=s.work_dir, env={**os.environ, **s.env}, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
            deadline = time.monotonic() + 120
            procs = providers(up.pid)
            while up.poll() is None and time.monotonic() < deadline and (
                    creates(emu) - before < after_creates or (target != "cli" and not procs[target])):
                time.sleep(0.02)
                procs = providers(up.pid)
            ready = time.monotonic()
            while up.poll() is None and time.monotonic() < ready + jitter:
                time.sleep(0.01)
            procs = providers(up.pid)
            family = descendants(up.pid)
            victims = [up.pid] if target == "cli" else procs[target]
            if up.poll() is None and victims:
                for pid in victims:
                    os.kill(pid, signal.SIGKILL)
                outcome.killed = True
            killed_at = time.monotonic()
            out, _ = up.communicate(timeout=300)
            log.append(f"$ pulumi up (killed {target} after {after_creates} creates + {jitter} s: {outcome.killed})"
                       f"\n{out}")
            if target == "cli" and outcome.killed:
                left = procs["plugin"] + procs["dynamic"]
                gone_by = time.monotonic() + GONE_WITHIN_S
                while any(_alive(p) for p in left) and time.monotonic() < gone_by:
                    time.sleep(0.05)
                outcome.survivors = [p for p in left if _alive(p)]
                outcome.gone_s = round(time.monotonic() - killed_at, 2)
                # Pulumi's language host (and the program under it) outlive a killed CLI: not ours to leave running.
                for pid in [*outcome.survivors, *(p for p in family if _alive(p))]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            for args in RECOVERY:
                done = pulumi(s, *args)
                log.append(f"$ pulumi {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}")
                assert done.returncode == 0, log[-1]
            count_outcome(outcome, s, api, tenant_id)
    finally:
        outcome.seconds = round(time.monotonic() - started, 1)
        outcome.log = "\n".join(log)
        if tenant_id in {t.tenant_id for t in api.list_tenants()}:
            api.delete_tenant(tenant_id)
    return outcome


def creates(emu: EmulatorProcess) -> int:
    """Key creates the emulator has received so far."""
    return int(emu.stats()["requests"].get(CREATE_KEY_ROUTE, 0))


def count_outcome(outcome: Outcome, s: EmulatedStack, api: ImburseClient, tenant_id: str) -> None:
    """Fill ``outcome`` from the tenant's live keys and the stack's state (``pulumi stack export``)."""
    exported = pulumi(s, "stack", "export")
    assert exported.returncode == 0, exported.stderr
    deployment = json.loads(exported.stdout)["deployment"]
    outcome.pending = len(deployment.get("pending_operations") or [])
    state: set[str] = set()
    for r in deployment.get("resources") or []:
        if r["type"] not in KEY_TYPES:
            continue
        outs = r.get("outputs") or {}
        state |= {outs[k] for k in ("publicKey", "previousPublicKey") if outs.get(k)}
        # A refresh records the inputs Read returns, which leave the internal __urn out (the next Check adds it).
        if r["type"] in DYNAMIC_TYPES and (r.get("inputs") or {}).get("__urn", r["urn"]) != r["urn"]:
            outcome.urn_mismatches.append(r["urn"])
    live = api.list_keys(tenant_id)
    outcome.keys, outcome.in_state = len(live), len(state)
    outcome.orphans = sorted(f"{k.public_key} {k.name}" for k in live if k.public_key not in state)
    outcome.duplicates = sorted(n for n, c in Counter(k.name for k in live).items() if c > 1)
    outcome.missing = sorted(state - {k.public_key for k in live})
