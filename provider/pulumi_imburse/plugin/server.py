"""``pulumi-resource-imburse``: the Imburse resource provider plugin, for programs in every Pulumi language.

The engine starts this executable (found on ``PATH`` or installed with ``pulumi plugin install``) once per
provider resource (the default provider, and each explicit ``imburse.Provider``), reads the port it prints and
calls the ``pulumirpc.ResourceProvider`` service. This module is only an adapter: every rule (input checks,
diffs, creates, reads, updates, deletes) is the core's, in :class:`~pulumi_imburse.tenant_key.TenantKeyProvider`,
:class:`~pulumi_imburse.rotating_key.RotatingTenantKeyProvider` and :class:`~pulumi_imburse.tenant.TenantProvider`,
the same objects the Python dynamic resources run. The adapter

- turns wire properties into the plain values those rules take (secrets unwrapped, unknowns as the engine's
  sentinel) and their results back, keeping what was secret secret and the core's secret outputs (``privateKey``,
  ``previousPrivateKey``) always secret;
- gives the rules the client of this provider instance's credentials (its inputs, else the ``IMBURSE_*``
  environment variables, resolved by :mod:`pulumi_imburse.config` on the first API call);
- names the resource after its URN (``namePrefix``, for the types whose inputs have it, as the Python
  constructors do);
- gives a refresh's Read the old inputs the outputs lack (as the prior state, beside the outputs), so what the
  core keeps in the inputs only (``namePrefix`` of an imported key) survives a refresh;
- serves every call the engine sends at once: the handlers are asynchronous and the (synchronous, blocking)
  rules run in a thread pool of :data:`MAX_CONCURRENT_CALLS` threads, far above any ``--parallel``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import functools
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, NamedTuple, TypeVar

import grpc
import grpc.aio
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic import CheckResult
from pulumi.runtime import Settings, configure
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from .. import config as settings
from .. import rotating_key, tenant, tenant_key
from .._base import UNKNOWN, URN_KEY, DetailedDiff, ImburseProvider
from ..client import ImburseClient
from ..errors import ImburseError
from ..ledger import Ledger
from ..lifeline import watch_parent
from ..shapes import spell
from ..stores.destination import PROPERTY as DESTINATION
from ..stores.destination import StoreConfig
from . import schema

MAX_CONCURRENT_CALLS: Final = 256
"""Threads running the rules' blocking calls: more than any ``--parallel`` the engine is given in practice
(its default is 4 x CPU cores), so no call waits for a thread. The HTTP connection pool is as large."""

class ResourceType(NamedTuple):
    """A resource type the plugin serves: the core's rules, and what the adapter needs to know of them."""

    provider: Callable[..., ImburseProvider]
    """The core's provider class, called with ``client=`` (where its rules get their API client)."""
    inputs: tuple[str, ...]
    """The type's inputs (the wire names): ``namePrefix`` among them means the resource is named after its URN."""
    secret_outputs: tuple[str, ...]
    """Outputs returned as secrets whatever the inputs were."""
    outputs: tuple[str, ...] = ()
    """Every output of the type: one the rules leave unset is returned as null, not left out (see ``_outputs``)."""


RESOURCES: Final[Mapping[str, ResourceType]] = {
    schema.TENANT_KEY_TOKEN: ResourceType(tenant_key.TenantKeyProvider, tenant_key.INPUTS, tenant_key.SECRET_OUTPUTS,
                                          tenant_key.OUTPUTS),
    schema.ROTATING_KEY_TOKEN: ResourceType(rotating_key.RotatingTenantKeyProvider, rotating_key.INPUTS,
                                            rotating_key.SECRET_OUTPUTS, rotating_key.OUTPUTS),
    schema.TENANT_TOKEN: ResourceType(tenant.TenantProvider, tenant.INPUTS, (), tenant.OUTPUTS),
}
"""The resource types ``pulumi-resource-imburse`` serves, by type token."""

# Special values on the wire. A property value that is a Struct with the key SIG_KEY is no plain object: the
# signature under that key says what it is. These constants are the provider protocol's, not an SDK's: Pulumi's Go
# SDK publishes them as package github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig (sig.Key, sig.Secret,
# sig.OutputValue) and its go/property/README.md shows the encodings; the Python SDK keeps its copies private.
SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
"""The key of a special value's signature."""
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
"""A secret: ``{SIG_KEY: SECRET_SIG, "value": <the value>}``."""
OUTPUT_VALUE_SIG: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
"""An output value: ``{SIG_KEY: OUTPUT_VALUE_SIG, "value": ..., "secret": bool, "dependencies": [urn, ...]}``, each
field optional; without ``value`` it is unknown."""

