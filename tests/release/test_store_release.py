"""The plugin archive of dist/ delivers private keys to both secret stores by itself: the stores' libraries (boto3,
hvac) and the AWS models they load are in the archive, since a Pulumi YAML, TypeScript or Go user has no Python to
``pip install 'pulumi-imburse[aws]'`` into.

A Pulumi YAML project outside the checkout, the plugin installed from the release server under an empty
``PULUMI_HOME``, a PATH with the Pulumi CLI alone (no Python): one ``up`` of a tenant with a key to AWS Secrets
Manager (``moto_server`` on loopback) and a key to Vault KV v2 (a Vault dev server), then ``destroy``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.stores import fingerprint

from ..engine import authenticates
from ..stacks.test_rotation_matrix import unsecret
from ..support.apps import AWS_ENV, StoreApp
from ..support.servers import VAULT_TOKEN
from .conftest import PLUGIN_ARCHIVE, TOOLS_BIN, VERSION, checksum
from .support import STACK, Project, assert_plugin_from_release


def test_yaml_keys_go_to_aws_secrets_manager_and_vault_through_the_release_plugin(
        dist: Path, release_url: str, wheel_emulator: EmulatorProcess, moto_endpoint: str, vault_address: str,
        tmp_path: Path) -> None:
    project = Project(tmp_path, wheel_emulator)
    project.env["PATH"] = str(TOOLS_BIN)  # the Pulumi CLI and its language hosts alone
    assert shutil.which("python3", path=project.env["PATH"]) is None
    assert shutil.which("python", path=project.env["PATH"]) is None
    # The stores' credentials as a user's environment gives them: moto's throwaway AWS keys (no AWS config file,
    # no metadata endpoint), the dev server's token.
    project.env |= {**AWS_ENV, "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"), "VAULT_TOKEN": VAULT_TOKEN}
    secret = f"imburse/dist-{uuid.uuid4().hex[:12]}"
    destinations: dict[str, dict[str, Any]] = {
        "aws": {"type": "aws-secretsmanager", "secretId": secret, "endpoint": moto_endpoint,
                "region": AWS_ENV["AWS_REGION"], "recoveryWindowInDays": 7},
        "vault": {"type": "vault-kv2", "address": vault_address, "path": secret},
    }
    program = {
        "name": "imburse-dist-stores", "runtime": "yaml",
        "resources": {
            "acme": {"type": "imburse:index:Tenant",
                     "properties": {"name": "Acme Payments Ltd (dist, stores)", "address": {"country": "GB"}}},
            **{name: {"type": "imburse:index:TenantKey",
                      "properties": {"tenantId": "${acme.tenantId}", "roles": ["tenant-app-read"],
                                     "destination": destination}}
               for name, destination in destinations.items()},
        },
        "outputs": {"tenantId": "${acme.tenantId}"},
    }
    (project.dir / "Pulumi.yaml").write_text(yaml.safe_dump(program, sort_keys=False))
    project.pulumi("plugin", "install", "resource", "imburse", f"v{VERSION}", "--server", release_url,
                   "--checksum", checksum(dist, PLUGIN_ARCHIVE))
    project.pulumi("stack", "init", STACK)

    project.pulumi("up", "--yes", "--skip-preview", "--stack", STACK)
    assert_plugin_from_release(project)
    state = project.pulumi("stack", "export", "--show-secrets", "--stack", STACK).stdout
    keys = {r["urn"].rsplit("::", 1)[-1]: unsecret(r["outputs"]) for r in json.loads(state)["deployment"]["resources"]
            if r["type"] == "imburse:index:TenantKey"}
    apps = {name: StoreApp(destination, vault_token=VAULT_TOKEN) for name, destination in destinations.items()}
    for name, app in apps.items():
        stored = app.read()
        assert stored is not None, f"no key in the {name} store"
        outputs = keys[name]
        assert outputs["publicKey"] == stored.public_key and outputs["privateKey"] == "", name
        assert outputs["privateKeyFingerprint"] == fingerprint(stored.private_key), name
        assert authenticates(wheel_emulator, stored.public_key, stored.private_key), name
        # Nowhere in Pulumi: not in the state (secrets shown), not in the CLI's output.
        assert stored.private_key not in state and stored.private_key not in "".join(project.transcript), name

    tenant_id = project.outputs()["tenantId"]
    project.pulumi("destroy", "--yes", "--skip-preview", "--stack", STACK)
    for name, app in apps.items():
        assert app.read() is None, f"the {name} store still serves a destroyed key"
    with ImburseClient(wheel_emulator.base_url, wheel_emulator.public_key, wheel_emulator.private_key,
                       account_id=wheel_emulator.account_id) as api:
        assert tenant_id not in {t.tenant_id for t in api.list_tenants()}
