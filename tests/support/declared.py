"""What the Pulumi SDK sends the engine for one resource declaration, without an engine.

A real ``TenantKey``/``Tenant`` (or any resource) is declared under the SDK's own mocks, and the
``RegisterResourceRequest`` the SDK sends is decoded: the wire-form inputs (``__provider`` included,
unknowns as the engine's sentinel, secrets unwrapped), which inputs were secret, and the
``additionalSecretOutputs``. Tests and benchmarks send exactly these properties to a provider host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor


@dataclass(frozen=True)
class Registration:
    """One resource as the SDK registers it."""

    type: str
    name: str
    inputs: dict[str, Any]
    """Wire-form inputs: camelCase names, ``__provider`` included, unknowns as ``rpc.UNKNOWN``."""
    secret_inputs: frozenset[str]
    """Top-level inputs the SDK sent as secrets."""
    additional_secret_outputs: frozenset[str]
    """Outputs the engine is told to keep secret."""


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {}  # only the inputs the SDK sent matter here

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _Recorder(MockMonitor):
    def __init__(self) -> None:
        super().__init__(_Mocks())
        self.requests: list[Any] = []

    def RegisterResource(self, request: Any) -> Any:
        self.requests.append(request)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def registration(build: Callable[[], pulumi.Resource], *, preview: bool = False) -> Registration:
    """Declare ``build()`` under the SDK's mocks and return what the SDK registered for it.

    With ``preview=True`` inputs that depend on other resources' outputs arrive as unknowns. This
    replaces any mocks configured before; it is for tests and tools, not for use inside a program.
    """
    recorder = _Recorder()
    pulumi.runtime.set_mocks(_Mocks(), preview=preview, monitor=recorder)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def declare() -> pulumi.Output[Any]:
        return build().urn

    declare()
    request = recorder.requests[-1]
    raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
    return Registration(
        type=request.type,
        name=request.name,
        inputs={k: _wire(rpc.unwrap_rpc_secret(v)) for k, v in raw.items()},
        secret_inputs=frozenset(k for k, v in raw.items() if rpc.is_rpc_secret(v)),
        additional_secret_outputs=frozenset(request.additionalSecretOutputs),
    )


def _wire(value: Any) -> Any:
    """Unknowns as the engine puts them on the wire to a provider: the UNKNOWN sentinel string."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value
