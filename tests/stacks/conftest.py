"""Fixtures of the stack tests: the emulator's account client and a tenant made outside Pulumi."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[ImburseClient]:
    """The emulator's account client (and no faults left over from other tests)."""
    emulator.clear_faults()
    with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as client:
        yield client


@pytest.fixture
def existing_tenant(api: ImburseClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A tenant made outside Pulumi (deleted, with its keys, after the test unless the test deleted it)."""
    tenant_id = api.create_tenant(f"Existing {request.node.name}"[:100].strip()).tenant_id
    yield tenant_id
    if tenant_id in {t.tenant_id for t in api.list_tenants()}:
        api.delete_tenant(tenant_id)