GRPC_SERVER_OPTIONS: Final = (
    # Calls up to 400 MiB (gRPC's default limit is 4 MiB), as the Pulumi SDK's own servers accept.
    ("grpc.max_receive_message_length", 400 * 1024 * 1024),
    # A call may wait in the server's queue up to 30 minutes before a handler takes it (gRPC's default is 30 s,
    # then it is cancelled and the engine's step fails), as the Pulumi SDK's own servers allow.
    ("grpc.server_max_unrequested_time_in_server", 30 * 60),
)
"""The gRPC server's options: the values the Pulumi Python SDK's servers use (pulumi 3.272), set here explicitly."""

T = TypeVar("T")


class Session:
    """One provider instance's credentials and the client built from them on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: dict[str, Any] = {}
        self._client: ImburseClient | None = None
        self._stores = StoreConfig()

    def configure(self, values: Mapping[str, Any]) -> None:
        """Take the provider's inputs (``baseUrl``, ...); unset or empty ones fall back to ``IMBURSE_*``
        (``vaultToken`` to ``VAULT_TOKEN``). ``destination``: the keys' default destination."""
        with self._lock:
            self._config = {s.config_key: values[s.name] for s in settings.SETTINGS
                            if isinstance(values.get(s.name), str) and values[s.name] != UNKNOWN}
            self._client = None
            self._stores = StoreConfig.from_settings(values.get(DESTINATION),
                                                     self._config.get(settings.VAULT_TOKEN.config_key))

    def stores(self) -> StoreConfig:
        """The secret stores' settings of this provider instance: its default destination and Vault token."""
        with self._lock:
            return self._stores

    def client(self) -> ImburseClient:
        """The client, built at the first API call; a missing or malformed setting fails naming it."""
        with self._lock:
            if self._client is None:
                creds = settings.resolve(self._config)
                self._client = ImburseClient.from_credentials(creds, pool_maxsize=MAX_CONCURRENT_CALLS)
            return self._client


# ------------------------------------------------------------------ wire values <-> plain values

def to_plain(value: struct_pb2.Value) -> tuple[Any, bool]:
    """A wire value as the rules take it, and whether it held a secret.

    Secrets are unwrapped; an unknown (the engine's sentinel, or an output value without a value) becomes
    :data:`~pulumi_imburse._base.UNKNOWN`; numbers are floats, as the dynamic host gives them.
    """
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        fields = value.struct_value.fields
        sig = fields[SIG_KEY].string_value if SIG_KEY in fields else None
        if sig == SECRET_SIG:
            inner, _ = to_plain(fields["value"])
            return inner, True
        if sig == OUTPUT_VALUE_SIG:
            secret = "secret" in fields and fields["secret"].bool_value
            if "value" not in fields:
                return UNKNOWN, secret
            inner, inner_secret = to_plain(fields["value"])
            return inner, secret or inner_secret
        result: dict[str, Any] = {}
        any_secret = False
        for k, v in fields.items():
            result[k], secret = to_plain(v)
            any_secret |= secret
        return result, any_secret
    if kind == "list_value":
        items = [to_plain(v) for v in value.list_value.values]
        return [v for v, _ in items], any(s for _, s in items)
    if kind == "string_value":
        return value.string_value, False
    if kind == "number_value":
        return value.number_value, False
    if kind == "bool_value":
        return value.bool_value, False
    return None, False


def props_to_plain(message: struct_pb2.Struct) -> tuple[dict[str, Any], set[str]]:
    """Wire properties as plain values, and the names of those that held a secret."""
    plain: dict[str, Any] = {}
    secret: set[str] = set()
    for k, v in message.fields.items():
        plain[k], is_secret = to_plain(v)
        if is_secret:
            secret.add(k)
    return plain, secret


def to_wire(props: Mapping[str, Any], secret: set[str] | frozenset[str] | tuple[str, ...] = ()) -> struct_pb2.Struct:
    """Plain properties on the wire, those named in ``secret`` wrapped as secrets."""
    message = struct_pb2.Struct()
    for k, v in props.items():
        if isinstance(v, tuple):
            v = list(v)
        message.update({k: {SIG_KEY: SECRET_SIG, "value": v} if k in secret else v})
    return message


