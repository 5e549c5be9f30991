"""examples/go, a Go program on the generated Go SDK (sdk/go/imburse), run as a user runs it: ``pulumi up`` with
Pulumi's Go language host (``make pulumi-cli``), which builds the program with the Go toolchain against sdk/
through the example's replace directive, through the real CLI and the plugin against the emulator.

``go vet`` of the generated SDK and of the example runs first: the build itself checks that the SDK compiles.
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

from ..engine import EXAMPLES, REPO, authenticates, changes, quiet

GO_EXAMPLE = EXAMPLES / "go"
READ, APP_READ = "tenant-transaction-read", "tenant-app-read"


def go(*args: str, cwd: Path) -> None:
    exe = shutil.which("go")
    assert exe, "the Go toolchain is not on PATH"
    run = subprocess.run([exe, *args], cwd=cwd, env={**os.environ, "GOFLAGS": "-mod=mod"}, capture_output=True,
                         text=True, timeout=900, check=False)
    assert run.returncode == 0, f"go {' '.join(args)} failed in {cwd}:\n{run.stdout}{run.stderr}"


@pytest.fixture(scope="module")
def vetted() -> None:
    """`go vet` of the generated SDK and of the example (which compiles both)."""
    go("vet", "./...", cwd=REPO / "sdk")
    go("vet", ".", cwd=GO_EXAMPLE)


@pytest.mark.usefixtures("vetted")
def test_go_program_lifecycle(emulator: EmulatorProcess, api: ImburseClient) -> None:
    with emulated_stack(GO_EXAMPLE, emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 3}  # the stack, the tenant, the key
        tenant_id, ci, ci_private = (up.outputs[name] for name in ("tenantId", "ciPublicKey", "ciPrivateKey"))
        [live] = api.list_keys(tenant_id.value)
        assert (live.public_key, list(live.roles)) == (ci.value, [READ])
        assert ci_private.secret and authenticates(emulator, ci.value, ci_private.value)

        assert changes(s.stack.preview(on_output=quiet)) == {}

        s.set_config({"ciRoles": [READ, APP_READ]})
        assert changes(s.stack.up(on_output=quiet)) == {"update": 1}
        assert sorted(api.get_key(tenant_id.value, ci.value).roles) == [APP_READ, READ]

        s.set_config({"ciKeyEpoch": "2"})
        assert changes(s.stack.up(on_output=quiet)) == {"replace": 1}
        rotated = s.stack.outputs()["ciPublicKey"].value
        assert [k.public_key for k in api.list_keys(tenant_id.value)] == [rotated] != [ci.value]

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 3}
        assert tenant_id.value not in {t.tenant_id for t in api.list_tenants()}
