"""Run a Pulumi CrossGuard policy pack's analyzer as the engine does, and call it over gRPC.

:class:`PolicyPackAnalyzer` is the engine's side of the Analyzer protocol for a Python policy pack,
for tests and for the offline stack runner. It follows these engine rules (Pulumi CLI sources named
in brackets; "engine" is ``pulumi/pulumi``):

Start
    ``<python> -u -m pulumi.policy <engine address> <pack directory>`` with the working directory set
    to the pack directory [``sdk/python/cmd/pulumi-language-python`` ``RunPlugin`` for plugin kind
    "analyzer", since v3.221; before that the ``pulumi-analyzer-policy-python`` shim ran
    ``python -u -m pulumi.policy <address> .`` from the pack directory]. The environment is the
    caller's plus ``PULUMI_ORGANIZATION``, ``PULUMI_PROJECT``, ``PULUMI_STACK``, ``PULUMI_DRY_RUN`` and
    ``PULUMI_CONFIG`` (the stack config as JSON, secrets decrypted), each only when non-empty
    [``maybeAppendEnv``]. The interpreter is this one (``sys.executable``) unless you pass ``python``:
    the engine would use the pack's ``virtualenv`` option from ``PulumiPolicy.yaml``; here the pack
    runs in the caller's environment, which must have ``pulumi-policy`` and the pack's imports. The
    Python policy SDK parses the engine address but never dials it, so a placeholder is passed.
Port
    The first stdout line is the port; whitespace is trimmed and it must be 1..65535 [``parsePort``].
    Later output is kept (see :attr:`PolicyPackAnalyzer.output`). The wait is bounded.
Connect
    ``Handshake`` (``UNIMPLEMENTED`` is fine), then ``ConfigureStack`` with the stack's identity and
    config [``NewPolicyAnalyzer``], then ``GetAnalyzerInfo`` and ``Configure`` with the policy config
    reconciled from the schemas' defaults, the pack's initial config and the given config, validated
    against the schemas [``LoadLocalPolicyPackAnalyzers``, ``ReconcilePolicyPackConfig``].
Requests
    Properties are marshalled as ``MarshalProperties`` does for analyzers (``KeepUnknowns``,
    ``KeepSecrets``, ``SkipInternalKeys``): a :class:`Secret` becomes the secret signature object, an
    :class:`Unknown` the engine's sentinel string for its kind, and top-level ``__`` keys (such as a
    dynamic resource's ``__provider``) are dropped. ``Analyze`` gets a resource's inputs,
    ``AnalyzeStack`` every resource's outputs including the root ``pulumi:pulumi:Stack`` resource,
    whose outputs are the stack exports [``stepGenerator.AnalyzeResources``].
Diagnostics
    The version in ``PulumiPolicy.yaml`` overrides the pack's [``convertDiagnostics``]. A resource
    diagnostic is reported against the analyzed resource; a stack diagnostic against its URN if that
    resource is in the stack, else against the root stack resource [``AnalyzeResources``].
Close
    Close the channel, interrupt the process (SIGINT), give it 5 seconds, then kill it
    [``plugin.Close`` / ``kill``].

Not done: ``Remediate`` (the engine's first pass; packs without remediations answer nothing) and
policy packs in other languages.
"""

from __future__ import annotations

import collections
import json
import operator
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import grpc
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import proto, rpc

__all__ = [
    "ENFORCEMENT_LEVELS",
    "STACK_TYPE",
    "UNKNOWN",
    "AnalyzerInfo",
    "AnalyzerResource",
    "Diagnostic",
    "PolicyConfig",
    "PolicyConfigError",
    "PolicyInfo",
    "PolicyPackAnalyzer",
    "PolicyPackError",
    "PolicyPackStartError",
    "ProviderResource",
    "Secret",
    "Unknown",
    "make_urn",
    "marshal_properties",
    "reconcile_policy_config",
    "stack_resource",
    "urn_name",
]

STACK_TYPE: Final = "pulumi:pulumi:Stack"
"""Type of the root stack resource, whose outputs are the stack's exports."""