def _diff_kind(old: Any, new: Any, replace: bool) -> Any:
    """The engine's kind of a property's change: added, deleted or updated, forcing a replacement or not."""
    kinds = provider_pb2.PropertyDiff
    if old is None:
        return kinds.ADD_REPLACE if replace else kinds.ADD
    if new is None:
        return kinds.DELETE_REPLACE if replace else kinds.DELETE
    return kinds.UPDATE_REPLACE if replace else kinds.UPDATE


STORED_NAME_PREFIX: Final = "__namePrefix"
"""Where the checked inputs (so the state's inputs) of a key hold the ``namePrefix`` this adapter adds from the URN:
a provider-own property (``__``), which the engine never compares with the program's inputs. As ``namePrefix`` it
showed as ``[diff: -namePrefix]`` on every ``pulumi refresh --run-program`` (the program never declares it)."""


def _stored(inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs for the state: ``namePrefix`` under :data:`STORED_NAME_PREFIX`."""
    if "namePrefix" in inputs:
        inputs = {k: v for k, v in inputs.items() if k != "namePrefix"} | {STORED_NAME_PREFIX: inputs["namePrefix"]}
    return inputs


def _loaded(inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs from the state as the rules read them: ``namePrefix`` back from :data:`STORED_NAME_PREFIX`."""
    if STORED_NAME_PREFIX in inputs:
        prefix = inputs[STORED_NAME_PREFIX]
        inputs = {k: v for k, v in inputs.items() if k != STORED_NAME_PREFIX}
        inputs.setdefault("namePrefix", prefix)
    return inputs


def _resource_name(urn: str) -> str:
    return urn.split("::")[-1]


def _resource_type(urn: str) -> str:
    return urn.split("::")[-2] if "::" in urn else ""


class ImburseProviderServicer(provider_pb2_grpc.ResourceProviderServicer):
    """The ``pulumirpc.ResourceProvider`` service of one provider instance (one process).

    Every handler is asynchronous; the rules run in the thread pool, so calls never wait for each other.
    Errors the rules raise for the user (:class:`~pulumi_imburse.errors.ImburseError` and its kin, a malformed
    id) reach the engine as their message; anything else with its traceback, as the dynamic host does.
    """

    def __init__(self, *, version: str, pool: ThreadPoolExecutor,
                 resources: Mapping[str, ResourceType] = RESOURCES) -> None:
        """``resources``: the types served (default: the package's, :data:`RESOURCES`)."""
        self._version = version
        self._pool = pool
        self._session = Session()
        self._resources = dict(resources)
        # One ledger for this provider instance's process, shared by the provider object of every type (an adoption,
        # a generated name, a swept tenant: see pulumi_imburse.ledger).
        self._ledger = Ledger()
        self._providers: dict[str, ImburseProvider] = {
            token: r.provider(client=self._session.client, ledger=self._ledger, face="wire",
                              stores=self._session.stores)
            for token, r in self._resources.items()}

    # -- plumbing ------------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run a blocking rule in the pool, in this call's context (the engine address for ``pulumi.log``)."""
        ctx = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(ctx.run, fn))

    def _provider(self, urn: str) -> ImburseProvider:
        token = _resource_type(urn)
        try:
            return self._providers[token]
        except KeyError:
            raise ImburseError(f"unknown resource type {token!r}; this provider serves "
                               f"{', '.join(sorted(self._providers))}") from None

    async def _call(self, context: grpc.aio.ServicerContext, fn: Callable[[], T]) -> T:
        try:
            return await self._run(fn)
        except (ImburseError, ValueError) as exc:
            # Named as the plugin's users (Pulumi YAML, TypeScript, Go) write properties: privateKey, not private_key.
            await context.abort(grpc.StatusCode.UNKNOWN, spell(str(exc), "wire"))
        except Exception:
            await context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())
        raise AssertionError("unreachable: abort raises")

    # -- plugin ------------------------------------------------------------------------------------

    async def GetPluginInfo(self, request: empty_pb2.Empty, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=self._version)

    async def GetSchema(self, request: Any, context: Any) -> Any:
        return provider_pb2.GetSchemaResponse(schema=schema.SCHEMA_PATH.read_text())

    async def Cancel(self, request: Any, context: Any) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    # -- provider configuration ------------------------------------------------------------------

    async def CheckConfig(self, request: Any, context: Any) -> Any:
        # A missing or malformed credential fails the first API call naming it, as the dynamic path does (a
        # preview of resources whose inputs are unknown needs none). Secret settings (privateKey) are returned as
        # secrets however they were given, so the engine never stores them in plain text in the provider's state.
        inputs = struct_pb2.Struct()
        inputs.CopyFrom(request.news)
        for s in settings.SETTINGS:
            if s.secret and s.name in inputs.fields:
                value, is_secret = to_plain(inputs.fields[s.name])
                if not is_secret and value is not None:
                    inputs.update({s.name: {SIG_KEY: SECRET_SIG, "value": value}})
        # The base URL is refused here, at preview, before any request (a token exchange signs with the account
        # key): named as the input it came from, the explicit provider's, the stack config or the environment.
        news, _ = props_to_plain(request.news)
        failures = []
        if news.get(settings.BASE_URL.name) != UNKNOWN:
            config = {s.config_key: news[s.name] for s in settings.SETTINGS
                      if isinstance(news.get(s.name), str) and news[s.name] != UNKNOWN}
            explicit = not _resource_name(request.urn).startswith("default")
            problem = settings.base_url_failure(
                config, config_label=f"explicit provider {_resource_name(request.urn)!r} input baseUrl"
                if explicit else None)
            if problem:
                # No property: the engine would print the value next to it, a user:password@ part included.
                failures.append(provider_pb2.CheckFailure(property="", reason=problem))
        return provider_pb2.CheckResponse(inputs=inputs, failures=failures)

    async def DiffConfig(self, request: Any, context: Any) -> Any:
        # New credentials (a rotated account key, another URL) never replace the provider or its resources.
        olds, _ = props_to_plain(request.olds)
        news, _ = props_to_plain(request.news)
        changed = sorted(k for k in {*olds, *news} if olds.get(k) != news.get(k))
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed)

    async def Configure(self, request: Any, context: Any) -> Any:
        values, _ = props_to_plain(request.args)
        if not values and request.variables:  # an engine that sends only "imburse:config:<name>" variables
            values = {k.rsplit(":", 1)[-1]: v for k, v in request.variables.items()}
        self._session.configure(values)
        # supportsPreview=False: the engine previews creates and updates itself, making no call here.
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=False)

    # -- resources ---------------------------------------------------------------------------------

    async def Check(self, request: Any, context: Any) -> Any:
        provider = self._provider(request.urn)
        olds, _ = props_to_plain(request.olds)
        olds = _loaded(olds)
        news, secret = props_to_plain(request.news)
        if "namePrefix" in self._resources[_resource_type(request.urn)].inputs:
            news.setdefault("namePrefix", _resource_name(request.urn))  # as the Python constructors set it
        result: CheckResult = await self._call(context, lambda: provider.check(olds, news))
        failures = [provider_pb2.CheckFailure(property=f.property, reason=f.reason) for f in result.failures or ()]
        inputs = _stored(dict(result.inputs or {}))
        return provider_pb2.CheckResponse(inputs=to_wire(inputs, secret & set(inputs)), failures=failures)

    async def Diff(self, request: Any, context: Any) -> Any:
        provider = self._provider(request.urn)
        olds, _ = props_to_plain(request.olds)
        news, _ = props_to_plain(request.news)
        news = _loaded(news)
        result = await self._call(context, lambda: provider.diff(request.id, olds, news))
        if result.changes is None:
            changes = provider_pb2.DiffResponse.DIFF_UNKNOWN
        else:
            changes = provider_pb2.DiffResponse.DIFF_SOME if result.changes else provider_pb2.DiffResponse.DIFF_NONE
        replaces = list(result.replaces or ())
        if not isinstance(result, DetailedDiff):
            return provider_pb2.DiffResponse(changes=changes, replaces=replaces,
                                             deleteBeforeReplace=bool(result.delete_before_replace))
        # The rules named each property that differs: the CLI shows them ([diff: ~rotationDays]), a replacement's
        # cause marked as one even when its value is the same (a key due for rotation).
        detailed = {k: provider_pb2.PropertyDiff(kind=_diff_kind(olds.get(k), news.get(k), k in replaces))
                    for k in result.diffs}
        return provider_pb2.DiffResponse(changes=changes, replaces=replaces, diffs=result.diffs,
                                         detailedDiff=detailed, hasDetailedDiff=True,
                                         deleteBeforeReplace=bool(result.delete_before_replace))

    def _outputs(self, urn: str, outs: Mapping[str, Any], secret: set[str]) -> struct_pb2.Struct:
        # An output the rules leave unset (no previous key, no rotationDays) goes as null rather than missing: a
        # language SDK resolves a missing output as unknown in every preview, so a program that exports it would show
        # "+ previousPublicKey: [unknown]" in a preview that changes nothing.
        resource = self._resources[_resource_type(urn)]
        full = {**dict.fromkeys(resource.outputs), **outs}
        return to_wire(full, {*secret, *resource.secret_outputs} & {k for k, v in full.items() if v is not None})

    async def Create(self, request: Any, context: Any) -> Any:
        provider = self._provider(request.urn)
        props, secret = props_to_plain(request.properties)
        props = _loaded(props)
        props[URN_KEY] = request.urn  # the owner of its key creates in the create journal (pulumi_imburse.journal)
        result = await self._call(context, lambda: provider.create(props))
        outs = self._outputs(request.urn, result.outs or {}, secret)
        return provider_pb2.CreateResponse(id=result.id, properties=outs)

    async def Read(self, request: Any, context: Any) -> Any:
        provider = self._provider(request.urn)
        props, secret = props_to_plain(request.properties)
        inputs, input_secret = props_to_plain(request.inputs)
        inputs = _loaded(inputs)
        if props:
            # A refresh: the core sees the prior state as the outputs plus the old inputs they lack. So what only
            # the inputs hold survives it: the accepted declaration's namePrefix of a key imported by this plugin
            # (its outputs, from the import, have none; see _adopt.imported_unreconciled).
            # (An output sent as null, see _outputs, is one they lack.)
            props = {**props, **{k: v for k, v in inputs.items() if props.get(k) is None}}
        result = await self._call(context, lambda: provider.read(request.id, props))
        if not result.id:
            return provider_pb2.ReadResponse(id="")
        new_inputs = _stored(dict(result.inputs) if result.inputs is not None else inputs)
        return provider_pb2.ReadResponse(
            id=result.id, properties=self._outputs(request.urn, result.outs or {}, secret | input_secret),
            inputs=to_wire(new_inputs, (secret | input_secret) & set(new_inputs)))

    async def Update(self, request: Any, context: Any) -> Any:
        provider = self._provider(request.urn)
        olds, _ = props_to_plain(request.olds)
        news, secret = props_to_plain(request.news)
        news = _loaded(news)
        news[URN_KEY] = request.urn  # a rotation's create is journalled under it too
        result = await self._call(context, lambda: provider.update(request.id, olds, news))
        return provider_pb2.UpdateResponse(properties=self._outputs(request.urn, result.outs or {}, secret))

    async def Delete(self, request: Any, context: Any) -> empty_pb2.Empty:
        provider = self._provider(request.urn)
        props, _ = props_to_plain(request.properties)
        await self._call(context, lambda: provider.delete(request.id, props))
        return empty_pb2.Empty()


