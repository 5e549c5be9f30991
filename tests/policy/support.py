"""Running the imburse-guardrails pack through the real Pulumi CLI, and reading what it reported.

The pack runs as the executable analyzer ``policy/analyzer`` (``--policy-pack policy/analyzer``), which
needs no ``pulumi-language-python``; ``PULUMI_POLICY_PYTHON`` pins the interpreter to this test run's, so a
``policy/venv`` left in the working tree does not change what is tested.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from pulumi import automation as auto
from pulumi.runtime.proto import analyzer_pb2_grpc

from pulumi_imburse.tenant import TYPE_TOKEN as TENANT_TYPE
from pulumi_imburse.tenant_key import TYPE_TOKEN as KEY_TYPE
from pulumi_imburse.testing import EmulatedStack
from tests.engine import REPO, quiet

PACK = REPO / "policy" / "analyzer"
PACK_ENV = {"PULUMI_POLICY_PYTHON": sys.executable}
STACK_TYPE = "pulumi:pulumi:Stack"

__all__ = ["KEY_TYPE", "PACK", "PACK_ENV", "STACK_TYPE", "TENANT_TYPE", "Run", "Violation", "preview", "running_pack",
           "up", "urn", "write_config"]


def urn(stack: str, project: str, type_: str, name: str, parent_type: str | None = None) -> str:
    """A resource's URN (``parent_type`` for a child of a component or custom resource)."""
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


@dataclass(frozen=True)
class Violation:
    """One policy event as the engine reported it."""

    policy: str
    level: str
    urn: str
    message: str
    """What the CLI prints: the policy's description, a newline, the violation's own message."""

    @property
    def resource(self) -> str:
        """The resource name at the end of the URN ("" for a stack-level report without a resource)."""
        return self.urn.rsplit("::", 1)[-1] if self.urn else ""


@dataclass
class Run:
    """What one CLI run reported: the policy events, the engine events, and whether it failed."""

    events: list[auto.EngineEvent] = field(default_factory=list)
    error: auto.CommandError | None = None
    result: auto.PreviewResult | auto.UpResult | None = None

    @property
    def violations(self) -> list[Violation]:
        """Every policy event, in the order the engine sent them."""
        return [Violation(e.policy_event.policy_name, str(e.policy_event.enforcement_level),
                          e.policy_event.resource_urn or "", e.policy_event.message)
                for e in self.events if e.policy_event is not None]

    def verdicts(self) -> dict[tuple[str, str], str]:
        """``{(resource name, policy): level}`` of every policy event."""
        return {(v.resource, v.policy): v.level for v in self.violations}

    def of(self, resource: str) -> dict[str, str]:
        """``{policy: level}`` of the events about resource ``resource``."""
        return {v.policy: v.level for v in self.violations if v.resource == resource}

    def message(self, resource: str, policy: str) -> str:
        """The message of the one event of ``policy`` about ``resource``."""
        (found,) = [v.message for v in self.violations if v.resource == resource and v.policy == policy]
        return found

    @property
    def failed(self) -> bool:
        return self.error is not None


def write_config(path: Path, config: Mapping[str, Any] | str) -> str:
    """Write a ``--policy-pack-config`` file (a mapping as JSON, a string as it is) and return its path."""
    path.write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
    return str(path)


def _run(op: Callable[..., Any], config: str | None, packs: Iterable[str] | None, **kwargs: Any) -> Run:
    run = Run()
    try:
        run.result = op(policy_packs=list(packs) if packs is not None else [str(PACK)],
                        policy_pack_configs=[config] if config else None,
                        on_event=run.events.append, on_output=kwargs.pop("on_output", quiet), **kwargs)
    except auto.CommandError as e:
        run.error = e
    return run


def preview(s: EmulatedStack, config: str | None = None, *, packs: Iterable[str] | None = None, **kwargs: Any) -> Run:
    """``pulumi preview --policy-pack policy/analyzer [--policy-pack-config config]``; never raises on failure."""
    return _run(s.stack.preview, config, packs, **kwargs)


def up(s: EmulatedStack, config: str | None = None, *, packs: Iterable[str] | None = None, **kwargs: Any) -> Run:
    """``pulumi up --policy-pack policy/analyzer [--policy-pack-config config]``; never raises on failure."""
    return _run(s.stack.up, config, packs, **kwargs)


@contextlib.contextmanager
def running_pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started as ``policy/analyzer`` starts it (the engine's address is not used), and a client of its
    analyzer protocol: for tests that send ``Configure``/``Analyze``/``AnalyzeStack`` exactly as the engine would,
    without a CLI run."""
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(PACK.parent)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
