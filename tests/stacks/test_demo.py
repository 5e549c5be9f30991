"""`make demo` as a user runs it: the real Pulumi CLI, twice, with a readable summary and no secret on screen."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("fixed_port")  # the demo's emulator listens on 127.0.0.1:18787


def run_demo(demo_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMBURSE_", "PULUMI_"))}
    env["IMBURSE_DEMO_DIR"] = str(demo_dir)
    return subprocess.run([sys.executable, str(REPO / "examples" / "demo.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_demo_deploys_with_the_cli_once_then_changes_nothing_and_prints_no_secret(tmp_path: Path) -> None:
    stack_file = (REPO / "Pulumi.dev.yaml").read_text()
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("pulumi-imburse demo: deploying the root stack with the Pulumi CLI (")
    assert "changes: create 6" in first.stdout  # the stack, 2 tenants, 3 keys
    assert re.search(r"key checkout +roles tenant-collect-scheme-read, tenant-transaction-write", first.stdout)
    assert first.stdout.count("(44 chars)") == 3
    assert "secret (encrypted in state): privateKeys" in first.stdout
    # The state is the CLI's: a local file backend under the demo directory.
    assert list((tmp_path / "pulumi" / ".pulumi" / "stacks" / "imburse-platform").glob("dev.json"))

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "changes: none, everything was already up to date" in second.stdout

    revealed = run_demo(tmp_path, "--reveal", "acme/checkout")
    assert revealed.returncode == 0, revealed.stderr
    private_key = revealed.stdout.strip()
    creds = json.loads((tmp_path / "credentials.json").read_text())
    public_key = re.search(r"key checkout .*\n +public +(\S+)", first.stdout)
    assert public_key is not None
    # The revealed private key authenticates against the demo's emulator data.
    with EmulatorProcess(tmp_path / "emulator.db", tmp_path / "credentials.json") as emu, \
            ImburseClient(emu.base_url, public_key.group(1), private_key) as as_key:
        assert as_key.access_token()
    state = (tmp_path / "pulumi" / ".pulumi" / "stacks" / "imburse-platform" / "dev.json").read_text()
    for out in (first, second):
        assert private_key not in out.stdout + out.stderr
        assert creds["privateKey"] not in out.stdout + out.stderr
    assert private_key not in state and creds["privateKey"] not in state
    assert (REPO / "Pulumi.dev.yaml").read_text() == stack_file  # the demo writes nothing into the stack file

    result = run_demo(tmp_path, "--reveal", "acme/nope")
    assert result.returncode == 2
    assert "no key 'acme/nope'; known: acme/checkout, acme/reporting, globex/payouts" in result.stderr
