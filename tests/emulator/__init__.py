"""Tests of the emulator (real HTTP against the real console script)."""
