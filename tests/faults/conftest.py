"""Fixtures of the fault tests (``api``, ``emu``, ``existing_tenant``: tests/conftest.py)."""

from __future__ import annotations

import pytest

from pulumi_imburse.ledger import Ledger


@pytest.fixture
def tenant(existing_tenant: str) -> str:
    """The id of a fresh tenant in the module's emulator (``emu``), deleted after the test."""
    return existing_tenant


@pytest.fixture
def ledger() -> Ledger:
    """The memory of one provider process (a test is one process unless it makes a new ledger)."""
    return Ledger()
