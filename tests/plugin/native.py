"""Declaring the plugin's resources from a Python program, and running the real CLI beside a test stack.

A program registers ``imburse:index:TenantKey``, ``imburse:index:RotatingTenantKey`` and ``imburse:index:Tenant``
as plain ``pulumi.CustomResource`` objects: the engine, not the Python SDK, then finds the provider (the
``pulumi-resource-imburse`` plugin on ``PATH``, which ``emulated_stack`` puts there). Output names are the wire
names (``key.publicKey``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi

from pulumi_imburse import rotating_key
from pulumi_imburse.plugin import schema
from pulumi_imburse.testing.stacks import EmulatedStack

PLUGIN_EXECUTABLE = Path(sys.executable).parent / "pulumi-resource-imburse"
"""The plugin's console script beside this interpreter (``pip install`` puts it there)."""
KEY_OUTPUTS = ("name", "namePrefix", "keepers", "rotationDays", "accountId", "publicKey", "privateKey", "createdAt")
TENANT_OUTPUTS = ("address", "tenantId", "accountId")


def tenant_key(resource_name: str, opts: pulumi.ResourceOptions | None = None, /,
               **inputs: Any) -> pulumi.CustomResource:
    """A native ``imburse:index:TenantKey`` (inputs by wire name)."""
    props = {**dict.fromkeys(KEY_OUTPUTS), **inputs}
    return pulumi.CustomResource(schema.TENANT_KEY_TOKEN, resource_name, props, opts)


def rotating_tenant_key(resource_name: str, opts: pulumi.ResourceOptions | None = None, /,
                        **inputs: Any) -> pulumi.CustomResource:
    """A native ``imburse:index:RotatingTenantKey`` (inputs by wire name; every output an attribute)."""
    props = {**dict.fromkeys(k for k in rotating_key.OUTPUTS if k != "namePrefix"), **inputs}
    return pulumi.CustomResource(schema.ROTATING_KEY_TOKEN, resource_name, props, opts)


def tenant(resource_name: str, opts: pulumi.ResourceOptions | None = None, /, **inputs: Any) -> pulumi.CustomResource:
    """A native ``imburse:index:Tenant`` (inputs by wire name)."""
    props = {**dict.fromkeys(TENANT_OUTPUTS), **inputs}
    return pulumi.CustomResource(schema.TENANT_TOKEN, resource_name, props, opts)


def provider(name: str, *, base_url: str, public_key: str, private_key: str,
             secret: bool = True) -> pulumi.ProviderResource:
    """An explicit ``imburse`` provider with its own account's credentials (the private key given as a secret, or,
    with ``secret=False``, as plain text: the provider makes it a secret itself)."""
    return pulumi.ProviderResource(schema.PACKAGE, name, {
        "baseUrl": base_url, "publicKey": public_key,
        "privateKey": pulumi.Output.secret(private_key) if secret else private_key})


def cli(s: EmulatedStack, *args: str, cwd: Path | None = None, timeout: float = 180,
        ) -> subprocess.CompletedProcess[str]:
    """Run the real ``pulumi`` CLI on the test stack (its backend, passphrase and PATH)."""
    pulumi_exe = shutil.which("pulumi")
    assert pulumi_exe, "the Pulumi CLI is not on PATH (make pulumi-cli)"
    return subprocess.run([pulumi_exe, *args, "--stack", s.stack.name, "--non-interactive"],
                          cwd=cwd or s.work_dir, env={**os.environ, **s.env}, capture_output=True, text=True,
                          timeout=timeout, check=False)


def yaml_twin(s: EmulatedStack) -> Path:
    """A project directory for the same stack (same project name, config and backend) whose runtime is Pulumi YAML.

    ``pulumi import`` loads the project's language host (for the plugins the program needs) even when it
    generates no code. The Python host cannot be built on this project's CI (see scripts/pulumi-cli.sh); the YAML
    host can, and its empty program asks for nothing. The engine, the import and the plugin are the same.
    """
    twin = s.work_dir.parent / "yaml-twin"
    twin.mkdir(exist_ok=True)
    name = s.stack.workspace.project_settings().name
    (twin / "Pulumi.yaml").write_text(f"name: {name}\nruntime: yaml\n")
    stack_file = s.work_dir / f"Pulumi.{s.stack.name}.yaml"
    shutil.copyfile(stack_file, twin / stack_file.name)
    return twin


def exported_text(s: EmulatedStack) -> str:
    """``pulumi stack export`` as the CLI prints it (secrets encrypted)."""
    out = cli(s, "stack", "export")
    assert out.returncode == 0, out.stderr
    return out.stdout


def resources(s: EmulatedStack, type_token: str) -> list[dict[str, Any]]:
    """The state's resources of ``type_token``, as ``pulumi stack export`` prints them (secrets encrypted)."""
    deployment = json.loads(exported_text(s))["deployment"]
    return [r for r in deployment.get("resources", []) if r["type"] == type_token]
