"""``emulated_stack`` beside a user's own stack config: a project whose ``Pulumi.dev.yaml`` the user made with
the Quick Start (``pulumi stack init dev``, ``pulumi config set --secret imburse:privateKey ...`` under their own
passphrase), set up here with the real CLI, then tested with ``emulated_stack(..., stack_name="dev")``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import EXAMPLES, changes, quiet

USER_PASSPHRASE = "the user's own passphrase"
REAL_LOOKING_KEY = "c2FuZGJveCBwcml2YXRlIGtleSBvZiB0aGUgdXNlcg=="


def users_project(tmp_path: Path, *secrets: tuple[str, str]) -> Path:
    """examples/basic with a dev stack the user made with the real CLI, their backend and passphrase, and
    ``secrets`` (key, value) set with ``pulumi config set --secret``."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "basic", project)
    (project / "Pulumi.dev.yaml").unlink()
    backend = tmp_path / "users-backend"
    backend.mkdir()
    env = {**os.environ, "PULUMI_BACKEND_URL": backend.as_uri(), "PULUMI_CONFIG_PASSPHRASE": USER_PASSPHRASE,
           "PULUMI_HOME": str(tmp_path / "users-home"), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    pulumi = shutil.which("pulumi")
    assert pulumi, "no pulumi CLI on PATH (make pulumi-cli)"
    for args in (["stack", "init", "dev"], ["config", "set", "imburse:baseUrl", "https://sandbox.example.invalid"],
                 ["config", "set", "--secret", "imburse:privateKey", REAL_LOOKING_KEY],
                 *(["config", "set", "--secret", key, value] for key, value in secrets)):
        run = subprocess.run([pulumi, *args], cwd=project, env=env, capture_output=True, text=True, timeout=60,
                             check=False)
        assert run.returncode == 0, run.stderr
    assert "secure:" in (project / "Pulumi.dev.yaml").read_text()
    return project


def test_the_quick_starts_secret_config_does_not_stop_a_test_of_the_dev_stack(
        tmp_path: Path, emulator: EmulatorProcess) -> None:
    project = users_project(tmp_path)
    stack_file = (project / "Pulumi.dev.yaml").read_text()
    with emulated_stack(project, stack_name="dev", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 4}
        # The test's stack runs against the emulator with its account, not the user's key or URL.
        with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as api:
            assert api.get_tenant(str(up.outputs["tenantId"].value)).name == "Acme Payments Ltd"
    assert (project / "Pulumi.dev.yaml").read_text() == stack_file  # the user's file is untouched


def test_a_users_other_secret_is_read_with_their_passphrase_and_a_wrong_one_is_named(
        tmp_path: Path, emulator: EmulatorProcess) -> None:
    project = users_project(tmp_path, ("tenantName", "Secret Tenant Ltd"))
    with pytest.raises(ValueError, match=r"holds secrets \(imburse-basic:tenantName\) encrypted with another "
                                         r"passphrase.*pass that stack's passphrase="):
        with emulated_stack(project, stack_name="dev", emulator=emulator):
            pass
    with emulated_stack(project, stack_name="dev", emulator=emulator, passphrase=USER_PASSPHRASE) as s:
        up = s.stack.up(on_output=quiet)
        with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as api:
            assert api.get_tenant(str(up.outputs["tenantId"].value)).name == "Secret Tenant Ltd"
