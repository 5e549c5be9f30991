"""Policy packs in a :class:`~pulumi_imburse.testing.StackRunner` operation.

One :class:`PolicyPackSet` per engine run (a preview, or an update): it starts every pack's analyzer through
:class:`~pulumi_imburse.testing.analyzer.PolicyPackAnalyzer` (which follows the engine's start, handshake and
configure protocol), sends it resources as the step generator does, and collects the violations the way the
CLI reports them. The engine rules are named where :mod:`.runner` applies them; the Go sources cited are
``pkg/engine/update.go``, ``pkg/resource/deploy/step_generator.go``, ``analyze_snapshot.go``,
``deployment_executor.go``, ``pkg/resource/analyzer/config.go`` and ``pkg/backend/display/progress.go`` and
``diff.go`` of pulumi/pulumi.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeAlias

from .analyzer import (
    AnalyzerResource,
    Diagnostic,
    PolicyPackAnalyzer,
    PolicyPackError,
    ProviderResource,
    Secret,
    Unknown,
)
from .errors import PolicyPackRunError
from .monitor import LogEntry
from .state import UNKNOWN, PropertyMap, ResourceState, is_object, is_secret

PolicyPackConfigSource: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any]"
"""A pack's policy config: a ``--policy-pack-config`` JSON file, or its content as a mapping."""

DYNAMIC_PROVIDER_TYPE: Final = "pulumi:providers:pulumi-python"
"""The package of Python dynamic resources: their default provider is ``pulumi:providers:pulumi-python``."""

_LEVEL_RANK: Final = {"remediate": 0, "mandatory": 1, "advisory": 2, "disabled": 3}


# --------------------------------------------------------------------------------------------------
# Which packs, with which config
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalPolicyPack:
    """A local policy pack as ``--policy-pack <path> [--policy-pack-config <file>]`` names it."""

    path: Path
    """The pack's directory (holding ``PulumiPolicy.yaml``), resolved."""
    label: str
    """The path as given; the CLI prints it as ``(local: <path>)``."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The policy config, in the ``--policy-pack-config`` file format."""


