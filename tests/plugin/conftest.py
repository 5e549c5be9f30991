"""Fixtures of the plugin tests: the emulator's account client and a tenant made outside Pulumi."""

from __future__ import annotations

from ..stacks.conftest import api, existing_tenant

__all__ = ["api", "existing_tenant"]
