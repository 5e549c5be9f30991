"""Fixtures of the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[Api]:
    """Raw API access to the session emulator; faults and the clock are reset after each test."""
    a = Api(emulator)
    yield a
    emulator.clear_faults()
    emulator.reset_clock()
    a.session.close()


@pytest.fixture
def admin(api: Api) -> str:
    """A bearer token of the bootstrap account key (account-admin)."""
    return api.admin_token()
