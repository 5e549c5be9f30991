"""The generated Python SDK (sdk/python, package ``pulumi_imburse_sdk``) installs and drives the plugin.

The SDK is pip-installed (from a copy, so no build files land in sdk/) into a directory of its own, and a Python
program written with it runs as an Automation API inline program through the real CLI against the emulator.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from types import ModuleType
from typing import Any

import pulumi
import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import REPO, authenticates, changes, quiet

READ, APP_READ = "tenant-transaction-read", "tenant-app-read"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """``pulumi_imburse_sdk``, installed with pip from sdk/python (its dependencies are this venv's)."""
    tmp = tmp_path_factory.mktemp("python-sdk")
    source, target = tmp / "source", tmp / "site"
    shutil.copytree(REPO / "sdk" / "python", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                          str(source)], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(target))  # for the rest of the session: the SDK reads its own metadata from there
    return importlib.import_module("pulumi_imburse_sdk")


def test_python_sdk_program(sdk: Any, emulator: EmulatorProcess, api: ImburseClient) -> None:
    roles: list[Any] = [sdk.TenantRole.TENANT_TRANSACTION_READ]

    def program() -> None:
        acme = sdk.Tenant("acme", name="Acme Payments Ltd (Python SDK)", address=sdk.TenantAddressArgs(country="GB"))
        key = sdk.TenantKey("ci", tenant_id=acme.tenant_id, roles=roles, keepers={"epoch": "1"})
        pulumi.export("tenantId", acme.tenant_id)
        pulumi.export("publicKey", key.public_key)
        pulumi.export("privateKey", key.private_key)

    with emulated_stack(program, project_name="imburse-python-sdk", emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 3}
        tenant_id, public_key = up.outputs["tenantId"].value, up.outputs["publicKey"].value
        assert [list(k.roles) for k in api.list_keys(tenant_id)] == [[READ]]
        assert up.outputs["privateKey"].secret and authenticates(emulator, public_key, up.outputs["privateKey"].value)
        assert changes(s.stack.preview(on_output=quiet)) == {}

        roles.append(sdk.TenantRole.TENANT_APP_READ)
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert sorted(api.get_key(tenant_id, public_key).roles) == [APP_READ, READ]

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 3}
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}

