"""examples/yaml, a Pulumi YAML program, through the real CLI and the YAML language host against the emulator.

The stack is a copy of the example (``emulated_stack``); each change is made where a GitOps user makes it, in
the copy's Pulumi.yaml. The CLI runs the program with ``pulumi-language-yaml`` (``make pulumi-cli``) and the
resources with the ``pulumi-resource-imburse`` plugin on PATH.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN
from pulumi_imburse.testing import emulated_stack

from ..engine import api_writes, authenticates, changes, quiet
from ..plugin.native import cli, resources
from .support import YAML_EXAMPLE

READ, APP_READ = "tenant-transaction-read", "tenant-app-read"
CHECKOUT_ROLES = ["tenant-collect-scheme-read", "tenant-transaction-write"]


def edit_program(work_dir: Path, edit: Any) -> None:
    """Change the program's Pulumi.yaml as a pull request would: ``edit(resources)`` on its ``resources``."""
    path = work_dir / "Pulumi.yaml"
    project = yaml.safe_load(path.read_text())
    edit(project["resources"])
    path.write_text(yaml.safe_dump(project, sort_keys=False))


def test_yaml_program_lifecycle(emulator: EmulatorProcess, api: ImburseClient) -> None:
    with emulated_stack(YAML_EXAMPLE, emulator=emulator) as s:
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"create": 4}  # the stack, the tenant, two keys
        tenant_id, ci = up.outputs["tenantId"].value, up.outputs["ciPublicKey"].value
        checkout = up.outputs["checkoutPublicKey"].value
        assert api.get_tenant(tenant_id).name == "Acme Payments Ltd"
        live = {k.public_key: k for k in api.list_keys(tenant_id)}
        assert set(live) == {ci, checkout}
        assert list(live[ci].roles) == [READ] and live[ci].name.startswith("acme-ci-")
        assert sorted(live[checkout].roles) == CHECKOUT_ROLES
        ci_private = up.outputs["ciPrivateKey"]
        assert ci_private.secret and authenticates(emulator, ci, ci_private.value)

        writes = api_writes(emulator)
        assert changes(s.stack.preview(on_output=quiet)) == {}
        assert api_writes(emulator) == writes

        # Roles: the same key, updated in place.
        edit_program(s.work_dir, lambda r: r["acme-ci"]["properties"].update(roles=[READ, APP_READ]))
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"update": 1}
        assert up.outputs["ciPublicKey"].value == ci
        assert sorted(api.get_key(tenant_id, ci).roles) == [APP_READ, READ]

        # Rotation: a new keeper value replaces the key; the old one is revoked.
        edit_program(s.work_dir, lambda r: r["acme-ci"]["properties"].update(keepers={"epoch": "2026-12"}))
        up = s.stack.up(on_output=quiet)
        assert changes(up) == {"replace": 1}
        rotated = up.outputs["ciPublicKey"].value
        assert rotated != ci
        assert {k.public_key for k in api.list_keys(tenant_id)} == {rotated, checkout}
        assert not authenticates(emulator, ci, ci_private.value)
        assert authenticates(emulator, rotated, up.outputs["ciPrivateKey"].value)

        # `pulumi import` of a key made outside the stack; the code it generates goes into the program.
        made = api.create_key(tenant_id, [APP_READ], name="made-by-hand")
        generated = s.work_dir / "imported.yaml"
        writes = api_writes(emulator)
        out = cli(s, "import", TENANT_KEY_TOKEN, "legacy", f"{tenant_id}/{made.public_key}", "--yes",
                  "--protect=false", "--out", str(generated))
        assert out.returncode == 0, out.stdout + out.stderr
        assert api_writes(emulator) == writes  # an import reads, it never writes
        [imported] = [r for r in resources(s, TENANT_KEY_TOKEN) if r["urn"].endswith("::legacy")]
        assert imported["id"] == f"{tenant_id}/{made.public_key}"
        assert imported["outputs"]["publicKey"] == made.public_key
        code = yaml.safe_load(generated.read_text())
        assert code["resources"]["legacy"]["properties"] == {  # the live key, as Pulumi YAML
            "tenantId": tenant_id, "roles": [APP_READ], "name": "made-by-hand"}
        edit_program(s.work_dir, lambda r: r.update(code["resources"]))
        assert changes(s.stack.preview(on_output=quiet)) == {}

        # Destroy: the keys, then the tenant; nothing of the stack is left in the emulator.
        assert changes(s.stack.destroy(on_output=quiet)) == {"delete": 5}
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}
        for public_key in (rotated, checkout, made.public_key):
            assert not any(k.public_key == public_key for t in api.list_tenants() for k in api.list_keys(t.tenant_id))
