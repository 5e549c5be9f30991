"""End to end with the real Pulumi CLI (Automation API, local file backend, passphrase secrets).

Opt-in by nature: these run only where the ``pulumi`` CLI is on PATH and are skipped, with that
reason, elsewhere. The same scenario runs once through the CLI and once through StackRunner, and
the two summaries must agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import StackRunner

pytestmark = pytest.mark.skipif(shutil.which("pulumi") is None,
                                reason="the Pulumi CLI is not on PATH (it cannot be installed on this machine)")

REPO = Path(__file__).resolve().parents[2]
PASSPHRASE = "e2e-passphrase"


def _changes(summary: Any) -> dict[str, int]:
    return {k: v for k, v in dict(summary or {}).items() if v and k != "same"}


def _cli_stack(tmp_path: Path, emu: EmulatorProcess, project: Path) -> Any:
    from pulumi import automation as auto

    backend = tmp_path / "backend"
    backend.mkdir()
    env = {"PULUMI_BACKEND_URL": backend.as_uri(), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
           "PULUMI_SKIP_UPDATE_CHECK": "true"}
    stack = auto.create_or_select_stack(stack_name="e2e", work_dir=str(project),
                                        opts=auto.LocalWorkspaceOptions(env_vars=env))
    stack.set_config("imburse:baseUrl", auto.ConfigValue(emu.base_url))
    stack.set_config("imburse:publicKey", auto.ConfigValue(emu.public_key))
    stack.set_config("imburse:privateKey", auto.ConfigValue(emu.private_key, secret=True))
    return stack


def test_cli_up_refresh_destroy_keeps_private_keys_encrypted(emulator: EmulatorProcess, tmp_path: Path) -> None:
    stack = _cli_stack(tmp_path, emulator, REPO / "examples" / "basic")
    up = stack.up(on_output=lambda _line: None)
    outputs = stack.outputs()
    private_key = outputs["checkoutPrivateKey"].value
    assert outputs["checkoutPrivateKey"].secret and len(private_key) == 44

    exported = json.dumps(stack.export_stack().deployment)
    assert private_key not in exported and emulator.private_key not in exported
    assert "ciphertext" in exported

    with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key) as api:
        tenant_id = outputs["tenantId"].value
        assert len(api.list_keys(tenant_id)) == 2
        assert _changes(up.summary.resource_changes) == {"create": 4}
        assert _changes(stack.refresh(on_output=lambda _line: None).summary.resource_changes) == {}
        stack.destroy(on_output=lambda _line: None)
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


def test_cli_and_stack_runner_summaries_agree(emulator: EmulatorProcess, tmp_path: Path) -> None:
    project = REPO / "examples" / "basic"
    from pulumi import automation as auto

    stack = _cli_stack(tmp_path, emulator, project)

    def runner(reporting: str) -> StackRunner:
        return StackRunner(project, stack_name="e2e", state_file=tmp_path / "runner-state.json",
                           passphrase=PASSPHRASE, secret_config={"imburse:privateKey": emulator.private_key},
                           config={"imburse:baseUrl": emulator.base_url, "imburse:publicKey": emulator.public_key,
                                   "imburse-basic:reporting": reporting})

    cli_runs, runner_runs = [], []
    for reporting in ("true", "true", "false"):  # create, no-op, one delete
        stack.set_config("reporting", auto.ConfigValue(reporting))
        cli_runs.append(_changes(stack.up(on_output=lambda _line: None).summary.resource_changes))
        runner_runs.append(_changes(runner(reporting).up().summary.resource_changes))
    assert cli_runs == runner_runs == [{"create": 4}, {}, {"delete": 1}]
    stack.destroy(on_output=lambda _line: None)
    runner("false").destroy()
