"""With a destination, no private key anywhere in Pulumi, at any verbosity, across a key's whole life.

One stack per store (moto_server's Secrets Manager, a Vault dev server) holds both faces: a dynamic ``TenantKey`` and
``RotatingTenantKey`` and the plugin's ``imburse:index:TenantKey`` and ``imburse:index:RotatingTenantKey``, each
with its own secret. The real CLI runs create, update (roles), rotation (the rotating keys' ``keepers``), refresh
and destroy, each with ``--debug -v=9 --logtostderr --logflow`` (so the plugins get the ``-v`` flags too) and
``PULUMI_DEBUG_GRPC`` set, and with every DEBUG log of the provider hosts on their stderr (the provider's, urllib3's,
botocore's, hvac's: ``tests/faults/debuglog``), which the engine relays. Then the machinery of
``tests/faults/test_secrets.py`` scans it all (the CLI's output and events, every file of the stack: state, backups,
history, Pulumi home and the create journal, the gRPC log) for every private key the stores ever held for these
keys (read from the stores by the test, every version), the account's private key and the Vault token.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import hvac
import pytest

from pulumi_imburse import RotatingTenantKey, TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.stores import KeyDocument
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import changes
from ..faults.test_secrets import DEBUG_LOGGING, Scan, _assert_no_secret, _files
from ..plugin import native
from ..support.apps import AWS_ENV
from .conftest import REGION, VAULT_TOKEN, Where

pytestmark = pytest.mark.usefixtures("no_real_aws")

READ, WRITE = "tenant-app-read", "tenant-app-write"
KEYS = ("dynamic-key", "dynamic-rotating", "plugin-key", "plugin-rotating")
VERBOSE: dict[str, Any] = {"log_verbosity": 9, "log_to_std_err": True, "log_flow": True}
"""With ``Scan.run``'s ``--debug``: the CLI's most verbose output, its logs on stderr, the same flags to plugins."""
VERBOSE_LOG_LINE = re.compile(r'(?m)^\{"time":"[^"]+","level":"\w+","msg":.*"v":9[,}]')
"""A line of the CLI's own logs at verbosity 9 (one JSON object a line), on its stderr with ``--logtostderr``."""
ENGINE_CONFIG_CALLS = {f"/pulumirpc.{call}" for call in (
    "LanguageRuntime/Run", "ResourceMonitor/GetDeploymentInfo", "ResourceProvider/CheckConfig",
    "ResourceProvider/DiffConfig", "ResourceProvider/Configure")}
"""The gRPC calls in which the engine passes the stack's config, secrets decrypted (its own doing, for any provider:
``PULUMI_DEBUG_GRPC`` logs them whole; give the account's key as ``IMBURSE_PRIVATE_KEY`` to keep it out)."""


def every_stored_document(destination: dict[str, Any]) -> list[KeyDocument]:
    """Every version the store holds at ``destination`` (not only the current one), read with the store's protocol."""
    if destination["type"] == "aws-secretsmanager":
        aws = boto3.session.Session(aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"], region_name=REGION
                                    ).client("secretsmanager", endpoint_url=destination["endpoint"])
        try:
            versions = aws.list_secret_version_ids(SecretId=destination["secretId"], IncludeDeprecated=True)
        except aws.exceptions.ResourceNotFoundException:
            return []
        return [KeyDocument.from_json(aws.get_secret_value(SecretId=destination["secretId"],
                                                           VersionId=v["VersionId"])["SecretString"])
                for v in versions["Versions"]]
    vault = hvac.Client(url=destination["address"], token=VAULT_TOKEN)
    try:
        meta = vault.secrets.kv.v2.read_secret_metadata(path=destination["path"])
    except hvac.exceptions.InvalidPath:
        return []
    found = []
    for version, info in meta["data"]["versions"].items():
        if info.get("destroyed") or info.get("deletion_time"):
            continue
        data = vault.secrets.kv.v2.read_secret_version(path=destination["path"], version=int(version),
                                                       raise_on_deleted_version=True)["data"]["data"]
        found.append(KeyDocument.from_fields(data))
    return found


def dynamic_providers(s: EmulatedStack) -> list[bytes]:
    """The decoded ``__provider`` (inputs and outputs) of every dynamic resource of the stack."""
    found = []
    for res in (s.stack.export_stack().deployment or {})["resources"]:
        if res["type"].startswith("pulumi-python:dynamic/"):
            found += [base64.b64decode(props["__provider"]) for props in (res["inputs"], res["outputs"])]
    assert len(found) == 4
    return found


