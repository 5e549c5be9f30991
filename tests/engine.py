"""Support for tests through the real Pulumi CLI (Automation API, local file backend, the emulator).

Every stack-level test goes through :func:`pulumi_imburse.testing.emulated_stack`, which runs the real
``pulumi`` CLI found on PATH (`make pulumi-cli` puts one in .tools/bin; tests/conftest.py puts that first).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import AuthenticationError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TOKEN_ROUTE = "POST /identity/v1/hmac/management"
WRITE_METHODS = ("POST ", "PUT ", "DELETE ")


def quiet(_line: str) -> None:
    """An ``on_output`` that drops the CLI's progress output."""


class Output:
    """Collects the CLI's output (``on_output=out``), to assert on what a user sees."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def changes(result: auto.UpResult | auto.RefreshResult | auto.DestroyResult | auto.PreviewResult) -> dict[str, int]:
    """The non-``same`` counts of an operation's summary, e.g. ``{"create": 4}``."""
    summary = result.change_summary if isinstance(result, auto.PreviewResult) else result.summary.resource_changes
    return {k: v for k, v in dict(summary or {}).items() if v and k != "same"}


def api_writes(emu: EmulatorProcess) -> int:
    """Write requests (POST/PUT/DELETE) the emulator has served, token exchanges excluded."""
    return sum(n for route, n in emu.stats()["requests"].items()
               if route.startswith(WRITE_METHODS) and route != TOKEN_ROUTE)


def strings(value: Any) -> set[str]:
    """Every non-empty string inside ``value`` (nested dicts and lists)."""
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, dict):
        return set().union(*(strings(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(strings(v) for v in value)) if value else set()
    return set()


def step_ops(events: Iterable[auto.EngineEvent], name: str) -> list[str]:
    """The engine's step ops (``create``, ``create-replacement``, ``delete-replaced``...) for resources named
    ``name``, in the order the engine finished them."""
    ops = []
    for event in events:
        done = event.res_outputs_event
        if done is not None and done.metadata.urn.endswith(f"::{name}"):
            ops.append(str(done.metadata.op.value if hasattr(done.metadata.op, "value") else done.metadata.op))
    return ops


def authenticates(emu: EmulatorProcess, public_key: str, private_key: str) -> bool:
    """Whether the emulator gives this key a bearer token (False on 401: unknown or revoked key)."""
    try:
        with ImburseClient(emu.base_url, public_key, private_key) as as_key:
            as_key.access_token()
    except AuthenticationError:
        return False
    return True
