"""Fixtures of the language tests: the emulator's account client, a tenant made outside Pulumi."""

from __future__ import annotations

from ..stacks.conftest import api, existing_tenant

__all__ = ["api", "existing_tenant"]
