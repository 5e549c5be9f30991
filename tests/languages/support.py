"""Helpers of the language tests: the real ``pulumi`` CLI and the Node.js driver on an emulated stack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pulumi_imburse.testing.stacks import EmulatedStack

from ..engine import REPO

TS_EXAMPLE = REPO / "examples" / "typescript"
YAML_EXAMPLE = REPO / "examples" / "yaml"
TS_DEPLOY = TS_EXAMPLE / "bin" / "deploy.js"


def cli(s: EmulatedStack, *args: str, cwd: Path | None = None, timeout: float = 180,
        ) -> subprocess.CompletedProcess[str]:
    """Run the real ``pulumi`` CLI on the test stack (its backend, passphrase and PATH)."""
    pulumi_exe = shutil.which("pulumi")
    assert pulumi_exe, "the Pulumi CLI is not on PATH (make pulumi-cli)"
    return subprocess.run([pulumi_exe, *args, "--stack", s.stack.name, "--non-interactive"],
                          cwd=cwd or s.work_dir, env={**os.environ, **s.env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def state_resources(s: EmulatedStack, type_token: str) -> list[dict[str, Any]]:
    """The state's resources of ``type_token`` (``pulumi stack export``, secrets encrypted)."""
    out = cli(s, "stack", "export")
    assert out.returncode == 0, out.stderr
    return [r for r in json.loads(out.stdout)["deployment"].get("resources", []) if r["type"] == type_token]


def deploy_ts(s: EmulatedStack, operation: str, timeout: float = 300) -> dict[str, Any]:
    """Run examples/typescript's Automation API driver (``node bin/deploy.js``) on the stack's work dir: the
    TypeScript program as an inline program of the Node Automation API. Returns its JSON result
    (``{"changes": {...}, "outputs": {...}}``, ``same`` counts dropped as in tests/engine.changes)."""
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert TS_DEPLOY.is_file(), f"{TS_DEPLOY} is missing: run `make node`"
    run = subprocess.run([node, str(TS_DEPLOY), operation, "--stack", s.stack.name, "--work-dir", str(s.work_dir)],
                         env={**os.environ, **s.env}, capture_output=True, text=True, timeout=timeout, check=False)
    assert run.returncode == 0, f"deploy.js {operation} failed:\n{run.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    result["changes"] = {k: v for k, v in result["changes"].items() if v and k != "same"}
    return result


def yaml_twin(s: EmulatedStack) -> Path:
    """A project directory for the same stack (same project name, stack config and backend) whose runtime is
    Pulumi YAML, with an empty program.

    ``pulumi import`` loads the project's language host even when it generates no code, and there is no
    Node.js language host here (see scripts/pulumi-cli.sh); the YAML host asks for nothing more. The engine,
    the import and the plugin are the same.
    """
    twin = s.work_dir.parent / "yaml-twin"
    twin.mkdir(exist_ok=True)
    name = s.stack.workspace.project_settings().name
    (twin / "Pulumi.yaml").write_text(f"name: {name}\nruntime: yaml\n")
    stack_file = s.work_dir / f"Pulumi.{s.stack.name}.yaml"
    shutil.copyfile(stack_file, twin / stack_file.name)
    return twin
