"""``policy/analyzer``, the launcher the engine runs for ``--policy-pack policy/analyzer``: which Python it runs,
and with what. A stand-in ``python`` records its arguments; the pack itself runs in the other tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.policy.support import PACK


def fake_python(path: Path, name: str) -> Path:
    """An executable that prints ``name`` and its arguments, one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho {name}\nfor a in "$@"; do echo "$a"; done\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    """A copy of the launcher in a pack directory of its own (no venv yet)."""
    here = tmp_path / "pack"
    here.mkdir()
    shutil.copy2(PACK, here / "analyzer")
    return here


def launch(pack_dir: Path, **env: str) -> list[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PULUMI_POLICY_PYTHON", "PULUMI_PYTHON_CMD")}
    out = subprocess.run([str(pack_dir / "analyzer"), "127.0.0.1:1234"], env={**base, **env}, cwd=pack_dir.parent,
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.splitlines()


def test_it_runs_the_policy_sdk_on_its_own_directory_with_the_engine_address(pack_dir: Path, tmp_path: Path) -> None:
    python = fake_python(tmp_path / "bin" / "python", "chosen")
    assert launch(pack_dir, PULUMI_POLICY_PYTHON=str(python)) == [
        "chosen", "-u", "-m", "pulumi.policy", "127.0.0.1:1234", str(pack_dir)]


def test_the_python_is_chosen_in_the_documented_order(pack_dir: Path, tmp_path: Path) -> None:
    explicit = fake_python(tmp_path / "bin" / "explicit", "PULUMI_POLICY_PYTHON")
    pulumi_python = fake_python(tmp_path / "bin" / "pulumi-python", "PULUMI_PYTHON_CMD")
    fake_python(tmp_path / "path" / "python3", "python3 on PATH")
    path = f"{tmp_path / 'path'}{os.pathsep}{os.environ['PATH']}"
    assert launch(pack_dir, PATH=path)[0] == "python3 on PATH"
    assert launch(pack_dir, PATH=path, PULUMI_PYTHON_CMD=str(pulumi_python))[0] == "PULUMI_PYTHON_CMD"
    fake_python(pack_dir / "venv" / "bin" / "python", "venv")
    assert launch(pack_dir, PULUMI_PYTHON_CMD=str(pulumi_python))[0] == "venv"
    assert launch(pack_dir, PULUMI_POLICY_PYTHON=str(explicit), PULUMI_PYTHON_CMD=str(pulumi_python))[0] == (
        "PULUMI_POLICY_PYTHON")


def test_a_python_without_the_packs_requirements_is_told_how_to_install_them() -> None:
    # -S: no site-packages, so neither pulumi_policy nor pulumi_imburse can be imported.
    result = subprocess.run([sys.executable, "-S", str(PACK.parent / "__main__.py")], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 1
    assert "imburse-guardrails: not installed for" in result.stderr
    assert "pulumi_policy, pulumi_imburse" in result.stderr
    assert "venv/bin/pip install -r requirements.txt" in result.stderr
    assert "venv/bin/pip install -e .. -r requirements.txt" in result.stderr  # in a checkout
    assert "Traceback" not in result.stderr