EnforcementLevel = Literal["advisory", "mandatory", "remediate", "disabled"]
ENFORCEMENT_LEVELS: Final[tuple[EnforcementLevel, ...]] = ("advisory", "mandatory", "remediate", "disabled")

_LEVEL_FROM_PROTO: Final[dict[proto.EnforcementLevel.ValueType, EnforcementLevel]] = {
    proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory",
    proto.REMEDIATE: "remediate", proto.DISABLED: "disabled",
}
_LEVEL_TO_PROTO: Final[dict[str, proto.EnforcementLevel.ValueType]] = {v: k for k, v in _LEVEL_FROM_PROTO.items()}
_POLICY_TYPES: Final[dict[int, str]] = {
    proto.POLICY_TYPE_RESOURCE: "resource", proto.POLICY_TYPE_STACK: "stack",
}

UnknownKind = Literal["bool", "number", "string", "array", "asset", "archive", "object"]
_UNKNOWN_SENTINELS: Final[dict[str, str]] = {
    # The engine's sentinels for values not known during preview (sdk/go/common/resource/plugin/rpc.go,
    # marshalUnknownProperty); "string" is the one the Python SDK also knows as rpc.UNKNOWN.
    "bool": "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
    "number": "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
    "string": rpc.UNKNOWN,
    "array": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
    "asset": "030794c1-ac77-496b-92df-f27374a8bd58",
    "archive": "e48ece36-62e2-4504-bad9-02848725956a",
    "object": "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
}

ENGINE_ADDRESS_PLACEHOLDER: Final = "127.0.0.1:0"
"""Passed where the engine passes its own gRPC address; the Python policy SDK never dials it."""

RPC_CONNECT_TIMEOUT: Final = 10.0
"""Seconds to wait for the pack's gRPC server to be ready (the engine's pluginRPCConnectionTimeout)."""

SHUTDOWN_GRACE: Final = 5.0
"""Seconds between the interrupt and the kill when closing (as the engine)."""

_MAX_MESSAGE: Final = 400 * 1024 * 1024
_OUTPUT_LINES: Final = 2000


class PolicyPackError(Exception):
    """The policy pack failed: it could not start, a call failed, or its config is invalid."""


class PolicyPackStartError(PolicyPackError):
    """The pack's analyzer did not start (exited, printed no valid port, or did not answer)."""


class PolicyConfigError(PolicyPackError):
    """The policy config does not parse or does not match the policies' config schemas."""


# --------------------------------------------------------------------------------------------------
# Values and resources as the engine sends them
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Secret:
    """A secret property value; sent as the engine's secret signature object."""

    value: Any = field(repr=False)

    def __repr__(self) -> str:
        return "Secret([secret])"


@dataclass(frozen=True)
class Unknown:
    """A value not known during preview, of the given kind; sent as the engine's sentinel."""

    kind: UnknownKind = "string"


UNKNOWN: Final = Unknown()
"""An unknown string: for example the ``tenantId`` of a Tenant created in the same preview."""


