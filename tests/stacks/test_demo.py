"""`make demo` as a user runs it: twice, offline, with a readable summary and no secret on screen."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_demo(demo_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMBURSE_", "PULUMI_CONFIG_PASSPHRASE"))}
    env["IMBURSE_DEMO_DIR"] = str(demo_dir)
    return subprocess.run([sys.executable, str(REPO / "examples" / "demo.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.skipif(shutil.which("pulumi") is not None,
                    reason="the Pulumi CLI is on PATH: the demo would deploy with it (covered by the e2e test)")
def test_demo_deploys_once_then_changes_nothing_and_prints_no_secret(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("pulumi-imburse demo: the Pulumi CLI is not on PATH")
    assert "changes: create 6" in first.stdout
    assert re.search(r"key checkout +roles tenant-collect-scheme-read, tenant-transaction-write", first.stdout)
    assert first.stdout.count("(44 chars, secret)") == 3

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "changes: none, everything was already up to date" in second.stdout

    revealed = run_demo(tmp_path, "--reveal", "acme/checkout")
    assert revealed.returncode == 0
    private_key = revealed.stdout.strip()
    account_key = json.loads((tmp_path / "credentials.json").read_text())["privateKey"]
    assert len(private_key) == 44
    for out in (first, second):
        assert private_key not in out.stdout + out.stderr
        assert account_key not in out.stdout + out.stderr
    assert private_key not in (tmp_path / "state" / "dev.json").read_text()
