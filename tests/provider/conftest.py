"""Fixtures for the provider tests: a configured host and a fresh tenant (``api``: tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
def tenant_id(existing_tenant: str) -> str:
    """The id of a fresh tenant (tests/conftest.py's ``existing_tenant``)."""
    return existing_tenant
