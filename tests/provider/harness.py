"""Helpers for driving the real provider host (``python -m pulumi.dynamic``) over gRPC.

Properties are produced by the SDK itself: a real ``TenantKey``/``Tenant`` declaration is registered
under the SDK's mocks, and the ``RegisterResourceRequest`` it sends is what the host receives.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from pulumi_imburse.emulator.process import EmulatorProcess

from ..support.declared import registration
from ..support.host import ProviderHost

PROJECT = "provider-tests"
STACK = "test"


def sdk_inputs(build: Callable[[], pulumi.CustomResource], *, preview: bool = False) -> dict[str, Any]:
    """The wire properties the SDK sends for the resource ``build()`` declares (``__provider`` included).

    With ``preview=True`` inputs that depend on other resources' outputs arrive as unknowns.
    """
    return registration(build, preview=preview).inputs


def urn(type_name: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::pulumi-python:dynamic/imburse:{type_name}::{name}"


def clean_env() -> dict[str, str]:
    """This process's environment without any IMBURSE_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("IMBURSE_")}


def stack_config(emu: EmulatorProcess) -> dict[str, Any]:
    return {"imburse:baseUrl": emu.base_url, "imburse:publicKey": emu.public_key,
            "imburse:privateKey": emu.private_key, "imburse:accountId": emu.account_id}


def start_host(tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None) -> ProviderHost:
    """A provider host in ``tmp_path``, with its own create journal there (``pulumi_imburse.journal``) unless
    ``env`` names one: tests that declare the same resources never share one."""
    env = {"IMBURSE_JOURNAL": str(tmp_path / "journal.db"), **(env if env is not None else clean_env())}
    return ProviderHost(cwd=tmp_path, env=env, config=config, project=PROJECT, stack=STACK)


def api_requests(emu: EmulatorProcess) -> int:
    """Every API request the emulator has received so far."""
    return sum(emu.stats()["requests"].values())
