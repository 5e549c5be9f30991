"""Helpers of the language tests: the examples' paths and the Node.js driver on an emulated stack.

The real ``pulumi`` CLI on a test stack (``cli``, ``resources``, ``yaml_twin``) comes from tests/plugin/native.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from pulumi_imburse.testing.stacks import EmulatedStack

from ..engine import REPO

TS_EXAMPLE = REPO / "examples" / "typescript"
YAML_EXAMPLE = REPO / "examples" / "yaml"
TS_DEPLOY = TS_EXAMPLE / "bin" / "deploy.js"
TS_SDK_BUILD = REPO / "sdk" / "nodejs" / "bin" / "index.js"
"""The compiled TypeScript SDK: `make node` builds it; `make sdks` empties sdk/nodejs, so `make node` again."""


def deploy_ts(s: EmulatedStack, operation: str, timeout: float = 300) -> dict[str, Any]:
    """Run examples/typescript's Automation API driver (``node bin/deploy.js``) on the stack's work dir: the
    TypeScript program as an inline program of the Node Automation API. Returns its JSON result
    (``{"changes": {...}, "outputs": {...}}``, ``same`` counts dropped as in tests/engine.changes)."""
    node = shutil.which("node")
    assert node, "node is not on PATH"
    for built in (TS_DEPLOY, TS_SDK_BUILD):
        assert built.is_file(), f"{built} is missing: run `make node`"
    run = subprocess.run([node, str(TS_DEPLOY), operation, "--stack", s.stack.name, "--work-dir", str(s.work_dir)],
                         env={**os.environ, **s.env}, capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, f"deploy.js {operation} failed:\n{run.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    result["changes"] = {k: v for k, v in result["changes"].items() if v and k != "same"}
    return result