async def serve(engine_address: str | None, *, out: Any = None, resources: Mapping[str, ResourceType] = RESOURCES,
                version: str | None = None) -> None:
    """Serve the provider on a free local port, printing the port first (the plugin protocol).

    ``resources`` and ``version``: the types served and the version reported (default: the package's).
    """
    if engine_address:
        # pulumi.log (the rules' warnings) then reaches the engine, not only this process's stderr.
        configure(Settings(project=os.environ.get("PULUMI_PROJECT"), stack=os.environ.get("PULUMI_STACK"),
                           engine=engine_address))
    pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_CALLS, thread_name_prefix="imburse")
    server = grpc.aio.server(options=GRPC_SERVER_OPTIONS, maximum_concurrent_rpcs=None)
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(
        ImburseProviderServicer(version=version or schema.version(), pool=pool, resources=resources), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stream = out or sys.stdout
    stream.write(f"{port}\n")
    stream.flush()
    try:
        await server.wait_for_termination()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> None:
    """The ``pulumi-resource-imburse`` console script: ``pulumi-resource-imburse <engine address>``."""
    parser = argparse.ArgumentParser(
        prog="pulumi-resource-imburse",
        description="The Imburse resource provider plugin. The Pulumi engine starts it (with its own address) and "
                    "calls it over gRPC; install it with: pulumi plugin install resource imburse <version> --file "
                    '"$(command -v pulumi-resource-imburse)"')
    parser.add_argument("engine", nargs="?", help="the Pulumi engine's address (passed by the engine)")
    parser.add_argument("--version", action="store_true", help="print the plugin's version and exit")
    parser.add_argument("--schema", action="store_true", help="print the package schema and exit")
    args, _ = parser.parse_known_args(argv)  # the engine may add --logflow, --logtostderr, -v=...
    if args.version:
        print(schema.version())
        return
    if args.schema:
        print(json.dumps(json.loads(schema.SCHEMA_PATH.read_text()), indent=2))
        return
    if args.engine:
        watch_parent("pulumi-resource-imburse")  # exit when the engine goes away (pulumi_imburse.lifeline)
    try:
        asyncio.run(serve(args.engine))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
