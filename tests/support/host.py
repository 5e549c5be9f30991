"""A test driver for the real dynamic-provider host: ``python -u -m pulumi.dynamic``, driven over gRPC.

This is the same process the Pulumi engine launches for the ``pulumi-python`` dynamic provider plugin
(``sdk/python/dist/pulumi-resource-pulumi-python`` runs ``python -u -m pulumi.dynamic``): it prints its
port on the first line of stdout and serves ``pulumirpc.ResourceProvider``. Its stdout/stderr after the
port line are captured into :attr:`ProviderHost.log` so tests can read (and scan) what providers printed.

It is for protocol-level tests (one Check, Diff, Create... at a time, with exactly the properties the engine
sends) and fault tests; it is not an engine: stack-level behaviour is tested through the real Pulumi CLI
(``pulumi_imburse.testing.emulated_stack``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

PropertyMap = dict[str, Any]
"""Wire-form properties: camelCase names, secrets as ``{SIG: ..., "value": ...}`` objects."""

SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"


class ProviderHostError(Exception):
    """The ``python -m pulumi.dynamic`` provider host could not be started or stopped answering."""


class ProviderError(Exception):
    """A provider call (Check, Diff, Create, Update, Delete, Read) failed; ``details`` holds the host's traceback."""

    def __init__(self, message: str, *, operation: str, urn: str, details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.urn = urn
        self.details = details


def strip_secrets(value: Any) -> Any:
    """Replace every wire secret by its element, as the engine does for a provider that does not accept secrets.

    Engine rule: ``MarshalProperties(..., KeepSecrets: protocol.acceptSecrets)`` in
    ``pkg/resource/plugin/provider_plugin.go``; the Python dynamic provider host answers ``acceptSecrets=false``.
    """
    if isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG:
        return strip_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_secrets(v) for v in value]
    return value


def normalize_numbers(value: Any) -> Any:
    """``google.protobuf.Struct`` carries every number as a double; give integral ones back as ``int``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_numbers(v) for v in value]
    return value

# Same limits as the SDK's own channels (pulumi/runtime/_grpc_settings.py): serialized providers can be large.
_MAX_MESSAGE: Final = 400 * 1024 * 1024
CHANNEL_OPTIONS: Final = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]
DYNAMIC_PACKAGE: Final = "pulumi-python"
DEFAULT_PROVIDER_TYPE: Final = f"pulumi:providers:{DYNAMIC_PACKAGE}"


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` holding the wire-form ``props``."""
    message = struct_pb2.Struct()
    message.update(dict(props))
    return message


def from_struct(message: struct_pb2.Struct) -> PropertyMap:
    """Wire-form properties from a ``google.protobuf.Struct`` (integral numbers come back as ``int``)."""
    value = normalize_numbers(json_format.MessageToDict(message))
    assert isinstance(value, dict)
    return value


@dataclass
class DiffResult:
    """What ``Diff`` answered: ``changes`` is one of ``"unknown"``, ``"none"``, ``"some"``."""

    changes: str
    replaces: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    diffs: list[str] = field(default_factory=list)


@dataclass
class ReadResult:
    """What ``Read`` answered; an empty ``id`` means the resource no longer exists."""

    id: str
    outputs: PropertyMap
    inputs: PropertyMap | None


