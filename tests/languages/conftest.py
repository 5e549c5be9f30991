"""Fixtures of the language tests: the emulator's account client, and the real CLI on a test stack."""

from __future__ import annotations

from ..stacks.conftest import api

__all__ = ["api"]