def load_policy_pack_config(source: PolicyPackConfigSource, base: Path) -> dict[str, Any]:
    """The policy config from a mapping, or from a JSON file (relative paths are relative to ``base``).

    Engine rule (analyzer/config.go ``LoadPolicyPackConfigFromFile``/``parsePolicyPackConfig``): the file is
    JSON, an empty file is no config; its ``environments`` key (ESC environments, resolved by the Pulumi Cloud)
    is refused here, since nothing can resolve it offline.
    """
    if isinstance(source, Mapping):
        config = dict(source)
    else:
        path = Path(source)
        path = path if path.is_absolute() else base / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyPackRunError(f"cannot read policy pack config {path}: {exc}") from exc
        if not text.strip():
            return {}
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PolicyPackRunError(f"policy pack config {path} is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise PolicyPackRunError(f"policy pack config {path} must be a JSON object")
        config = loaded
    if "environments" in config:
        raise PolicyPackRunError("policy pack config `environments` (Pulumi ESC environments) is not supported "
                                 "by the offline StackRunner; put the values in the config itself")
    return config


def resolve_policy_packs(
    packs: Sequence[str | os.PathLike[str]],
    configs: Mapping[str | os.PathLike[str], PolicyPackConfigSource] | None,
    base: Path,
) -> list[LocalPolicyPack]:
    """Pair each pack directory with its config (keys of ``configs`` name packs as in ``packs``, or resolve to
    the same directory). Relative paths are relative to ``base`` (the project directory)."""

    def resolve(p: str | os.PathLike[str]) -> Path:
        path = Path(p)
        return (path if path.is_absolute() else base / path).resolve()

    resolved = [(resolve(p), os.fspath(p)) for p in packs]
    by_dir: dict[Path, Mapping[str, Any]] = {}
    for key, source in (configs or {}).items():
        directory = resolve(key)
        if all(directory != d for d, _ in resolved):
            raise PolicyPackRunError(f"policy pack config given for {os.fspath(key)!r}, which is not one of the "
                                     "policy packs of this operation")
        by_dir[directory] = load_policy_pack_config(source, base)
    seen: set[Path] = set()
    result = []
    for directory, label in resolved:
        if directory in seen:
            raise PolicyPackRunError(f"policy pack {label!r} is given twice")
        seen.add(directory)
        result.append(LocalPolicyPack(directory, label, by_dir.get(directory, {})))
    return result


# --------------------------------------------------------------------------------------------------
# Resources as the engine shows them to analyzers
# --------------------------------------------------------------------------------------------------


def analyzer_value(value: Any) -> Any:
    """A state (wire-form) value as :mod:`.analyzer` takes it: secrets as :class:`Secret`, the unknown sentinel
    as :class:`Unknown` (the engine marshals for analyzers with ``KeepSecrets`` and ``KeepUnknowns``)."""
    if is_secret(value):
        return Secret(analyzer_value(value.get("value")))
    if value == UNKNOWN:
        return Unknown("string")  # the only sentinel the Python SDK sends (no outputValues support here)
    if is_object(value):
        return {k: analyzer_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [analyzer_value(v) for v in value]
    return value  # scalars, and asset/archive/reference signature objects, go as they are


def analyzer_properties(properties: PropertyMap) -> dict[str, Any]:
    """A whole property map, see :func:`analyzer_value`."""
    return {k: analyzer_value(v) for k, v in properties.items()}


def default_provider_urn(stack: str, project: str) -> str:
    """Engine rule (providers/registry.go default providers): the default provider of package ``pulumi-python``
    (that of every dynamic resource, which names no version) is ``pulumi:providers:pulumi-python::default``."""
    return f"urn:pulumi:{stack}::{project}::{DYNAMIC_PROVIDER_TYPE}::default"


def analyzer_resource(res: ResourceState, properties: PropertyMap, provider: ProviderResource | None,
                      ) -> AnalyzerResource:
    """``res`` with ``properties`` (inputs for Analyze, outputs for AnalyzeStack) and the fields the engine sends
    (step_generator.go ``analyzeAll`` and ``AnalyzeResources``); aliases and custom timeouts are not tracked by
    the runner and go empty."""
    return AnalyzerResource(
        urn=res.urn, type=res.type, properties=analyzer_properties(properties), protect=res.protect,
        provider=provider, parent=res.parent, dependencies=tuple(res.dependencies),
        property_dependencies={k: tuple(v) for k, v in res.property_dependencies.items()},
        ignore_changes=tuple(res.ignore_changes), additional_secret_outputs=tuple(res.additional_secret_outputs),
        delete_before_replace=res.delete_before_replace,
    )


# --------------------------------------------------------------------------------------------------
# Reporting, as the CLI prints it
# --------------------------------------------------------------------------------------------------


def display_type(urn: str) -> str:
    """The resource type the CLI shows for ``urn`` (``tokens.Type.DisplayName`` of ``URN.Type()``): the last
    ``$`` part of the qualified type, with a module path that ends in the camel-cased type name shortened."""
    parts = urn.split("::")
    typ = parts[2].rsplit("$", 1)[-1] if len(parts) >= 4 else ""
    components = typ.split(":")
    if len(components) != 3 or not components[2]:
        return typ
    pkg, module, name = components
    if "/" not in module:
        return typ
    head, file = module.rsplit("/", 1)
    return f"{pkg}:{head}:{name}" if file == name[:1].lower() + name[1:] else typ


def _valid_urn(urn: str) -> bool:
    return urn.startswith("urn:pulumi:") and len(urn.split("::")) >= 4


def sort_violations(violations: Sequence[Diagnostic]) -> list[Diagnostic]:
    """The CLI's order (progress.go printPolicies): enforcement level (mandatory first), policy name, URN."""
    return sorted(violations, key=lambda d: (_LEVEL_RANK.get(d.enforcement_level, 99), d.policy_name, d.urn))


def format_violation(d: Diagnostic, indent: str = "        ") -> str:
    """One violation as the CLI's "Policies:" section prints it (display/diff.go
    ``renderDiffPolicyViolationEvent`` with the section's prefixes), the resource shown by URN as with
    ``--show-urns``: ``- [level]  policy  (type: urn)`` then the message, indented."""
    clause = f"  ({display_type(d.urn)}: {d.urn})" if _valid_urn(d.urn) else ""
    lines = d.message.rstrip("\n").split("\n")
    body = "\n".join(f"{indent}  {line}" if line else "" for line in lines)
    return f"{indent}- [{d.enforcement_level}]  {d.policy_name}{clause}\n{body}"


def violation_log_entry(d: Diagnostic) -> LogEntry:
    """A violation as a diagnostic of the result: ``error`` when mandatory, else ``warning``; the message leads
    with the pack, its version, the level, the policy and the resource, as the CLI's event line does."""
    clause = f"  ({display_type(d.urn)}: {d.urn})" if _valid_urn(d.urn) else ""
    message = (f"{d.policy_pack_name}@v{d.policy_pack_version} [{d.enforcement_level}]  {d.policy_name}{clause}\n"
               f"{d.message.rstrip()}")
    return LogEntry("error" if d.mandatory else "warning", message, d.urn)


def violation_summary(d: Diagnostic) -> str:
    """One line naming a violation: pack, policy, level, resource, and the message's last line (the SDK puts the
    policy's description first and the violation message after it)."""
    last = d.message.rstrip().rsplit("\n", 1)[-1]
    return f"{d.policy_pack_name}: [{d.enforcement_level}] {d.policy_name} on {d.urn}: {last}"


# --------------------------------------------------------------------------------------------------
# The packs of one engine run
# --------------------------------------------------------------------------------------------------


class PolicyPackSet:
    """The analyzers of one engine run (a preview or an update), started once and used for every resource.

    Engine rule (engine/update.go, step 2 "Load policy packs and plugins", and ``LoadLocalPolicyPackAnalyzers``):
    every pack is started, asked for its info and configured (config reconciled with the policies' schemas and
    validated) before the program runs, with the stack's identity, its decrypted config and ``dry_run`` telling
    it whether this run is a preview. Each engine run starts its own: the preview ``pulumi up`` runs first and
    the update after it are two runs, with two sets of analyzer processes.
    """

    def __init__(self, packs: Sequence[LocalPolicyPack], *, project: str, stack: str, organization: str,
                 dry_run: bool, stack_config: Mapping[str, tuple[str, bool]], stack_tags: Mapping[str, str],
                 python: str) -> None:
        self.packs = list(packs)
        self.dry_run = dry_run
        self._project, self._stack, self._organization = project, stack, organization
        self._stack_config = {k: v for k, (v, _) in stack_config.items()}
        self._secret_keys = sorted(k for k, (_, secret) in stack_config.items() if secret)
        self._tags = dict(stack_tags)
        self._python = python
        self._analyzers: list[tuple[LocalPolicyPack, PolicyPackAnalyzer]] = []
        self._names: list[tuple[LocalPolicyPack, str, str]] = []
        self._violations: list[Diagnostic] = []
        self._lock = threading.Lock()

    def __enter__(self) -> PolicyPackSet:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start and configure every pack, in order; on a failure, stop those already started."""
        try:
            for pack in self.packs:
                analyzer = PolicyPackAnalyzer(
                    pack.path, pack.config, project=self._project, stack=self._stack,
                    organization=self._organization, dry_run=self.dry_run, stack_config=self._stack_config,
                    stack_config_secret_keys=self._secret_keys, stack_tags=self._tags, python=self._python)
                try:
                    analyzer.start()
                except PolicyPackError as exc:
                    raise PolicyPackRunError(f"policy pack {pack.label!r}: {exc}") from exc
                self._analyzers.append((pack, analyzer))
                info = analyzer.info()  # cached by start(), which configured the pack from it
                self._names.append((pack, info.name, info.version))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every pack (interrupt, then kill after the engine's grace period)."""
        analyzers, self._analyzers = self._analyzers, []
        for _, analyzer in analyzers:
            analyzer.close()

    @property
    def active(self) -> bool:
        """Whether this run has policy packs at all."""
        return bool(self.packs)

    def analyze(self, resource: AnalyzerResource) -> list[Diagnostic]:
        """``Analyze`` one resource with every pack; returns and records the violations.

        Engine rule (analyze_snapshot.go ``analyzeResource``): a diagnostic at level ``remediate`` (a remediation
        that did not fix the resource) is reported as ``mandatory``.
        """
        found: list[Diagnostic] = []
        for pack, analyzer in self._analyzers:
            try:
                diagnostics = analyzer.analyze_resource(resource)
            except PolicyPackError as exc:
                # Engine: "failed to run policy: %w" fails the deployment.
                raise PolicyPackRunError(f"failed to run policy pack {pack.label!r} on {resource.urn}: {exc}") from exc
            found += [_remediate_as_mandatory(d) for d in diagnostics]
        with self._lock:
            self._violations += found
        return found

    def analyze_stack(self, resources: Sequence[AnalyzerResource]) -> list[Diagnostic]:
        """``AnalyzeStack`` with every pack; returns and records the violations.

        Engine rule (step_generator.go ``AnalyzeResources``): ``remediate`` is reported as ``mandatory`` (stack
        policies cannot remediate); a diagnostic naming a URN outside the stack is reported against the root
        stack (done by :meth:`PolicyPackAnalyzer.analyze_stack`).
        """
        found: list[Diagnostic] = []
        for pack, analyzer in self._analyzers:
            try:
                diagnostics = analyzer.analyze_stack(resources)
            except PolicyPackError as exc:
                # Engine: "failed to analyze resources: %v" fails the deployment.
                raise PolicyPackRunError(f"failed to analyze resources with policy pack {pack.label!r}: {exc}"
                                         ) from exc
            found += [_remediate_as_mandatory(d) for d in diagnostics]
        with self._lock:
            self._violations += found
        return found

    @property
    def violations(self) -> list[Diagnostic]:
        """Every violation of this run so far, in the CLI's order (:func:`sort_violations`)."""
        with self._lock:
            return sort_violations(self._violations)

    @property
    def mandatory(self) -> list[Diagnostic]:
        """The mandatory violations so far (the engine's ``sawError``)."""
        return [d for d in self.violations if d.mandatory]

    def report(self) -> str:
        """The CLI's "Policies:" section (progress.go ``printPolicies``): per pack ``✅`` (no violation), ``⚠️``
        (advisory ones only) or ``❌`` (a mandatory one), ``name@vversion (local: path)``, then its violations.
        Empty when the run has no packs."""
        if not self._names:
            return ""
        violations = self.violations
        lines = ["Policies:"]
        for pack, name, version in sorted(self._names, key=lambda t: f"{t[1]}@v{t[2]}"):
            own = [d for d in violations if d.policy_pack_name == name]
            mark = "❌" if any(d.mandatory for d in own) else "⚠️" if own else "✅"
            lines.append(f"    {mark} {name}@v{version} (local: {pack.label})")
            lines += [format_violation(d) for d in own]
        return "\n".join(lines) + "\n"


def _remediate_as_mandatory(d: Diagnostic) -> Diagnostic:
    if d.enforcement_level != "remediate":
        return d
    return Diagnostic(d.policy_name, d.message, "mandatory", d.urn, d.policy_pack_name, d.policy_pack_version)