def marshal_value(value: Any) -> Any:
    """One property value in its wire form (JSON-like), as ``MarshalPropertyValue`` makes it."""
    if isinstance(value, Secret):
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": marshal_value(value.value)}
    if isinstance(value, Unknown):
        return _UNKNOWN_SENTINELS[value.kind]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)  # every number is a protobuf double on the wire
    if isinstance(value, Mapping):
        return {str(k): marshal_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [marshal_value(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} to a policy pack")


def marshal_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """A property map in its wire form; top-level internal keys (``__*``) are skipped, as for analyzers."""
    return {k: marshal_value(v) for k, v in properties.items() if not k.startswith("__")}


def _struct(properties: Mapping[str, Any]) -> Any:
    message = struct_pb2.Struct()
    message.update(properties)
    return message


def _from_proto(value: Any) -> Any:
    """A protobuf ``Struct``/``ListValue``/``Value`` as plain Python."""
    if hasattr(value, "fields"):
        return {k: _from_proto(v) for k, v in value.fields.items()}
    if hasattr(value, "values"):
        return [_from_proto(v) for v in value.values]
    kind = value.WhichOneof("kind")
    if kind in ("struct_value", "list_value"):
        return _from_proto(getattr(value, kind))
    return None if kind in (None, "null_value") else getattr(value, kind)


def urn_name(urn: str) -> str:
    """The resource name at the end of a URN (``resource.URN.Name``)."""
    parts = urn.split("::", 3)
    if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return parts[3]


def make_urn(stack: str, project: str, type_: str, name: str, parent_type: str = "") -> str:
    """``urn:pulumi:<stack>::<project>::<qualified type>::<name>``.

    ``parent_type`` is the parent's qualified type; leave it empty for children of the root stack.
    """
    qualified = f"{parent_type}${type_}" if parent_type and parent_type != STACK_TYPE else type_
    return f"urn:pulumi:{stack}::{project}::{qualified}::{name}"


@dataclass(frozen=True)
class ProviderResource:
    """The provider of a resource, as sent to analyzers (its inputs as properties)."""

    urn: str
    type: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The provider's resource name, from its URN."""
        return urn_name(self.urn)

    def to_proto(self) -> Any:
        """The ``AnalyzerProviderResource`` message."""
        return proto.AnalyzerProviderResource(
            urn=self.urn, type=self.type, name=self.name,
            properties=_struct(marshal_properties(self.properties)),
        )


@dataclass(frozen=True)
class AnalyzerResource:
    """A resource as the engine shows it to analyzers.

    ``properties`` are inputs for :meth:`PolicyPackAnalyzer.analyze_resource` and outputs for
    :meth:`PolicyPackAnalyzer.analyze_stack`; wrap secret values in :class:`Secret` and values unknown
    during preview in :class:`Unknown`. ``name`` defaults to the name in the URN (as the engine derives
    it). ``parent``, ``dependencies`` and ``property_dependencies`` are URNs.
    """

    urn: str
    type: str
    name: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)
    protect: bool = False
    provider: ProviderResource | None = None
    parent: str = ""
    dependencies: Sequence[str] = ()
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ignore_changes: Sequence[str] = ()
    additional_secret_outputs: Sequence[str] = ()
    delete_before_replace: bool | None = None
    aliases: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", urn_name(self.urn))

    def _options(self) -> Any:
        return proto.AnalyzerResourceOptions(
            protect=self.protect,
            ignoreChanges=list(self.ignore_changes),
            deleteBeforeReplace=bool(self.delete_before_replace),
            deleteBeforeReplaceDefined=self.delete_before_replace is not None,
            additionalSecretOutputs=list(self.additional_secret_outputs),
            aliases=list(self.aliases),
            customTimeouts=proto.AnalyzerResourceOptions.CustomTimeouts(),
            parent=self.parent,
        )

    def to_analyze_request(self) -> Any:
        """The ``AnalyzeRequest`` the engine sends before operating on this resource."""
        request = proto.AnalyzeRequest(
            urn=self.urn, type=self.type, name=self.name,
            properties=_struct(marshal_properties(self.properties)), options=self._options(),
        )
        if self.provider is not None:
            request.provider.CopyFrom(self.provider.to_proto())
        return request

    def to_proto(self) -> Any:
        """The ``AnalyzerResource`` message of an ``AnalyzeStackRequest``."""
        message = proto.AnalyzerResource(
            urn=self.urn, type=self.type, name=self.name,
            properties=_struct(marshal_properties(self.properties)), options=self._options(),
            parent=self.parent, dependencies=list(self.dependencies),
        )
        for key, urns in self.property_dependencies.items():
            if urns:  # the engine skips properties without dependencies
                message.propertyDependencies[key].urns.extend(urns)
        if self.provider is not None:
            message.provider.CopyFrom(self.provider.to_proto())
        return message


def stack_resource(
    urn: str,
    type_: str,
    properties: Mapping[str, Any],
    *,
    secret_keys: Iterable[str] = (),
    protect: bool = False,
    parent: str = "",
    dependencies: Sequence[str] = (),
    property_dependencies: Mapping[str, Sequence[str]] | None = None,
    provider: ProviderResource | None = None,
    additional_secret_outputs: Sequence[str] = (),
) -> AnalyzerResource:
    """An :class:`AnalyzerResource` from a resource in a stack's state.

    ``properties`` are plain values (inputs or outputs); the top-level keys named in ``secret_keys``
    or ``additional_secret_outputs`` are wrapped in :class:`Secret`, as the engine keeps them.
    """
    secret = set(secret_keys) | set(additional_secret_outputs)
    props = {k: Secret(v) if k in secret and not isinstance(v, Secret) else v for k, v in properties.items()}
    return AnalyzerResource(
        urn=urn, type=type_, properties=props, protect=protect, provider=provider, parent=parent,
        dependencies=tuple(dependencies), property_dependencies=dict(property_dependencies or {}),
        additional_secret_outputs=tuple(additional_secret_outputs),
    )


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diagnostic:
    """A policy violation (or an advisory note, e.g. a policy that cannot run during preview)."""

    policy_name: str
    message: str
    enforcement_level: EnforcementLevel
    urn: str
    policy_pack_name: str = ""
    policy_pack_version: str = ""

    @property
    def mandatory(self) -> bool:
        """Whether this violation stops the deployment."""
        return self.enforcement_level == "mandatory"


@dataclass(frozen=True)
class PolicyInfo:
    """One policy as the pack describes it in ``GetAnalyzerInfo``."""

    name: str
    description: str
    enforcement_level: EnforcementLevel
    config_schema: Mapping[str, Mapping[str, Any]]
    required: tuple[str, ...] = ()
    display_name: str = ""
    policy_type: str = ""
    """``"resource"`` or ``"stack"`` (empty when the pack does not say)."""


@dataclass(frozen=True)
class PolicyConfig:
    """One policy's config: its enforcement level and properties."""

    enforcement_level: EnforcementLevel | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalyzerInfo:
    """``GetAnalyzerInfo``: the pack and its policies (sorted by name, as the engine sorts them)."""

    name: str
    version: str
    display_name: str
    supports_config: bool
    policies: tuple[PolicyInfo, ...]
    initial_config: Mapping[str, PolicyConfig]

    def policy(self, name: str) -> PolicyInfo:
        """The policy called ``name``."""
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------------------------------
# Policy config: parse, reconcile and validate as the engine does
# --------------------------------------------------------------------------------------------------

def _level(value: Any, where: str) -> EnforcementLevel:
    if not isinstance(value, str) or value not in ENFORCEMENT_LEVELS:
        raise PolicyConfigError(f"parsing enforcement level for {where!r}: {value!r} is not a valid enforcement "
                                f"level; use one of {', '.join(ENFORCEMENT_LEVELS)}")
    return value


def parse_policy_config(config: Mapping[str, Any]) -> dict[str, PolicyConfig]:
    """Parse config in the ``--policy-pack-config`` file format (``parsePolicyPackConfig``).

    Each key is a policy name (or ``"all"``); each value an enforcement level, or an object with an
    optional ``enforcementLevel`` and the policy's config properties.
    """
    result: dict[str, PolicyConfig] = {}
    for name, value in config.items():
        if isinstance(value, str):
            result[name] = PolicyConfig(_level(value, name))
        elif isinstance(value, Mapping):
            props = dict(value)
            level = _level(props.pop("enforcementLevel"), name) if "enforcementLevel" in props else None
            if level is not None or props:
                result[name] = PolicyConfig(level, props)
        else:
            raise PolicyConfigError(f"parsing {name!r}: {value!r} is not a valid value; must be a string or object")
    return result


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "integer" if float(value).is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _validate(schema: Mapping[str, Any], value: Any, path: str) -> list[str]:
    """Errors of ``value`` against a JSON Schema, for the keywords policy config schemas use.

    Checked: type, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength,
    maxLength, pattern, items, minItems, maxItems, uniqueItems, properties, required and
    additionalProperties. Other keywords are not checked (the engine uses a full validator).
    """
    errors: list[str] = []
    where = path or "(root)"
    actual = _json_type(value)
    expected = schema.get("type")
    if expected is not None:
        allowed = [expected] if isinstance(expected, str) else list(expected)
        ok = actual in allowed or (actual == "integer" and "number" in allowed)
        if not ok:
            return [f"{where}: Invalid type. Expected: {' or '.join(allowed)}, given: {actual}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: must be one of the following: {', '.join(map(json.dumps, schema['enum']))}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: does not match: {json.dumps(schema['const'])}")
    if actual in ("integer", "number"):
        bounds: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
            ("minimum", operator.lt), ("maximum", operator.gt),
            ("exclusiveMinimum", operator.le), ("exclusiveMaximum", operator.ge),
        )
        for key, bad in bounds:
            if key in schema and bad(value, schema[key]):
                errors.append(f"{where}: must satisfy {key} {schema[key]}")
    if actual == "string":
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: String length must be greater than or equal to {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: String length must be less than or equal to {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: Does not match pattern '{schema['pattern']}'")
    if actual == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: Array must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: Array must have at most {schema['maxItems']} items")
        if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            errors.append(f"{where}: array items must be unique")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                errors += _validate(schema["items"], item, f"{path}.{i}" if path else str(i))
    if actual == "object":
        props: Mapping[str, Any] = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                errors.append(f"{name} is required")
        for name, item in value.items():
            sub = f"{path}.{name}" if path else name
            if name in props:
                errors += _validate(props[name], item, sub)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: Additional property {name} is not allowed")
            elif isinstance(schema.get("additionalProperties"), Mapping):
                errors += _validate(schema["additionalProperties"], item, sub)
    return errors


def reconcile_policy_config(
    policies: Sequence[PolicyInfo],
    initial_config: Mapping[str, PolicyConfig] | None,
    config: Mapping[str, PolicyConfig] | None,
) -> dict[str, PolicyConfig]:
    """Defaults from the schemas, then the pack's initial config, then ``config`` (``ReconcilePolicyPackConfig``).

    ``"all"`` sets every policy's enforcement level. Raises :class:`PolicyConfigError` listing every
    property that does not match its policy's schema.
    """
    result: dict[str, PolicyConfig] = {
        p.name: PolicyConfig(p.enforcement_level,
                             {k: s["default"] for k, s in p.config_schema.items() if "default" in s})
        for p in policies
    }
    for layer in (initial_config, config):
        if not layer:
            continue
        everything = layer.get("all")
        if everything is not None and everything.enforcement_level is not None:
            result = {k: PolicyConfig(everything.enforcement_level, v.properties) for k, v in result.items()}
        for name, given in layer.items():
            current = result.get(name, PolicyConfig())
            result[name] = PolicyConfig(given.enforcement_level or current.enforcement_level,
                                        {**current.properties, **given.properties})
    errors: list[str] = []
    for p in policies:
        schema = {"type": "object", "properties": dict(p.config_schema), "required": list(p.required)}
        errors += [f"{p.name}: {e}" for e in _validate(schema, dict(result[p.name].properties), "")]
    if errors:
        raise PolicyConfigError("; ".join(sorted(errors)))
    return result


# --------------------------------------------------------------------------------------------------
# The analyzer process
# --------------------------------------------------------------------------------------------------

def _activated_env(python: str) -> dict[str, str]:
    """The caller's environment, "activated" for ``python``'s virtualenv as the language host does."""
    env = dict(os.environ)
    if Path(python).resolve() == Path(sys.executable).resolve() and sys.prefix != sys.base_prefix:
        env.pop("PYTHONHOME", None)
        env["VIRTUAL_ENV"] = sys.prefix
        env["PATH"] = os.pathsep.join([str(Path(sys.prefix) / "bin"), env.get("PATH", "")])
    return env


def _parse_port(line: str) -> int:
    text = line.replace("\x1b]9;4;3;\x1b\\", "").replace("\x1b]9;4;0;\x1b\\", "").strip()
    try:
        port = int(text)
    except ValueError:
        raise PolicyPackStartError(f"the policy pack wrote an invalid port to stdout: {text!r}") from None
    if not 0 < port <= 65535:
        raise PolicyPackStartError(f"the policy pack wrote an invalid port number: {port}")
    return port


class PolicyPackAnalyzer:
    """A Python policy pack's analyzer, started and called as the engine does.

    Use it as a context manager::

        with PolicyPackAnalyzer("policy", {"tenant-key-max-roles": {"maxRoles": 2}}) as pack:
            pack.info().policies
            pack.analyze(urn, type_, name, properties)
            pack.analyze_stack(resources)

    ``config`` is policy config in the ``--policy-pack-config`` file format. ``stack_config`` is the
    stack's config (``{"project:key": "value"}``; values that are not strings are sent as JSON), as
    the engine passes it in ``PULUMI_CONFIG`` and ``ConfigureStack``.
    """

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        config: Mapping[str, Any] | None = None,
        *,
        project: str = "project",
        stack: str = "stack",
        organization: str = "organization",
        dry_run: bool = True,
        stack_config: Mapping[str, Any] | None = None,
        stack_config_secret_keys: Iterable[str] = (),
        stack_tags: Mapping[str, str] | None = None,
        python: str | None = None,
        start_timeout: float = 30.0,
        rpc_timeout: float = 60.0,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        manifest = self.pack_dir / "PulumiPolicy.yaml"
        if not manifest.is_file():
            raise PolicyPackError(f"no PulumiPolicy.yaml in {self.pack_dir}")
        meta = yaml.safe_load(manifest.read_text()) or {}
        runtime = meta.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, Mapping) else runtime
        if runtime_name != "python":
            raise PolicyPackError(f"{manifest}: runtime {runtime_name!r} is not supported; only python packs run here")
        self.version: str = str(meta.get("version") or "")
        self._config = dict(config or {})
        self.project, self.stack, self.organization, self.dry_run = project, stack, organization, dry_run
        self._stack_config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (stack_config or {}).items()}
        self._stack_config_secret_keys = list(stack_config_secret_keys)
        self._stack_tags = dict(stack_tags or {})
        self.python = python or sys.executable
        self.start_timeout, self.rpc_timeout = start_timeout, rpc_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: Any = None
        self._stub: Any = None
        self._info: AnalyzerInfo | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=_OUTPUT_LINES)
        self._threads: list[threading.Thread] = []
        self.effective_config: dict[str, PolicyConfig] = {}
        """The reconciled config last sent with ``Configure``."""
        self.returncode: int | None = None
        """The exit status of the last process, once closed (0: it shut down on the interrupt)."""

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> PolicyPackAnalyzer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The process id of the running pack."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the pack's process is up and connected."""
        return self._process is not None and self._process.poll() is None and self._stub is not None

    @property
    def output(self) -> str:
        """What the pack printed after its port (stdout and stderr, most recent lines)."""
        return "".join(self._output)

    def _environment(self) -> dict[str, str]:
        env = _activated_env(self.python)
        values = {
            "PULUMI_ORGANIZATION": self.organization,
            "PULUMI_PROJECT": self.project,
            "PULUMI_STACK": self.stack,
            "PULUMI_DRY_RUN": "true" if self.dry_run else "false",
            "PULUMI_CONFIG": json.dumps(self._stack_config) if self._stack_config else "",
        }
        env.update({k: v for k, v in values.items() if v})
        return env

    def _pump(self, stream: Any, first_line: queue.Queue[str | None] | None) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace")
            if first_line is not None:
                first_line.put(line)
                first_line = None
            else:
                self._output.append(line)
        if first_line is not None:
            first_line.put(None)

    def start(self) -> None:
        """Start the pack, read its port, connect, and configure it as the engine does."""
        if self._process is not None:
            raise PolicyPackError("the policy pack is already running")
        argv = [self.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS_PLACEHOLDER, str(self.pack_dir)]
        self._process = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
            argv, cwd=self.pack_dir, env=self._environment(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        first: queue.Queue[str | None] = queue.Queue()
        for stream, q in ((self._process.stdout, first), (self._process.stderr, None)):
            t = threading.Thread(target=self._pump, args=(stream, q), daemon=True, name="policy-pack-output")
            t.start()
            self._threads.append(t)
        try:
            try:
                line = first.get(timeout=self.start_timeout)
            except queue.Empty:
                raise PolicyPackStartError(
                    f"the policy pack in {self.pack_dir} printed no port within {self.start_timeout:g}s"
                    + self._tail()) from None
            if line is None:
                code = self._process.wait(timeout=SHUTDOWN_GRACE)
                for t in self._threads:  # let stderr drain, so the error shows the traceback
                    t.join(timeout=SHUTDOWN_GRACE)
                raise PolicyPackStartError(
                    f"the policy pack in {self.pack_dir} exited with status {code} before printing its port"
                    + self._tail())
            port = _parse_port(line)
            self._channel = grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", _MAX_MESSAGE)])
            try:
                grpc.channel_ready_future(self._channel).result(timeout=RPC_CONNECT_TIMEOUT)
            except grpc.FutureTimeoutError:
                raise PolicyPackStartError(f"the policy pack did not answer on port {port}" + self._tail()) from None
            self._stub = proto.AnalyzerStub(self._channel)
            self._call_optional("Handshake", proto.AnalyzerHandshakeRequest(
                engine_address=ENGINE_ADDRESS_PLACEHOLDER, root_directory=str(self.pack_dir),
                program_directory=str(self.pack_dir)))
            self._call_optional("ConfigureStack", proto.AnalyzerStackConfigureRequest(
                stack=self.stack, project=self.project, organization=self.organization, dry_run=self.dry_run,
                config=self._stack_config, config_secret_keys=self._stack_config_secret_keys,
                tags=self._stack_tags))
            self.configure(self._config)
        except BaseException:
            self.close()
            raise

    def _tail(self, lines: int = 30) -> str:
        tail = list(self._output)[-lines:]
        return ("\n--- policy pack output ---\n" + "".join(tail)) if tail else ""

    def close(self) -> None:
        """Close the connection and stop the process: interrupt, wait, then kill."""
        if self._channel is not None:
            self._channel.close()
            self._channel = self._stub = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=SHUTDOWN_GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.returncode = process.returncode
            for t in self._threads:
                t.join(timeout=SHUTDOWN_GRACE)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        self._threads = []

    # -- calls -------------------------------------------------------------------------------------

    def _call(self, method: str, request: Any) -> Any:
        if self._stub is None:
            raise PolicyPackError("the policy pack is not running; use it as a context manager or call start()")
        try:
            return getattr(self._stub, method)(request, timeout=self.rpc_timeout)
        except grpc.RpcError as e:
            raise PolicyPackError(f"{method} failed: {e.code().name}: {e.details()}" + self._tail()) from e

    def _call_optional(self, method: str, request: Any) -> Any:
        """A call the engine makes but does without when the pack answers UNIMPLEMENTED."""
        try:
            return self._call(method, request)
        except PolicyPackError as e:
            cause = e.__cause__
            if isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            raise

    def info(self) -> AnalyzerInfo:
        """``GetAnalyzerInfo``: the pack's name, version, policies with levels and config schemas."""
        if self._info is None:
            r = self._call("GetAnalyzerInfo", empty_pb2.Empty())
            policies = tuple(sorted((
                PolicyInfo(
                    name=p.name, description=p.description,
                    enforcement_level=_LEVEL_FROM_PROTO[p.enforcementLevel],
                    config_schema=_from_proto(p.configSchema.properties) if p.HasField("configSchema") else {},
                    required=tuple(p.configSchema.required), display_name=p.displayName,
                    policy_type=_POLICY_TYPES.get(p.policy_type, ""),
                ) for p in r.policies), key=lambda p: p.name))
            initial = {
                k: PolicyConfig(_LEVEL_FROM_PROTO[v.enforcementLevel], _from_proto(v.properties))
                for k, v in r.initialConfig.items()
            }
            self._info = AnalyzerInfo(
                name=r.name, version=self.version or r.version, display_name=r.displayName,
                supports_config=r.supportsConfig, policies=policies, initial_config=initial,
            )
        return self._info

    def configure(self, config: Mapping[str, Any] | None = None) -> dict[str, PolicyConfig]:
        """Reconcile ``config`` with the schemas' defaults and the pack's initial config, validate it,
        and send it with ``Configure``, replacing the previous config. Returns what was sent.

        ``config`` uses the ``--policy-pack-config`` file format, e.g.
        ``{"tenant-key-max-roles": {"maxRoles": 2}, "tenants-protected": "mandatory"}``.
        """
        info = self.info()
        given = parse_policy_config(config or {})
        if not info.supports_config:
            if given:
                raise PolicyConfigError(f"policy pack {info.name!r} does not support config")
            return {}
        try:
            reconciled = reconcile_policy_config(info.policies, info.initial_config, given)
        except PolicyConfigError as e:
            raise PolicyConfigError(f"validating policy config for {info.name!r}: {e}") from None
        request = proto.ConfigureAnalyzerRequest()
        for name, c in reconciled.items():
            entry = request.policyConfig[name]
            if c.enforcement_level is not None:
                entry.enforcementLevel = _LEVEL_TO_PROTO[c.enforcement_level]
            entry.properties.update(marshal_value(dict(c.properties)))
        if reconciled:
            self._call("Configure", request)
        self._config = dict(config or {})
        self.effective_config = reconciled
        return reconciled

    def _diagnostics(self, response: Any, urn_for: Any) -> list[Diagnostic]:
        return [
            Diagnostic(
                policy_name=d.policyName, message=d.message,
                enforcement_level=_LEVEL_FROM_PROTO[d.enforcementLevel], urn=urn_for(d.urn),
                policy_pack_name=d.policyPackName, policy_pack_version=self.version or d.policyPackVersion,
            )
            for d in response.diagnostics
        ]

    def analyze_resource(self, resource: AnalyzerResource) -> list[Diagnostic]:
        """``Analyze`` one resource (its inputs), as the engine does before creating or updating it."""
        response = self._call("Analyze", resource.to_analyze_request())
        return self._diagnostics(response, lambda _urn: resource.urn)

    def analyze(
        self,
        urn: str,
        type_: str,
        name: str,
        properties: Mapping[str, Any],
        *,
        protect: bool = False,
        provider: ProviderResource | None = None,
        parent: str = "",
        ignore_changes: Sequence[str] = (),
        additional_secret_outputs: Sequence[str] = (),
        delete_before_replace: bool | None = None,
        aliases: Sequence[str] = (),
    ) -> list[Diagnostic]:
        """``Analyze`` a resource given by its URN, type token, name and input properties."""
        return self.analyze_resource(AnalyzerResource(
            urn=urn, type=type_, name=name, properties=properties, protect=protect, provider=provider, parent=parent,
            ignore_changes=ignore_changes, additional_secret_outputs=additional_secret_outputs,
            delete_before_replace=delete_before_replace, aliases=aliases,
        ))

    def analyze_stack(self, resources: Iterable[AnalyzerResource]) -> list[Diagnostic]:
        """``AnalyzeStack``: every resource of the stack with its outputs, including the root stack."""
        resources = list(resources)
        urns = {r.urn for r in resources}
        root = next((r.urn for r in resources if r.type == STACK_TYPE and not r.parent), "")
        response = self._call("AnalyzeStack", proto.AnalyzeStackRequest(resources=[r.to_proto() for r in resources]))
        return self._diagnostics(response, lambda urn: urn if urn in urns else root)