class ProviderHost:
    """A running dynamic-provider host process and a gRPC client for it.

    The process starts as soon as the object is created (so it boots while the program does); the first
    provider call waits for its port and then sends ``Configure`` once, with the whole stack config.
    """

    def __init__(self, *, cwd: Path, env: Mapping[str, str], config: Mapping[str, Any], project: str,
                 stack: str, python: str = sys.executable, startup_timeout: float = 60.0) -> None:
        self._config = dict(config)
        self._project = project
        self._stack = stack
        self._startup_timeout = startup_timeout
        self._lines: list[str] = []
        self._log_lock = threading.Condition()
        self._ready_lock = threading.Lock()
        self._port: int | None = None
        self._port_seen = threading.Event()
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._channel: Any = None
        self._closed = False
        self.used = False
        try:
            self._proc = subprocess.Popen(  # fixed argv: this interpreter, -m pulumi.dynamic
                [python, "-u", "-m", "pulumi.dynamic"],
                cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise ProviderHostError(
                f"cannot start the dynamic provider host ({python} -m pulumi.dynamic): {exc}") from exc
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    # -- process plumbing ------------------------------------------------------------------------

    def _append(self, text: str) -> None:
        with self._log_lock:
            self._lines.append(text)
            self._log_lock.notify_all()

    def _read_stdout(self, stream: IO[bytes]) -> None:
        first = stream.readline()
        try:
            self._port = int(first.strip())
        except ValueError:
            if first:
                self._append(first.decode("utf-8", "replace"))
        self._port_seen.set()
        self._drain(stream)

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._append(raw.decode("utf-8", "replace"))
        stream.close()

    @property
    def log(self) -> str:
        """Everything the host process printed (after its port line), stdout and stderr interleaved."""
        with self._log_lock:
            return "".join(self._lines)

    def wait_for_log(self, text: str, timeout: float = 30.0) -> str:
        """The log once it contains ``text``: the host's output reaches us on reader threads, possibly after the
        call that printed it has returned. Raises ``AssertionError`` naming ``text`` if it never comes."""
        with self._log_lock:
            if not self._log_lock.wait_for(lambda: text in "".join(self._lines), timeout):
                raise AssertionError(f"the provider host never printed {text!r}; it printed:\n{''.join(self._lines)}")
            return "".join(self._lines)

    def _ready(self) -> provider_pb2_grpc.ResourceProviderStub:
        with self._ready_lock:
            if self._stub is not None:
                return self._stub
            if self._closed:
                raise ProviderHostError("the provider host has been shut down")
            self.used = True
            if not self._port_seen.wait(self._startup_timeout) or self._port is None:
                self._proc.poll()
                raise ProviderHostError(
                    "the dynamic provider host (python -m pulumi.dynamic) did not report a port"
                    + (f" (exit code {self._proc.returncode})" if self._proc.returncode is not None else "")
                    + (f":\n{self.log}" if self.log else "")
                )
            self._channel = grpc.insecure_channel(f"127.0.0.1:{self._port}", options=CHANNEL_OPTIONS)
            stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
            self._configure(stub)
            self._stub = stub
            return stub

    def _configure(self, stub: provider_pb2_grpc.ResourceProviderStub) -> None:
        # Engine rule (pkg/resource/deploy/target.go GetPackageConfig + plugin/provider_plugin.go Configure): a
        # dynamic provider (package pulumi-python) gets the *whole* stack config, keys keeping their namespace,
        # values as strings (structured values as JSON text), secret values as secrets in `args` (the host
        # unwraps them, pulumi PR #17229/#17673), plain copies in the deprecated `variables` map.
        variables = {f"{DYNAMIC_PACKAGE}:config:{k}": str(strip_secrets(v)) for k, v in self._config.items()}
        request = provider_pb2.ConfigureRequest(
            variables=variables,
            args=to_struct(self._config),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
            urn=f"urn:pulumi:{self._stack}::{self._project}::{DEFAULT_PROVIDER_TYPE}::default",
            name="default",
            type=DEFAULT_PROVIDER_TYPE,
            id=str(uuid.uuid4()),
        )
        try:
            response = stub.Configure(request)
        except grpc.RpcError as exc:
            raise ProviderHostError(f"Configure of the dynamic provider failed: {_details(exc)}") from exc
        # The Python host answers acceptSecrets=False: callers strip secrets before every call, as the engine does.
        if response.acceptSecrets:
            raise ProviderHostError("unexpected provider host: it accepts secrets, this driver assumes it does not")

    def close(self) -> None:
        """Stop the host process (the engine kills plugins when a deployment ends)."""
        with self._ready_lock:
            self._closed = True
            if self._channel is not None:
                self._channel.close()
                self._channel = None
            self._stub = None
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(timeout=5)

    # -- provider calls (wire properties in, wire properties out; secrets already stripped) ------------

    def _call(self, operation: str, urn: str, method: str, request: Any) -> Any:
        stub = self._ready()
        try:
            return getattr(stub, method)(request)
        except grpc.RpcError as exc:
            details = _details(exc)
            raise ProviderError(f"{operation} of {urn} failed: {_summary(details)}",
                                operation=operation, urn=urn, details=details) from exc

    def check(self, urn: str, olds: PropertyMap, news: PropertyMap) -> tuple[PropertyMap, list[tuple[str, str]]]:
        """``Check(olds, news)`` -> ``(checked inputs, [(property, reason), ...])``."""
        name, typ = _name_type(urn)
        response = self._call("check", urn, "Check", provider_pb2.CheckRequest(
            urn=urn, name=name, type=typ, olds=to_struct(olds), news=to_struct(news)))
        return from_struct(response.inputs), [(f.property, f.reason) for f in response.failures]

    def diff(self, urn: str, id_: str, olds: PropertyMap, news: PropertyMap, old_inputs: PropertyMap,
             ignore_changes: Sequence[str]) -> DiffResult:
        """``Diff`` of prior outputs (``olds``) against new checked inputs."""
        name, typ = _name_type(urn)
        response = self._call("diff", urn, "Diff", provider_pb2.DiffRequest(
            id=id_, urn=urn, name=name, type=typ, olds=to_struct(olds), news=to_struct(news),
            old_inputs=to_struct(old_inputs), ignoreChanges=list(ignore_changes)))
        changes = {provider_pb2.DiffResponse.DIFF_NONE: "none",
                   provider_pb2.DiffResponse.DIFF_SOME: "some"}.get(response.changes, "unknown")
        return DiffResult(changes, list(response.replaces), bool(response.deleteBeforeReplace),
                          list(response.diffs))

    def create(self, urn: str, props: PropertyMap) -> tuple[str, PropertyMap]:
        """``Create`` -> ``(id, outputs)``."""
        name, typ = _name_type(urn)
        response = self._call("create", urn, "Create", provider_pb2.CreateRequest(
            urn=urn, name=name, type=typ, properties=to_struct(props)))
        return response.id, from_struct(response.properties)

    def update(self, urn: str, id_: str, olds: PropertyMap, news: PropertyMap, old_inputs: PropertyMap,
               ignore_changes: Sequence[str]) -> PropertyMap:
        """``Update`` -> new outputs."""
        name, typ = _name_type(urn)
        response = self._call("update", urn, "Update", provider_pb2.UpdateRequest(
            id=id_, urn=urn, name=name, type=typ, olds=to_struct(olds), news=to_struct(news),
            old_inputs=to_struct(old_inputs), ignoreChanges=list(ignore_changes)))
        return from_struct(response.properties)

    def delete(self, urn: str, id_: str, props: PropertyMap, old_inputs: PropertyMap) -> None:
        """``Delete`` the resource ``id_`` (``props`` are its last outputs)."""
        name, typ = _name_type(urn)
        self._call("delete", urn, "Delete", provider_pb2.DeleteRequest(
            id=id_, urn=urn, name=name, type=typ, properties=to_struct(props), old_inputs=to_struct(old_inputs)))

    def read(self, urn: str, id_: str, props: PropertyMap, inputs: PropertyMap) -> ReadResult:
        """``Read`` the live state of ``id_``."""
        name, typ = _name_type(urn)
        response = self._call("read", urn, "Read", provider_pb2.ReadRequest(
            id=id_, urn=urn, name=name, type=typ, properties=to_struct(props), inputs=to_struct(inputs)))
        ins = from_struct(response.inputs) if response.HasField("inputs") else None
        return ReadResult(response.id, from_struct(response.properties), ins)


def _name_type(urn: str) -> tuple[str, str]:
    parts = urn.split("::")
    qualified = parts[2] if len(parts) >= 4 else ""
    return "::".join(parts[3:]), qualified.split("$")[-1]


def _details(exc: Any) -> str:
    try:
        return str(exc.details() or exc)
    except Exception:
        return str(exc)


def _summary(details: str) -> str:
    """The last meaningful line of a Python traceback (the exception itself), else the whole text."""
    lines: Iterable[str] = (line.strip() for line in details.strip().splitlines())
    meaningful = [line for line in lines if line]
    if meaningful and meaningful[0].startswith("Traceback"):
        return meaningful[-1]
    return details.strip()
