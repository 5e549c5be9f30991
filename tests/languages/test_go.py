"""A Go program on the generated Go SDK (sdk/go/imburse), through the real CLI and the plugin against the emulator.

tests/languages/go/main.go is a Go Automation API inline program (there is no Go language host here), built with
the Go toolchain against sdk/ through a replace directive: the build itself checks that the generated Go SDK
compiles and that `go vet` finds nothing in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack
from pulumi_imburse.testing.stacks import EmulatedStack

from ..engine import authenticates, changes, quiet

GO_PROGRAM = Path(__file__).parent / "go"
READ, APP_READ = "tenant-transaction-read", "tenant-app-read"


def go(*args: str, cwd: Path) -> None:
    exe = shutil.which("go")
    assert exe, "the Go toolchain is not on PATH"
    run = subprocess.run([exe, *args], cwd=cwd, env={**os.environ, "GOFLAGS": "-mod=mod"}, capture_output=True,
                         text=True, timeout=900, check=False)
    assert run.returncode == 0, f"go {' '.join(args)} failed in {cwd}:\n{run.stdout}{run.stderr}"


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/languages/go built (and the generated SDK with it), after `go vet` of both."""
    go("vet", "./...", cwd=GO_PROGRAM.parents[2] / "sdk")
    go("vet", ".", cwd=GO_PROGRAM)
    exe = tmp_path_factory.mktemp("go") / "deploy"
    go("build", "-o", str(exe), ".", cwd=GO_PROGRAM)
    return exe


def run(exe: Path, s: EmulatedStack, operation: str) -> dict[str, int]:
    """One operation of the Go program on the stack; its summary less the ``same`` counts."""
    done = subprocess.run([str(exe), operation, "-stack", s.stack.name, "-work-dir", str(s.work_dir)],
                          env={**os.environ, **s.env}, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"deploy {operation} failed:\n{done.stderr[-4000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: v for k, v in result["changes"].items() if v and k != "same"}


def test_go_program_lifecycle(deploy: Path, emulator: EmulatorProcess, api: ImburseClient) -> None:
    with emulated_stack(GO_PROGRAM, emulator=emulator) as s:
        assert run(deploy, s, "up") == {"create": 3}  # the stack, the tenant, the key
        outputs = s.stack.outputs()
        tenant_id, ci, ci_private = outputs["tenantId"].value, outputs["ciPublicKey"].value, outputs["ciPrivateKey"]
        [live] = api.list_keys(tenant_id)
        assert (live.public_key, list(live.roles)) == (ci, [READ])
        assert ci_private.secret and authenticates(emulator, ci, ci_private.value)

        assert run(deploy, s, "preview") == {}

        s.set_config({"ciRoles": [READ, APP_READ]})
        assert run(deploy, s, "up") == {"update": 1}
        assert sorted(api.get_key(tenant_id, ci).roles) == [APP_READ, READ]

        s.set_config({"ciKeyEpoch": "2"})
        assert run(deploy, s, "up") == {"replace": 1}
        rotated = s.stack.outputs()["ciPublicKey"].value
        assert [k.public_key for k in api.list_keys(tenant_id)] == [rotated] != [ci]

        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 3}
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}
