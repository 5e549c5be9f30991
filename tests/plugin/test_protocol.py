"""The plugin process over the provider protocol: its schema, its version, and calls served all at once.

The real ``pulumi-resource-imburse`` executable is started as the engine starts it and driven over gRPC: what
the engine does with it is tested through the CLI (test_plugin_stacks.py); this checks what the engine cannot
show, how many calls the plugin serves at once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_imburse.config import max_concurrent_requests
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.errors import ImburseError
from pulumi_imburse.plugin import schema
from pulumi_imburse.rotating_key import RotatingTenantKeyProvider
from pulumi_imburse.shapes import spell

from ..support.host import CHANNEL_OPTIONS, SECRET_SIG, SIG_KEY, from_struct, to_struct

PLUGIN = Path(sys.executable).parent / "pulumi-resource-imburse"
CONCURRENT = 32
LATENCY_MS = 400


@pytest.fixture
def plugin() -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """The plugin executable, started as the engine starts it (it prints its port), and a client for it."""
    exe = str(PLUGIN) if PLUGIN.exists() else shutil.which("pulumi-resource-imburse")
    assert exe, "pulumi-resource-imburse is not installed (pip install -e .)"
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def configure(stub: provider_pb2_grpc.ResourceProviderStub, emu: EmulatorProcess) -> None:
    args = {"baseUrl": emu.base_url, "publicKey": emu.public_key,
            "privateKey": {SIG_KEY: SECRET_SIG, "value": emu.private_key}}
    answer = stub.Configure(provider_pb2.ConfigureRequest(args=to_struct(args), acceptSecrets=True))
    assert answer.acceptSecrets


def test_schema_and_version_are_the_packages(plugin: provider_pb2_grpc.ResourceProviderStub) -> None:
    served = plugin.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema
    assert json.loads(served) == json.loads(schema.SCHEMA_PATH.read_text())
    assert plugin.GetPluginInfo(empty_pb2.Empty()).version == schema.version()


def test_every_call_is_served_at_once(plugin: provider_pb2_grpc.ResourceProviderStub, emulator: EmulatorProcess,
                                      tenant: dict[str, Any]) -> None:
    """CONCURRENT creates at once reach the emulator as many at once as the account's bound on requests in
    flight allows (IMBURSE_MAX_CONCURRENT_REQUESTS, 16 by default; the dynamic host would send 4 at a time)."""
    configure(plugin, emulator)
    urn = f"urn:pulumi:test::p::{schema.TENANT_KEY_TOKEN}::k"
    props = {"tenantId": tenant["tenantId"], "roles": ["tenant-app-read"], "namePrefix": "k"}
    emulator.set_faults(latencyMs=LATENCY_MS)
    try:
        # A first create exchanges the token, so the concurrent ones measure only key requests.
        plugin.Create(provider_pb2.CreateRequest(urn=urn, properties=to_struct({**props, "name": "k-first"})))
        emulator.reset_stats()

        def create(i: int) -> dict[str, Any]:
            request = provider_pb2.CreateRequest(urn=urn, properties=to_struct({**props, "name": f"k-{i}"}))
            answer = plugin.Create(request)
            return from_struct(answer.properties)

        with ThreadPoolExecutor(CONCURRENT) as pool:
            outputs = list(pool.map(create, range(CONCURRENT)))
        peak = emulator.stats()["inFlight"]["peak"]
    finally:
        emulator.clear_faults()
    assert sorted(o["name"] for o in outputs) == sorted(f"k-{i}" for i in range(CONCURRENT))
    assert all(o["privateKey"][SIG_KEY] == SECRET_SIG for o in outputs)  # always a secret
    bound = max_concurrent_requests()
    assert CONCURRENT > bound and peak == bound, f"{peak} of {CONCURRENT} creates reached the service at once"


def test_a_rotating_key_import_is_refused_with_the_cores_message(
        plugin: provider_pb2_grpc.ResourceProviderStub) -> None:
    """``pulumi import`` / ``import_`` of an ``imburse:index:RotatingTenantKey``: Read with the id only fails."""
    key_id = "8a2f5d64-3f5e-4d0f-9c55-1f3b1a0c7e21/0f6c3b2a-1d4e-4f5a-8b9c-0d1e2f3a4b5c"
    with pytest.raises(ImburseError) as core:
        RotatingTenantKeyProvider().read(key_id, {})
    urn = f"urn:pulumi:test::p::{schema.ROTATING_KEY_TOKEN}::k"
    with pytest.raises(grpc.RpcError) as served:
        plugin.Read(provider_pb2.ReadRequest(id=key_id, urn=urn))
    # The core's message, with properties named as the plugin's users write them.
    assert served.value.details() == spell(str(core.value), "wire")
    assert "cannot be imported" in str(core.value) and "TenantKey(adoptPublicKey=...)" in served.value.details()


def test_a_call_larger_than_grpcs_default_limit_is_served(plugin: provider_pb2_grpc.ResourceProviderStub) -> None:
    """Inputs of 5 MiB (gRPC refuses more than 4 MiB unless told otherwise) reach the rules, as with Pulumi's
    own provider servers: the plugin sets its message limit itself (server.GRPC_SERVER_OPTIONS)."""
    big = "x" * (5 * 1024 * 1024)
    news = {"tenantId": "8a2f5d64-3f5e-4d0f-9c55-1f3b1a0c7e21", "roles": ["tenant-app-read"], "keepers": {"big": big}}
    answer = plugin.Check(provider_pb2.CheckRequest(urn=f"urn:pulumi:test::p::{schema.TENANT_KEY_TOKEN}::k",
                                                    news=to_struct(news)))
    assert list(answer.failures) == []
    assert from_struct(answer.inputs)["keepers"] == {"big": big}
