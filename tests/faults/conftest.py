"""Fixtures of the fault tests (``api``, ``emu``, ``existing_tenant``: tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def tenant(existing_tenant: str) -> str:
    """The id of a fresh tenant in the module's emulator (``emu``), deleted after the test."""
    return existing_tenant
