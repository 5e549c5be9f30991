"""Helpers of the language tests: the examples' paths, and whether the TypeScript side is built.

The real ``pulumi`` CLI on a test stack (``cli``, ``resources``, ``yaml_twin``) comes from tests/plugin/native.py.
"""

from __future__ import annotations

from ..engine import REPO

TS_EXAMPLE = REPO / "examples" / "typescript"
YAML_EXAMPLE = REPO / "examples" / "yaml"
TS_INDEX = TS_EXAMPLE / "bin" / "index.js"
TS_SDK_BUILD = REPO / "sdk" / "nodejs" / "bin" / "index.js"
"""The compiled TypeScript SDK: `make node` builds it; `make sdks` empties sdk/nodejs, so `make node` again."""


def built_ts_example() -> None:
    """Fail, saying what to run, unless `make node` has compiled the TypeScript SDK and example."""
    for built in (TS_INDEX, TS_SDK_BUILD):
        assert built.is_file(), f"{built} is missing: run `make node`"
