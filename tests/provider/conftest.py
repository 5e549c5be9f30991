"""Fixtures for the provider tests: a configured host, an out-of-band client, a fresh tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from ..support.host import ProviderHost
from .harness import stack_config, start_host


@pytest.fixture
def host(emulator: EmulatorProcess, tmp_path: Path) -> Iterator[ProviderHost]:
    emulator.clear_faults()
    h = start_host(tmp_path, stack_config(emulator))
    yield h
    h.close()
    emulator.clear_faults()


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[ImburseClient]:
    """A client of the emulator's account key, for arranging and checking state out of band."""
    with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as c:
        yield c


@pytest.fixture
def tenant_id(api: ImburseClient, request: pytest.FixtureRequest) -> Iterator[str]:
    tid = api.create_tenant(f"provider {request.node.name}"[:100].strip()).tenant_id
    yield tid
    api.delete_tenant(tid)