@pytest.mark.parametrize("store", ["aws", "vault"])
def test_no_private_key_anywhere_in_pulumi_across_a_delivered_keys_life_at_any_verbosity(
        store: str, where: Where, emulator: EmulatorProcess, api: ImburseClient,
        existing_tenant: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tenant, base = existing_tenant, f"imburse/leaks-{uuid.uuid4().hex[:12]}"
    destinations = {k: where(store, f"{base}/{k}", recovery_window_days=0) for k in KEYS}
    inputs: dict[str, Any] = {"roles": [READ], "keepers": {"generation": "1"}}

    def program() -> None:
        roles, keepers = inputs["roles"], inputs["keepers"]
        TenantKey("dynamic-key", tenant_id=tenant, roles=roles, destination=destinations["dynamic-key"])
        RotatingTenantKey("dynamic-rotating", tenant_id=tenant, roles=roles, grace_days=1, keepers=keepers,
                          destination=destinations["dynamic-rotating"])
        native.tenant_key("plugin-key", tenantId=tenant, roles=roles, destination=destinations["plugin-key"])
        native.rotating_tenant_key("plugin-rotating", tenantId=tenant, roles=roles, graceDays=1, keepers=keepers,
                                   destination=destinations["plugin-rotating"])

    grpc_log = tmp_path / "grpc.log"
    env = {**AWS_ENV, "VAULT_TOKEN": VAULT_TOKEN, "PYTHONPATH": str(DEBUG_LOGGING),
           "PULUMI_DEBUG_GRPC": str(grpc_log)}
    scan, private_keys = Scan(), set[str]()

    def remember_stored() -> None:
        for d in destinations.values():
            private_keys.update(doc.private_key for doc in every_stored_document(d))

    with emulated_stack(program, project_name=f"leaks-{store}", emulator=emulator, env=env) as s:
        assert changes(scan.run(s.stack.up, **VERBOSE)) == {"create": 5}
        remember_stored()
        assert len(private_keys) == 4 and all(private_keys)

        inputs["roles"] = [READ, WRITE]
        assert changes(scan.run(s.stack.up, **VERBOSE)) == {"update": 4}

        inputs["keepers"] = {"generation": "2"}  # both rotating keys rotate; the old keys stay in their grace period
        assert changes(scan.run(s.stack.up, **VERBOSE)) == {"update": 2}
        remember_stored()
        assert len(private_keys) == 6

        scan.run(s.stack.refresh, **VERBOSE)
        providers = dynamic_providers(s)
        live = {k.public_key for k in api.list_keys(tenant)}
        assert len(live) == 6  # four keys and the two rotated ones, still in their grace period

        assert changes(scan.run(s.stack.destroy, **VERBOSE)) == {"delete": 5}
        assert api.list_keys(tenant) == []
        files = _files(s.work_dir.parent)  # state, backups, history, stack config, Pulumi home, the create journal
    assert any(name.endswith("journal.db") for name in files)

    printed = capfd.readouterr()
    scan.texts += [printed.out, printed.err]
    grpc = grpc_log.read_text(errors="replace")
    everything = "\n".join([*scan.texts, grpc])
    # The scan saw what it scans for: the gRPC log of every operation, and the provider hosts' DEBUG logs of their
    # requests to the store (urllib3's request lines: botocore and hvac send through it).
    assert grpc.count('"method":"/pulumirpc.ResourceProvider/Create"') >= 4, grpc[:2000]
    assert '"method":"/pulumirpc.ResourceProvider/Delete"' in grpc
    store_address = next(iter(destinations.values())).get("endpoint") or next(iter(destinations.values()))["address"]
    assert f"DEBUG urllib3.connectionpool: {store_address}" in everything, "no DEBUG log of the store's requests"
    assert VERBOSE_LOG_LINE.search(everything), "no -v=9 log of the CLI"
    secrets = [*sorted(private_keys), emulator.private_key]
    # The engine itself hands the stack's config, decrypted, to the program and the providers: the account's private
    # key (secret config imburse:privateKey) is in those messages of the gRPC log, and only in those.
    config_calls = [line for line in grpc.splitlines() if json.loads(line)["method"] in ENGINE_CONFIG_CALLS]
    other_calls = [line for line in grpc.splitlines() if line not in config_calls]
    assert any(emulator.private_key in line for line in config_calls)  # what the log is known to hold
    _assert_no_secret(config_calls, [], [], sorted(private_keys))
    texts = [*scan.texts, *other_calls, *(b.decode("utf-8", "replace") for b in files.values())]
    _assert_no_secret(texts, [*files.values(), *providers], providers, secrets)
    print(f"scanned: {len(texts)} texts, {sum(map(len, texts))} characters; {len(grpc)} of gRPC log; "
          f"{len(files)} files; {len(secrets)} private keys")
    assert not [i for i, text in enumerate([*texts, *config_calls]) if VAULT_TOKEN in text], "the Vault token"



