"""``StackRunner``: run a Pulumi Python program offline, against real Python dynamic providers.

This is a *testing tool* in the spirit of moto for boto3, not a replacement for the Pulumi engine. It lets a
test suite (or a demo) run ``up`` / ``preview`` / ``refresh`` / ``destroy`` on a stack without the Pulumi CLI or
a backend:

* the program runs in a subprocess through the real Python SDK (``pulumi.runtime.run_in_stack``), connected to
  this module's resource monitor (:mod:`.monitor`) exactly as it would be to the CLI's;
* every dynamic resource (type ``pulumi-python:dynamic...``) is handed to one real ``python -m pulumi.dynamic``
  provider host per operation (:mod:`.host`), the process the engine itself launches for dynamic providers;
* state is a JSON file whose secrets are encrypted (:mod:`.state`).

The step logic follows the engine's documented rules, each named in a comment where it is emulated (the Go
sources cited are ``pkg/resource/deploy/step_generator.go``, ``step.go``, ``step_executor.go`` and
``pkg/resource/plugin/provider_plugin.go`` of pulumi/pulumi). What is *not* emulated: providers other than
dynamic ones (packages, explicit providers, component providers), invokes and ``.get()`` reads, aliases,
transforms, hooks, ``deleted_with``/``replace_with``, targets, plans, policy remediations, policy packs from the
Pulumi Cloud, and the replacement of dependents that a delete-before-replace forces. Use the CLI (or the
Automation API) for those. Local policy packs (``preview``/``up`` with ``policy_packs``, the CLI's
``--policy-pack``) run as the engine runs them (:mod:`._policies`, :mod:`.analyzer`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

import yaml
from pulumi.automation import OutputValue
from pulumi.runtime.proto import resource_pb2

from ._policies import (
    DYNAMIC_PROVIDER_TYPE,
    LocalPolicyPack,
    PolicyPackConfigSource,
    PolicyPackSet,
    analyzer_resource,
    default_provider_urn,
    resolve_policy_packs,
    violation_log_entry,
    violation_summary,
)
from .analyzer import Diagnostic, ProviderResource
from .errors import (
    CheckFailedError,
    PolicyViolationError,
    ProgramError,
    ProjectError,
    ProtectedResourceError,
    ResourceImportError,
    StackRunnerError,
    UnsupportedResourceError,
)
from .host import ProviderHost, from_struct, to_struct
from .monitor import LogEntry, MonitorServer, MonitorShutdown
from .state import (
    UNKNOWN,
    PropertyMap,
    ResourceState,
    StackState,
    StateFile,
    annotate_secrets,
    contains_secrets,
    dependency_order,
    is_secret,
    make_secret,
    redacted,
    resolve_passphrase,
    strip_secrets,
    urn_qualified_type,
)

STACK_TYPE: Final = "pulumi:pulumi:Stack"
DYNAMIC_TYPE_PREFIX: Final = "pulumi-python:dynamic"
ORGANIZATION: Final = "organization"
PARALLEL: Final = 16
_PACKAGE_ROOT: Final = Path(__file__).resolve().parents[2]
_PROGRAM_ENTRY: Final = Path(__file__).resolve().with_name("_program.py")
# Runs _program.py by path without importing this package (whose __init__ pulls in the whole provider) and
# without putting this directory on sys.path (its module names would shadow the user's): `-c` leaves the
# working directory (the project) first on sys.path, as the language host's runpy.run_path does.
_BOOTSTRAP: Final = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
# Steps that are not "logical" (engine: Step.Logical() is false) are not counted in resource_changes.
_NON_LOGICAL: Final = frozenset({"create-replacement", "delete-replaced"})

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------------
# Results (shaped like pulumi.automation's)
# --------------------------------------------------------------------------------------------------


class StepRecord(NamedTuple):
    """One engine step, in execution order: ``op`` is the engine's step op (``create``, ``same``, ``update``,
    ``replace``, ``create-replacement``, ``delete-replaced``, ``delete``, ``import``, ``refresh``) and ``urn``
    the resource. It is a tuple, so ``("create", urn) in result.steps`` works."""

    op: str
    urn: str


class ResourceChanges(dict[str, int]):
    """``{op: count}`` like ``UpdateSummary.resource_changes`` of the Automation API (only non-zero entries),
    except that a missing op reads as 0: ``changes["update"] == 0``."""

    def __missing__(self, key: str) -> int:
        return 0


@dataclass
class UpdateSummary:
    """The Automation API's ``UpdateSummary`` fields this runner can fill in."""

    kind: str
    result: str
    resource_changes: ResourceChanges
    start_time: datetime
    end_time: datetime


@dataclass
class BaseResult:
    """What every operation returns.

    ``stdout``/``stderr`` are the program's (empty for refresh/destroy, which do not run it), ``steps`` the
    engine steps in order, ``provider_log`` everything the provider host printed, ``diagnostics`` the
    program's ``pulumi.log`` messages plus the runner's own warnings. With policy packs, ``stdout`` ends with
    the CLI's "Policies:" section, every violation is also a diagnostic (``error`` when mandatory, else
    ``warning``), and ``policy_violations`` lists them (mandatory first, as the CLI sorts them).
    """

    stdout: str
    stderr: str
    summary: UpdateSummary
    steps: list[StepRecord]
    provider_log: str
    diagnostics: list[LogEntry]
    policy_violations: list[Diagnostic] = field(default_factory=list)

    def urns(self, op: str) -> list[str]:
        """URNs of the steps with op ``op``, in order."""
        return [s.urn for s in self.steps if s.op == op]


@dataclass
class UpResult(BaseResult):
    """Result of :meth:`StackRunner.up`; ``outputs`` are the stack outputs; ``preview`` is the preview ``up`` ran
    first (with policy packs, as ``pulumi up`` does), else ``None``."""

    outputs: dict[str, OutputValue] = field(default_factory=dict)
    preview: PreviewResult | None = None


@dataclass
class PreviewResult(BaseResult):
    """Result of :meth:`StackRunner.preview`; ``change_summary`` is what ``up`` would do."""

    @property
    def change_summary(self) -> ResourceChanges:
        """The Automation API's name for the counts."""
        return self.summary.resource_changes


@dataclass
class RefreshResult(BaseResult):
    """Result of :meth:`StackRunner.refresh`."""


@dataclass
class DestroyResult(BaseResult):
    """Result of :meth:`StackRunner.destroy`."""


# --------------------------------------------------------------------------------------------------
# Project and config
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """What the runner reads from ``Pulumi.yaml``."""

    name: str
    directory: Path
    program: Path
    runtime_options: Mapping[str, Any]

    @classmethod
    def load(cls, work_dir: Path) -> Project:
        """Parse ``Pulumi.yaml`` (or ``Pulumi.yml``) in ``work_dir``."""
        path = next((p for p in (work_dir / "Pulumi.yaml", work_dir / "Pulumi.yml") if p.is_file()), None)
        if path is None:
            raise ProjectError(f"no Pulumi.yaml in {work_dir}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ProjectError(f"cannot read {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ProjectError(f"{path}: `name` is required")
        runtime = data.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        options = (runtime.get("options") or {}) if isinstance(runtime, dict) else {}
        if runtime_name != "python":
            raise ProjectError(f"{path}: runtime {runtime_name!r} is not supported; StackRunner runs Python programs")
        main = data.get("main")
        program = (work_dir / str(main)).resolve() if main else work_dir.resolve()
        if program.is_dir() and not (program / "__main__.py").is_file():
            raise ProjectError(f"unable to find main python program `__main__.py` in `{program}`")
        if not program.exists():
            raise ProjectError(f"{path}: main program {program} does not exist")
        return cls(data["name"], work_dir.resolve(), program, dict(options))


def _config_text(value: Any) -> str:
    # The CLI hands every config value to programs and providers as a string; structured values (objects,
    # arrays, and non-string scalars from a stack file) travel as their JSON text.
    return value if isinstance(value, str) else json.dumps(value)


def _config_key(project: str, key: str) -> str:
    # `pulumi config set key` without a namespace stores `<project>:key`.
    return key if ":" in key else f"{project}:{key}"


def _stack_file_config(project: Project, stack: str, overridden: set[str]) -> dict[str, str]:
    path = project.directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"cannot read {path}: {exc}") from exc
    out: dict[str, str] = {}
    for raw_key, value in (data.get("config") or {}).items():
        key = _config_key(project.name, str(raw_key))
        if key in overridden:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise ProjectError(f"{path}: config {key} is encrypted by the Pulumi CLI; pass its value in "
                               "StackRunner(secret_config={...}) instead")
        out[key] = _config_text(value)
    return out


# --------------------------------------------------------------------------------------------------
# The deployment: the engine's step generation and execution, for one operation
# --------------------------------------------------------------------------------------------------


def _optional_bool(request: Any, name: str) -> bool | None:
    try:
        if not request.HasField(name):
            return None
    except ValueError:  # older SDKs: a plain (non-optional) field
        pass
    return bool(getattr(request, name))


def _go_value(value: Any) -> str:
    """A property value as the engine prints it in a check failure (``{value}``), secrets redacted."""
    if value is None:
        return "<nil>"
    if is_secret(value):
        return "[secret]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return redacted(value)


def _process_ignore_changes(inputs: PropertyMap, old_inputs: PropertyMap, paths: Sequence[str],
                            warn: Callable[[str], None]) -> PropertyMap:
    """Engine rule (step_generator.go processIgnoreChanges): each ignored path takes its old value (or is removed
    when the old inputs lack it). Top-level keys and dotted object paths are supported."""
    result: PropertyMap = json.loads(json.dumps(inputs))
    unsupported = []
    for path in paths:
        if "[" in path or path.startswith('"'):
            unsupported.append(path)
            continue
        keys = path.split(".")
        new_parent: Any = result
        old_parent: Any = old_inputs
        for key in keys[:-1]:
            new_parent = new_parent.get(key) if isinstance(new_parent, dict) else None
            old_parent = old_parent.get(key) if isinstance(old_parent, dict) else None
        last = keys[-1]
        if not isinstance(new_parent, dict):
            continue
        if isinstance(old_parent, dict) and last in old_parent:
            new_parent[last] = json.loads(json.dumps(old_parent[last]))
        else:
            new_parent.pop(last, None)
    if unsupported:
        warn(f"ignore_changes paths with indexes are not supported by StackRunner and were not applied: "
             f"{', '.join(unsupported)}")
    return result


def _changed_keys(old: PropertyMap, new: PropertyMap) -> list[str]:
    # Engine's PropertyMap.Diff treats a null value and a missing key alike.
    keys = set(old) | set(new)
    return sorted(k for k in keys if old.get(k) != new.get(k))


def _protected_delete_message(urn: str) -> str:
    # Engine rule: step.go deleteProtectedError.
    return (f"resource {json.dumps(urn)} cannot be deleted\n"
            "because it is protected. To unprotect the resource, either remove the `protect` flag from the "
            "resource in your Pulumi program and run `pulumi up`, or use the command:\n"
            f"`pulumi state unprotect '{urn}'`")


def _protected_replace_message(urn: str) -> str:
    # Engine rule: step_generator.go continueStepsFromDiff, protected replacement.
    return (f"unable to replace resource {json.dumps(urn)}\n"
            "as it is currently marked for protection. To unprotect the resource, remove the `protect` flag "
            "from the resource in your Pulumi program and run `pulumi up`")


class _Deployment:
    """One operation's worth of engine: steps for registrations, deletes, refreshes; builds the new state."""

    def __init__(self, prior: StackState, host: ProviderHost, *, dry_run: bool,
                 policies: PolicyPackSet | None = None) -> None:
        self.project = prior.project
        self.stack = prior.stack
        self.dry_run = dry_run
        self.host = host
        self.prior = prior
        self.olds: dict[str, ResourceState] = {r.urn: r for r in prior.resources if not r.delete}
        # Old copies awaiting deletion: left over from an earlier run, or replaced (create-before-delete) now.
        self.pending_delete: list[ResourceState] = [r for r in prior.resources if r.delete]
        self.news: dict[str, ResourceState] = {}
        self.order: list[str] = []
        self.seen: set[str] = set()
        self.removed: set[int] = set()
        self.steps: list[StepRecord] = []
        self.counts: Counter[str] = Counter()
        self.errors: list[StackRunnerError] = []
        self.diagnostics: list[LogEntry] = []
        self.refreshed: dict[int, ResourceState | None] = {}
        self.lock = threading.RLock()
        self.policies = policies if policies is not None and policies.active else None
        self.default_provider: ResourceState | None = None
        self._provider_lock = threading.Lock()

    # -- bookkeeping -----------------------------------------------------------------------------

    def record(self, op: str, urn: str, counted_as: str | None = None) -> None:
        """Append a step; count it under ``counted_as`` (default: its op, unless the step is not logical)."""
        with self.lock:
            self.steps.append(StepRecord(op, urn))
            summary_op = counted_as if counted_as is not None else (None if op in _NON_LOGICAL else op)
            if summary_op:
                self.counts[summary_op] += 1

    def warn(self, message: str, urn: str = "") -> None:
        """Add a warning diagnostic."""
        with self.lock:
            self.diagnostics.append(LogEntry("warning", message, urn))

    def log(self, entry: LogEntry) -> None:
        """Engine.Log from the program."""
        with self.lock:
            self.diagnostics.append(entry)

    def fail(self, error: StackRunnerError) -> None:
        """Record a failure; the monitor refuses every later request (the engine cancels the deployment)."""
        with self.lock:
            self.errors.append(error)
            self.diagnostics.append(LogEntry("error", str(error)))

    def _complete(self, new: ResourceState) -> None:
        with self.lock:
            self.news[new.urn] = new
            self.order.append(new.urn)

    def make_urn(self, parent: str, typ: str, name: str) -> str:
        """Engine rule (deployment.go generateURN / urn.New): the parent's qualified type prefixes the type with
        ``$``, except for the root stack."""
        parent_type = urn_qualified_type(parent) if parent else ""
        qualified = f"{parent_type}${typ}" if parent_type and parent_type != STACK_TYPE else typ
        return f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{name}"

    # -- RegisterResource ------------------------------------------------------------------------

    def register_resource(self, request: resource_pb2.RegisterResourceRequest
                          ) -> resource_pb2.RegisterResourceResponse:
        """Serve one ``RegisterResource``: generate and execute its step, answer with URN, ID and outputs."""
        with self.lock:
            if self.errors:
                raise MonitorShutdown
        typ, name, custom = request.type, request.name, request.custom
        if request.remote:
            raise UnsupportedResourceError(
                f"{typ} resource '{name}' is a component from a provider package (a multi-language component); "
                "StackRunner runs only Python dynamic resources offline")
        if custom and not typ.startswith(DYNAMIC_TYPE_PREFIX):
            raise UnsupportedResourceError(
                f"{typ} resource '{name}' needs the provider plugin for package "
                f"{typ.split(':', 1)[0]!r}; StackRunner runs only Python dynamic resources "
                f"(types {DYNAMIC_TYPE_PREFIX}...) offline, use the Pulumi CLI for anything else")
        if custom and request.provider:
            raise UnsupportedResourceError(
                f"{typ} resource '{name}' names an explicit provider ({request.provider}); dynamic resources use "
                "the default pulumi-python provider and StackRunner supports only that")
        parent = request.parent
        with self.lock:
            # Engine rule (step_generator.go checkParent): a parent must have been registered already.
            if parent and parent not in self.seen:
                raise StackRunnerError(f"could not find parent resource {parent}")
            urn = self.make_urn(parent, typ, name)
            # Engine rule (step_generator.go generateURN): URNs are unique within a deployment.
            if urn in self.seen:
                raise StackRunnerError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self.seen.add(urn)
            old = self.olds.get(urn)
        new = ResourceState(
            urn=urn, type=typ, custom=custom, parent=parent,
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            inputs=from_struct(request.object),
            protect=bool(_optional_bool(request, "protect")),
            retain_on_delete=bool(_optional_bool(request, "retainOnDelete")),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            # The SDK sends deleteBeforeReplaceDefined when the option was given (true or false).
            delete_before_replace=(request.deleteBeforeReplace
                                   if request.deleteBeforeReplace or request.deleteBeforeReplaceDefined else None),
            ignore_changes=list(request.ignoreChanges),
            replace_on_changes=list(request.replaceOnChanges),
            import_id=request.importId,
        )
        outputs = self._component_step(new, old) if not custom else self._custom_steps(new, old)
        self._complete(new)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=new.id, object=to_struct(outputs))

    def _component_step(self, new: ResourceState, old: ResourceState | None) -> PropertyMap:
        # Engine rule (step_generator.go diff, prov == nil): a component (or the root stack) is `same` when its
        # inputs are deep-equal to the old ones, else `update`; it keeps its old outputs until its
        # RegisterResourceOutputs, and the monitor answers local components with no outputs (source_eval.go).
        # Engine rule (step_generator.go generateSteps): resources without a provider (components, the root stack)
        # are analyzed too, with their inputs (no Check).
        self.analyze(new, new.inputs)
        if old is None:
            op = "create"
        else:
            op = "same" if strip_secrets(old.inputs) == strip_secrets(new.inputs) else "update"
            new.outputs = old.outputs
        self.record(op, new.urn)
        return {}

    def _custom_steps(self, new: ResourceState, old: ResourceState | None) -> PropertyMap:
        goal_inputs = new.inputs
        # Engine rule (step_generator.go continueStepsFromRefresh): `import` applies when the goal has an ID and
        # there is no old state, or the old state was imported with a different ID.
        imported = bool(new.import_id) and (old is None or (old.import_id or old.id) != new.import_id)
        if imported:
            if old is not None:
                # Engine rule (ImportReplacementStep): the resource this URN had before is replaced by the
                # imported one, and deleted after the program like any replaced resource.
                self._condemn(old)
            old = self._import(new, goal_inputs, replacing=old is not None)
        inputs = goal_inputs
        if old is not None:
            inputs = _process_ignore_changes(goal_inputs, old.inputs, new.ignore_changes,
                                             lambda m: self.warn(m, new.urn))
        # Engine rule: Check(olds = old inputs, news = goal inputs), before any diff.
        new.inputs = self._check(new, old.inputs if old is not None else {}, inputs, goal_inputs)
        # Engine rule (step_generator.go generateSteps): analyzers see the checked inputs right after Check and
        # before the resource is diffed, created or updated. (The engine also analyzes a resource whose Check
        # failed before it bails; the runner stops at the Check failure, so its violations are not reported.)
        self.analyze(new, new.inputs)
        if old is None:
            self._create(new)
            self.record("create", new.urn)
            return new.outputs
        diff = self._diff(new, old)
        if diff.changes == "none":
            # Engine rule (SameStep): keep the old ID and outputs, record the new inputs.
            new.id, new.outputs = old.id, old.outputs
            self.mark_secret_outputs(new)
            if not imported:  # an import with no difference is just the import step
                self.record("same", new.urn)
            return new.outputs
        if diff.replaces:
            return self._replace(new, old, goal_inputs, diff.delete_before_replace)
        self._update(new, old)
        self.record("update", new.urn)
        return new.outputs

    def _check(self, new: ResourceState, olds: PropertyMap, news: PropertyMap,
               goal_inputs: PropertyMap) -> PropertyMap:
        checked, failures = self.host.check(new.urn, strip_secrets(olds), strip_secrets(news))
        # Engine rule (provider_plugin.go Check): keep the secret bit on inputs the provider returned.
        annotate_secrets(checked, news)
        if failures:
            # Engine rule (step_generator.go issueCheckFailures + diag codes 2002/2003): one error per failure,
            # then the resource is invalid and the deployment stops.
            name = new.name
            lines = [f"{new.type} resource '{name}': property {prop} value "
                     f"{{{_go_value(goal_inputs.get(prop))}}} has a problem: {reason}"
                     if prop else f"{new.type} resource '{name}' has a problem: {reason}"
                     for prop, reason in failures]
            raise CheckFailedError("\n".join(lines), urn=new.urn, failures=failures)
        return checked

    def _diff(self, new: ResourceState, old: ResourceState) -> _Diff:
        result = self.host.diff(new.urn, old.id, strip_secrets(old.outputs), strip_secrets(new.inputs),
                                strip_secrets(old.inputs), new.ignore_changes)
        changes, changed = result.changes, list(result.diffs)
        if changes == "unknown":
            # Engine rule (step_generator.go diffResource): an unknown diff falls back to comparing the old and
            # new inputs (secrets unwrapped, ignore_changes applied).
            compared = _process_ignore_changes(new.inputs, old.inputs, new.ignore_changes, lambda m: None)
            changed = _changed_keys(strip_secrets(old.inputs), strip_secrets(compared))
            changes = "some" if changed else "none"
        replaces = list(result.replaces) if changes == "some" else []
        # Engine rule (applyReplaceOnChanges): a change to a replace_on_changes property forces a replacement.
        if changes == "some" and new.replace_on_changes:
            triggers = set(new.replace_on_changes)
            replaces += [k for k in changed if ("*" in triggers or k in triggers) and k not in replaces]
        return _Diff(changes, replaces, result.delete_before_replace)

    def mark_secret_outputs(self, new: ResourceState) -> None:
        # Engine rule (step_executor.go): outputs named in additionalSecretOutputs become secret; `id` cannot.
        for key in new.additional_secret_outputs:
            if key == "id":
                self.warn("The 'id' property cannot be made secret. See pulumi/pulumi#2717 for more details.",
                          new.urn)
            elif key in new.outputs and not is_secret(new.outputs[key]):
                new.outputs[key] = make_secret(new.outputs[key])

    def _create(self, new: ResourceState) -> None:
        if self.dry_run:
            # Engine rule (provider_plugin.go Create): a provider without preview support (the dynamic host
            # answers supportsPreview=false) is not called; the inputs stand in for the state, the ID is
            # unknown (empty) and every other output resolves as unknown in the program.
            new.id, new.outputs = "", json.loads(json.dumps(new.inputs))
        else:
            new.id, outputs = self.host.create(new.urn, strip_secrets(new.inputs))
            # Engine rule (provider_plugin.go Create): outputs of secret inputs stay secret.
            annotate_secrets(outputs, new.inputs)
            new.outputs = outputs
        self.mark_secret_outputs(new)

    def _update(self, new: ResourceState, old: ResourceState) -> None:
        new.id = old.id
        if self.dry_run:
            # Engine rule (provider_plugin.go Update): no preview support -> the new inputs stand in.
            new.outputs = json.loads(json.dumps(new.inputs))
        else:
            # Engine rule: Update(olds = old outputs, news = checked inputs, old_inputs).
            outputs = self.host.update(new.urn, old.id, strip_secrets(old.outputs), strip_secrets(new.inputs),
                                       strip_secrets(old.inputs), new.ignore_changes)
            annotate_secrets(outputs, new.inputs)
            new.outputs = outputs
        self.mark_secret_outputs(new)

    def _replace(self, new: ResourceState, old: ResourceState, goal_inputs: PropertyMap,
                 provider_dbr: bool) -> PropertyMap:
        # Engine rule: replacing a protected resource fails, unless the program unprotects it in the same update.
        if new.protect and old.protect:
            raise ProtectedResourceError(_protected_replace_message(new.urn))
        if new.import_id:
            raise ResourceImportError(
                "previously-imported resources that still specify an ID may not be replaced; please remove the "
                f"`import` declaration from your program ({new.urn})")
        # Engine rule: before a replacement, Check again with no old inputs (defaults are not carried over).
        new.inputs = self._check(new, {}, goal_inputs, goal_inputs)
        # Engine rule: the provider asks for delete-before-replace; the resource option overrides it either way.
        delete_first = provider_dbr if new.delete_before_replace is None else new.delete_before_replace
        if delete_first:
            # delete-replaced, replace, create-replacement. (The engine would also delete and re-create
            # dependents that the replacement forces; StackRunner does not emulate that cascade.)
            self._delete(old, replacing=True)
            self.record("replace", new.urn)
            self._create(new)
            self.record("create-replacement", new.urn)
        else:
            # create-replacement, replace now; the old copy is marked for deletion and deleted with the other
            # condemned resources after the program finishes (create-before-delete, the default).
            self._create(new)
            self.record("create-replacement", new.urn)
            self.record("replace", new.urn)
            self._condemn(old)
        return new.outputs

    def _condemn(self, old: ResourceState) -> None:
        # Engine rule: a replaced resource stays in the snapshot with Delete=true until it is deleted.
        condemned = old.copy()
        condemned.delete = True
        with self.lock:
            self.removed.add(id(old))
            self.pending_delete.append(condemned)

    def _import(self, new: ResourceState, goal_inputs: PropertyMap, *, replacing: bool) -> ResourceState:
        # Engine rule (step.go ImportStep): Read the resource by ID; it must exist and the provider must return
        # inputs; the result becomes the "old" state that Check and Diff run against (a difference is then an
        # update, a replacement is refused). The engine sends no properties with this Read, which the Python
        # host cannot serve (it needs __provider), so StackRunner sends the goal inputs as `inputs`.
        read = self.host.read(new.urn, new.import_id, {}, strip_secrets(goal_inputs))
        if not read.id:
            raise ResourceImportError(f"resource '{new.import_id}' does not exist")
        if read.inputs is None:
            raise ResourceImportError("provider does not support importing resources; please try updating the "
                                      "'pulumi-python' plugin (the dynamic provider's read() must return inputs)")
        imported = ResourceState(urn=new.urn, type=new.type, custom=True, id=read.id or new.import_id,
                                 parent=new.parent, inputs=read.inputs, outputs=read.outputs,
                                 import_id=new.import_id)
        self.record("import-replacement" if replacing else "import", new.urn)
        return imported

    def register_resource_outputs(self, request: resource_pb2.RegisterResourceOutputsRequest) -> None:
        """Engine rule (source_eval.go RegisterResourceOutputs): record the component's (or stack's) outputs."""
        with self.lock:
            if self.errors:
                raise MonitorShutdown
            res = self.news.get(request.urn)
            if res is None:
                raise StackRunnerError(f"outputs registered for unknown resource {request.urn}")
            res.outputs = from_struct(request.outputs)

    # -- policy packs ----------------------------------------------------------------------------

    def _provider_of(self, res: ResourceState) -> ProviderResource | None:
        # Engine rule (step_generator.go getProviderResource): a custom resource goes to analyzers with its
        # provider resource and that provider's inputs. Every dynamic resource uses the default `pulumi-python`
        # provider, whose inputs are empty (no `pulumi-python:*` config, no version).
        if not res.custom or res.type.startswith("pulumi:providers:"):
            return None
        return ProviderResource(default_provider_urn(self.stack, self.project), DYNAMIC_PROVIDER_TYPE, {})

    def _register_default_provider(self) -> None:
        # Engine rule (deploy/providers registry, source_eval.go defaultProviders): the default provider is
        # registered, through the same step generation, before the first resource that uses it; so it is
        # analyzed once and is part of the stack AnalyzeStack sees. StackRunner keeps no provider in state (the
        # dynamic host is not configured through a provider resource), so it exists only for the analyzers.
        with self._provider_lock:
            if self.default_provider is not None:
                return
            provider = ResourceState(urn=default_provider_urn(self.stack, self.project), type=DYNAMIC_PROVIDER_TYPE,
                                     custom=True)
            self._analyze_one(provider, {})
            self.default_provider = provider

    def analyze(self, new: ResourceState, inputs: PropertyMap) -> None:
        """Send one registration to every policy pack's ``Analyze`` (a no-op without policy packs).

        Engine rule (analyze_snapshot.go analyzeResource, step_generator.go generateSteps): every violation is
        reported; a mandatory one (or a remediate one: the remediation did not fix it) marks the deployment as
        failed (``sawError``). In a preview that is all (the preview continues, so it reports every violation,
        and fails at the end); in an update the resource is invalid and the step generator bails before any
        step for it ("resource <urn> is invalid"), so the deployment stops there.
        """
        if self.policies is None:
            return
        if new.custom:
            self._register_default_provider()
        self._analyze_one(new, inputs)

    def _analyze_one(self, res: ResourceState, inputs: PropertyMap) -> None:
        if self.policies is None:
            return
        found = self.policies.analyze(analyzer_resource(res, inputs, self._provider_of(res)))
        for diagnostic in found:
            self.log(violation_log_entry(diagnostic))
        mandatory = [d for d in found if d.mandatory]
        if mandatory and not self.dry_run:
            raise PolicyViolationError(
                f"resource {res.urn} is invalid: mandatory policy violation"
                f"{'s' if len(mandatory) > 1 else ''}, so the update stopped before operating on it:\n"
                + "\n".join(f"  {violation_summary(d)}" for d in mandatory),
                violations=found, preview=False)

    def analyze_stack(self) -> None:
        """Send the final stack to every policy pack's ``AnalyzeStack`` (a no-op without policy packs).

        Engine rule (deployment_executor.go Execute, step_generator.go AnalyzeResources): this runs once the step
        executor has finished with no error (the program done, the stack outputs registered, the deletes made),
        with every resource registered in this run with its *outputs* (the root ``pulumi:pulumi:Stack``
        resource's outputs are the stack exports) plus the default provider; resources deleted in this run are
        not in it. A mandatory violation marks the deployment as failed; in an update the changes are made by
        then and stay in the state.
        """
        if self.policies is None:
            return
        with self.lock:
            resources = [self.news[urn] for urn in self.order]
        items = [analyzer_resource(self.default_provider, {}, None)] if self.default_provider is not None else []
        items += [analyzer_resource(r, r.outputs, self._provider_of(r)) for r in resources]
        for diagnostic in self.policies.analyze_stack(items):
            self.log(violation_log_entry(diagnostic))

    # -- deletes ---------------------------------------------------------------------------------

    def _delete(self, res: ResourceState, *, replacing: bool) -> None:
        # Engine rule (step.go DeleteStep.Apply): protected resources are never deleted (replacements were checked
        # earlier); previews call nothing; retain_on_delete and external resources are only dropped from state.
        if not replacing and res.protect:
            raise ProtectedResourceError(_protected_delete_message(res.urn))
        if res.custom and not self.dry_run and not res.retain_on_delete and not res.external:
            self.host.delete(res.urn, res.id, strip_secrets(res.outputs), strip_secrets(res.inputs))
        with self.lock:
            self.removed.add(id(res))
        self.record("delete-replaced" if replacing else "delete", res.urn)

    def condemned(self) -> list[tuple[ResourceState, bool]]:
        """Resources ``up`` must delete after the program: replaced copies, then those no longer declared."""
        with self.lock:
            items = [(r, True) for r in self.pending_delete if id(r) not in self.removed]
            items += [(r, False) for r in self.olds.values()
                      if r.urn not in self.news and id(r) not in self.removed]
        return items

    def execute_deletes(self, items: Sequence[tuple[ResourceState, bool]]) -> None:
        """Engine rule (step_generator.go ScheduleDeletes): split the condemned set into antichains (resources
        none of which depends on another still condemned one, parents counting as dependencies), run them
        dependents first; when a chain has a failure, later chains do not start."""
        remaining = list(items)
        chains: list[list[tuple[ResourceState, bool]]] = []
        while remaining:
            urns = {r.urn for r, _ in remaining}
            chain = [(r, rep) for r, rep in remaining if not (r.all_dependencies() & urns)]
            if not chain:  # a dependency cycle cannot come from a program; be safe anyway
                chain = list(remaining)
            chosen = {id(r) for r, _ in chain}
            remaining = [(r, rep) for r, rep in remaining if id(r) not in chosen]
            chains.append(chain)
        for chain in reversed(chains):
            failures: list[StackRunnerError] = []
            for res, replacing in chain:
                try:
                    self._delete(res, replacing=replacing)
                except StackRunnerError as exc:
                    failures.append(exc)
            if failures:
                raise failures[0]

    # -- the new state ---------------------------------------------------------------------------

    def snapshot(self) -> StackState:
        """The state after this operation: completed registrations, copies still awaiting deletion, and old
        resources the operation did not touch (all of them when it failed early), in dependency order."""
        with self.lock:
            resources = [r for r in self.pending_delete if id(r) not in self.removed]
            resources += [self.news[urn] for urn in self.order]
            resources += [r for r in self.prior.resources
                          if not r.delete and r.urn not in self.news and id(r) not in self.removed]
            return StackState(self.project, self.stack, dependency_order(resources))

    def refreshed_snapshot(self) -> StackState:
        """The state after a refresh: refreshed copies in place of the old ones, dropped resources removed and
        references to them cleared (a dropped parent's children move up to its parent), untouched resources (when
        the refresh failed part-way) kept as they were."""
        with self.lock:
            resources: list[ResourceState] = []
            gone: dict[str, str] = {}
            for old in self.prior.resources:
                if id(old) not in self.refreshed:
                    resources.append(old)
                    continue
                new = self.refreshed[id(old)]
                if new is None:
                    gone[old.urn] = old.parent
                else:
                    resources.append(new)
        dropped = {urn: parent for urn, parent in gone.items() if all(r.urn != urn for r in resources)}
        for res in resources:
            res.dependencies = [u for u in res.dependencies if u not in dropped]
            res.property_dependencies = {k: [u for u in v if u not in dropped]
                                         for k, v in res.property_dependencies.items()}
            while res.parent in dropped:
                res.parent = dropped[res.parent]
        return StackState(self.project, self.stack, resources)


@dataclass
class _Diff:
    changes: str
    replaces: list[str]
    delete_before_replace: bool


# --------------------------------------------------------------------------------------------------
# StackRunner
# --------------------------------------------------------------------------------------------------


class StackRunner:
    """Run a Pulumi Python program offline: ``up``, ``preview``, ``refresh`` and ``destroy`` on one stack.

    A testing tool (think moto for boto3), **not** a replacement for the Pulumi engine: the program runs through
    the real SDK against an in-process resource monitor, its Python dynamic resources go to a real
    ``python -m pulumi.dynamic`` host, and the step rules (check, diff, create/update/replace, deletes in
    dependency order, protect, secrets) follow the engine's; anything that is not a dynamic resource fails
    with :class:`UnsupportedResourceError`. The interface mirrors the Automation API's ``Stack``.

    Counting (``result.summary.resource_changes``), as the CLI's summary does: every resource counts once per
    operation, the root ``pulumi:pulumi:Stack`` resource and components included (a first ``up`` of two
    resources is ``{"create": 3}``, the next ``{"same": 3}``); a replacement counts once as ``replace`` (its
    ``create-replacement`` and ``delete-replaced`` steps are in ``result.steps`` but not counted); ``refresh``
    counts ``same``/``update``/``delete`` per resource; ``destroy`` counts a ``delete`` for everything,
    stack included; default providers are never counted (nor recorded: the runner keeps none in state).

    Policy packs (``preview``/``up`` with ``policy_packs``): each engine run (a preview; an update) starts every
    pack once before the program, sends each registration to ``Analyze`` after Check and the final stack to
    ``AnalyzeStack`` after the deployment, prints violations as the CLI does and fails on a mandatory one as the
    CLI does: see :meth:`preview` and :meth:`up`, and :class:`PolicyViolationError`. The packs run with
    ``python`` and this process's environment (``env`` is not passed to them).

    :param work_dir: the project directory, holding ``Pulumi.yaml`` (``name``, ``runtime: python``, ``main``).
    :param stack_name: the stack name (used in URNs and ``pulumi.get_stack()``).
    :param state_file: where state is kept; a relative path is relative to ``work_dir``.
    :param config: stack config, ``"<namespace>:<key>"`` (a bare key gets the project's namespace) to a string or
        a JSON-able structure (passed as JSON text, as the CLI does). Plain values of ``Pulumi.<stack>.yaml`` in
        ``work_dir`` are read too; these arguments win.
    :param secret_config: like ``config``, but secret: the program sees them as secrets, the provider gets them in
        its ``configure()`` as the engine passes them.
    :param passphrase: encrypts the state's secrets; defaults to ``PULUMI_CONFIG_PASSPHRASE`` (or
        ``PULUMI_CONFIG_PASSPHRASE_FILE``) from ``env`` or the process environment.
    :param env: extra environment variables for the program and the provider host.
    :param python_path: directories prepended to ``PYTHONPATH`` of both subprocesses (where the program and the
        host find provider modules; the host also runs in ``work_dir``, as the engine runs plugins there).
    :param python: the interpreter for both subprocesses (default: this one).
    :param timeout: seconds the program may run before it is killed.
    """

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        stack_name: str = "dev",
        state_file: str | os.PathLike[str] = "state.json",
        *,
        config: Mapping[str, Any] | None = None,
        secret_config: Mapping[str, Any] | None = None,
        passphrase: str | None = None,
        env: Mapping[str, str] | None = None,
        python_path: Iterable[str | os.PathLike[str]] = (),
        python: str = sys.executable,
        timeout: float = 600.0,
    ) -> None:
        self.work_dir = Path(work_dir).resolve()
        self.stack_name = stack_name
        path = Path(state_file)
        self.state_path = path if path.is_absolute() else self.work_dir / path
        self._config = dict(config or {})
        self._secret_config = dict(secret_config or {})
        self._passphrase = passphrase
        self._env = dict(env or {})
        self._python_path = [str(Path(p).resolve()) for p in python_path]
        self._python = python
        self._timeout = timeout

    # -- public operations -----------------------------------------------------------------------

    def up(
        self,
        *,
        policy_packs: Sequence[str | os.PathLike[str]] = (),
        policy_pack_configs: Mapping[str | os.PathLike[str], PolicyPackConfigSource] | None = None,
        skip_preview: bool = False,
    ) -> UpResult:
        """Run the program and make the stack match it (like ``pulumi up --yes``).

        With ``policy_packs`` it is ``pulumi up --yes --policy-pack <dir>... [--policy-pack-config <file>...]``
        (see :meth:`preview` for the arguments), and, as that command does, it first runs a preview with the
        packs (``result.preview``): a mandatory violation there raises :class:`PolicyViolationError` before the
        update starts, so nothing is written and the state file is untouched. The update then runs with newly
        started packs: resources are analyzed again as they register (a mandatory violation now stops the update
        at that resource, after the resources before it were changed), and the final stack is analyzed once the
        deployment is done (a mandatory violation there fails the update *after* its changes, which stay in the
        state; the error's ``result`` is the whole :class:`UpResult`). ``skip_preview=True`` is
        ``--skip-preview``: no preview, only the update's own checks. Without policy packs ``up`` runs no preview
        (as ``--skip-preview``).
        """
        packs = self._policy_packs(policy_packs, policy_pack_configs)
        preview: PreviewResult | None = None
        if packs and not skip_preview:
            # Engine rule (backend/apply.go PreviewThenPromptThenExecute): `pulumi up` previews first unless
            # --skip-preview (--yes only skips the prompt), and a failed preview ends the operation there.
            preview = self._preview(packs, within_up=True)
        run = self._run_program(dry_run=False, packs=packs)
        result = UpResult(run.stdout, run.stderr, run.summary("update"), run.steps, run.provider_log,
                          run.diagnostics, run.violations, outputs=_output_values(run.state.outputs),
                          preview=preview)
        # Only AnalyzeStack's mandatory violations can be left here: Analyze's stop the update as they happen.
        _raise_on_mandatory(
            result, "update failed after its changes were made: the final stack has {n} mandatory policy "
            "violation{s} (stack policies run once the deployment is done, so the changes stay in the state)",
            preview=False)
        return result

    def preview(
        self,
        *,
        policy_packs: Sequence[str | os.PathLike[str]] = (),
        policy_pack_configs: Mapping[str | os.PathLike[str], PolicyPackConfigSource] | None = None,
    ) -> PreviewResult:
        """Run the program and report what ``up`` would do: Check and Diff only; nothing is created, updated or
        deleted, and the state file is not written.

        ``policy_packs`` are policy pack directories (``--policy-pack``; relative paths are relative to
        ``work_dir``, as for the CLI run in the project directory); ``policy_pack_configs`` maps a pack (as given
        in ``policy_packs``, or its directory) to its policy config: a ``--policy-pack-config`` JSON file, or that
        file's content as a mapping (``{"tenant-key-max-roles": {"maxRoles": 2}}``). Each pack runs as the engine
        runs it (see :mod:`.analyzer`), with the interpreter ``python`` like the program, and sees every resource
        after Check (``Analyze``, inputs) and then the whole stack (``AnalyzeStack``, outputs, the root stack's
        being the exports). Violations are printed in ``result.stdout`` as the CLI's "Policies:" section, added to
        ``result.diagnostics`` and listed in ``result.policy_violations``. As ``pulumi preview`` does, a mandatory
        violation does not stop the preview but fails it at the end: :class:`PolicyViolationError`, whose
        ``result`` is this :class:`PreviewResult` (with ``summary.result == "failed"``).
        """
        return self._preview(self._policy_packs(policy_packs, policy_pack_configs), within_up=False)

    def refresh(self) -> RefreshResult:
        """Read every custom resource from its provider; drop those that no longer exist (the program is not run)."""
        run = self._operate(self._refresh_all, kind="refresh")
        return RefreshResult("", "", run.summary("refresh"), run.steps, run.provider_log, run.diagnostics)

    def destroy(self) -> DestroyResult:
        """Delete every resource of the stack, dependents first (the program is not run)."""
        run = self._operate(self._destroy_all, kind="destroy")
        return DestroyResult("", "", run.summary("destroy"), run.steps, run.provider_log, run.diagnostics)

    def outputs(self) -> dict[str, OutputValue]:
        """The stack outputs currently in the state file."""
        return _output_values(self._state_file().load(self._project().name, self.stack_name).outputs)

    def resources(self) -> list[ResourceState]:
        """The resources currently in the state file (secrets decrypted, in memory only)."""
        return self._state_file().load(self._project().name, self.stack_name).resources

    # -- plumbing ----------------------------------------------------------------------------------

    def _policy_packs(self, packs: Sequence[str | os.PathLike[str]],
                      configs: Mapping[str | os.PathLike[str], PolicyPackConfigSource] | None,
                      ) -> list[LocalPolicyPack]:
        if isinstance(packs, (str, os.PathLike)):
            packs = [packs]  # one pack given without a list
        if configs and not packs:
            raise StackRunnerError("policy_pack_configs given without policy_packs")
        return resolve_policy_packs(packs, configs, self.work_dir)

    def _preview(self, packs: Sequence[LocalPolicyPack], *, within_up: bool) -> PreviewResult:
        run = self._run_program(dry_run=True, packs=packs)
        result = PreviewResult(run.stdout, run.stderr, run.summary("preview"), run.steps, run.provider_log,
                               run.diagnostics, run.violations)
        # Engine rule (deployment_executor.go Execute): in a preview, mandatory violations of Analyze and
        # AnalyzeStack alike (the step generator's sawError) fail the run once it is complete.
        _raise_on_mandatory(
            result, ("update not started: the preview `pulumi up` runs first found {n} mandatory policy "
                     "violation{s}; nothing was changed") if within_up else
            "preview failed: {n} mandatory policy violation{s}", preview=True)
        return result

    def _policy_set(self, project: Project, config: Mapping[str, tuple[str, bool]],
                    packs: Sequence[LocalPolicyPack], *, dry_run: bool) -> PolicyPackSet:
        # Engine rule (engine/update.go, PolicyAnalyzerOptions): the packs get the organization, project, stack,
        # decrypted stack config with its secret keys, dry_run, and the stack's tags (a DIY backend stack has
        # none unless set with `pulumi stack tag set`, and StackRunner sets none).
        return PolicyPackSet(packs, project=project.name, stack=self.stack_name, organization=ORGANIZATION,
                             dry_run=dry_run, stack_config=config, stack_tags={}, python=self._python)

    def _project(self) -> Project:
        return Project.load(self.work_dir)

    def _environ(self) -> dict[str, str]:
        environ = dict(os.environ)
        environ.update(self._env)
        for key in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS"):
            environ.pop(key, None)
        paths = [*self._python_path, str(_PACKAGE_ROOT)]
        if environ.get("PYTHONPATH"):
            paths.append(environ["PYTHONPATH"])
        environ["PYTHONPATH"] = os.pathsep.join(paths)
        return environ

    def _state_file(self) -> StateFile:
        environ = {**os.environ, **self._env}
        return StateFile(self.state_path, lambda: resolve_passphrase(self._passphrase, environ))

    def _stack_config(self, project: Project) -> dict[str, tuple[str, bool]]:
        explicit: dict[str, tuple[str, bool]] = {}
        for source, secret in ((self._config, False), (self._secret_config, True)):
            for key, value in source.items():
                explicit[_config_key(project.name, key)] = (_config_text(value), secret)
        merged = {k: (v, False) for k, v in _stack_file_config(project, self.stack_name, set(explicit)).items()}
        merged.update(explicit)
        return merged

    def _start_host(self, project: Project, config: Mapping[str, tuple[str, bool]]) -> ProviderHost:
        environ = self._environ()
        # Engine rule (plugin/provider_plugin.go NewProvider): plugins run in the program directory with
        # PULUMI_PROJECT and PULUMI_RUNTIME_<OPTION> (Pulumi.yaml runtime options) in their environment.
        environ["PULUMI_PROJECT"] = project.name
        for key, value in project.runtime_options.items():
            environ[f"PULUMI_RUNTIME_{str(key).upper()}"] = str(value)
        args = {k: make_secret(v) if secret else v for k, (v, secret) in config.items()}
        return ProviderHost(cwd=project.directory, env=environ, config=args, project=project.name,
                            stack=self.stack_name, python=self._python)

    def _run_program(self, *, dry_run: bool, packs: Sequence[LocalPolicyPack] = ()) -> _Run:
        started = datetime.now(timezone.utc)
        project = self._project()
        state_file = self._state_file()
        if not dry_run or state_file.path.exists():
            state_file.crypter()  # fail fast on a missing or wrong passphrase, before anything runs
        prior = state_file.load(project.name, self.stack_name)
        config = self._stack_config(project)
        # Engine rule (engine/update.go, step 2 "Load policy packs and plugins"): the policy packs are started and
        # configured before the program runs (a pack that does not start, or whose config is invalid, fails the
        # operation before anything else happens), once per run, and stopped when the run ends.
        with self._policy_set(project, config, packs, dry_run=dry_run) as policies:
            host = self._start_host(project, config)
            deployment = _Deployment(prior, host, dry_run=dry_run, policies=policies)
            stdout = stderr = ""
            try:
                server = MonitorServer(deployment, project=project.name, stack=self.stack_name)
                try:
                    stdout, stderr, code = self._exec_program(project, config, server.address, dry_run)
                finally:
                    server.stop()
                if deployment.errors:
                    raise deployment.errors[0]
                if code != 0:
                    errors = [d.message for d in deployment.diagnostics if d.severity == "error"]
                    detail = "\n".join(errors) or stderr.strip() or f"exit code {code}"
                    raise ProgramError(f"the Pulumi program failed:\n{detail}")
                # Engine rule (deployment_executor.go): deletes are generated only after the program has finished
                # successfully, then scheduled in dependency order.
                deployment.execute_deletes(deployment.condemned())
                # Engine rule (deployment_executor.go Execute): the stack goes to AnalyzeStack only when the whole
                # deployment succeeded, after every step.
                deployment.analyze_stack()
            except StackRunnerError as exc:
                _attach(exc, deployment, host, stdout + policies.report(), stderr)
                if isinstance(exc, PolicyViolationError):
                    exc.violations = policies.violations
                raise
            finally:
                try:
                    if not dry_run:
                        # Engine rule: the snapshot is persisted even when the update fails part-way.
                        state_file.save(deployment.snapshot())
                finally:
                    host.close()
            return _Run(deployment, host.log, stdout + policies.report(), stderr, started, deployment.snapshot(),
                        policies.violations)

    def _exec_program(self, project: Project, config: Mapping[str, tuple[str, bool]], address: str,
                      dry_run: bool) -> tuple[str, str, int]:
        environ = self._environ()
        # As the CLI's Python language host passes config: PULUMI_CONFIG (JSON object of strings) and
        # PULUMI_CONFIG_SECRET_KEYS (JSON list).
        environ["PULUMI_CONFIG"] = json.dumps({k: v for k, (v, _) in config.items()})
        environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(sorted(k for k, (_, s) in config.items() if s))
        command = [
            self._python, "-u", "-c", _BOOTSTRAP, str(_PROGRAM_ENTRY),
            "--monitor", address, "--engine", address,
            "--project", project.name, "--stack", self.stack_name,
            "--dry_run", "true" if dry_run else "false", "--parallel", str(PARALLEL),
            "--pwd", str(project.directory), "--root_directory", str(project.directory),
            "--organization", ORGANIZATION, str(project.program),
        ]
        try:
            done = subprocess.run(command, cwd=project.directory, env=environ, capture_output=True,  # noqa: S603
                                  text=True, timeout=self._timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ProgramError(f"the Pulumi program did not finish within {self._timeout:g} s") from exc
        return done.stdout, done.stderr, done.returncode

    def _operate(self, action: Callable[[_Deployment], None], *, kind: str) -> _Run:
        """Refresh and destroy: no program, just the state and the provider host."""
        started = datetime.now(timezone.utc)
        project = self._project()
        state_file = self._state_file()
        state_file.crypter()
        prior = state_file.load(project.name, self.stack_name)
        host = self._start_host(project, self._stack_config(project))
        deployment = _Deployment(prior, host, dry_run=False)
        result_state: StackState | None = None
        try:
            action(deployment)
        except StackRunnerError as exc:
            _attach(exc, deployment, host, "", "")
            raise
        finally:
            try:
                result_state = deployment.snapshot() if kind == "destroy" else deployment.refreshed_snapshot()
                state_file.save(result_state)
            finally:
                host.close()
        return _Run(deployment, host.log, "", "", started, result_state)

    @staticmethod
    def _destroy_all(deployment: _Deployment) -> None:
        # Engine rule (destroy): every resource is condemned; deletes are scheduled as for an update.
        with deployment.lock:
            items = [(r, r.delete) for r in deployment.prior.resources]
        deployment.execute_deletes(items)

    @staticmethod
    def _refresh_all(deployment: _Deployment) -> None:
        for res in deployment.prior.resources:
            refreshed = _refresh_one(deployment, res)
            with deployment.lock:
                deployment.refreshed[id(res)] = refreshed


def _refresh_one(deployment: _Deployment, res: ResourceState) -> ResourceState | None:
    """Engine rule (step.go RefreshStep): Read(id, inputs = old inputs, state = old outputs); an empty ID means
    the resource is gone (dropped from state); otherwise take the new outputs (and inputs, when the provider
    returns them). The step counts as `same` or `update` from a Diff of the refreshed state against the old
    inputs (RefreshStep.ResultOp); components and the stack are `same`."""
    if not res.custom:
        deployment.record("refresh", res.urn, counted_as="same")
        return res
    read = deployment.host.read(res.urn, res.id, strip_secrets(res.outputs), strip_secrets(res.inputs))
    if not read.id:
        deployment.record("refresh", res.urn, counted_as="delete")
        return None
    new = res.copy()
    # Engine rule (provider_plugin.go Read): outputs and inputs keep the secret bit of the old ones.
    annotate_secrets(read.outputs, res.outputs)
    if read.inputs is not None:
        annotate_secrets(read.inputs, res.inputs)
        new.inputs = read.inputs
    new.id, new.outputs = read.id, read.outputs
    deployment.mark_secret_outputs(new)
    result = deployment.host.diff(res.urn, new.id, strip_secrets(new.outputs), strip_secrets(res.inputs),
                                  strip_secrets(new.inputs), res.ignore_changes)
    changed = result.changes == "some"
    if result.changes == "unknown":
        changed = bool(_changed_keys(strip_secrets(new.inputs), strip_secrets(res.inputs)))
    deployment.record("refresh", res.urn, counted_as="update" if changed else "same")
    return new


@dataclass
class _Run:
    deployment: _Deployment
    provider_log: str
    stdout: str
    stderr: str
    started: datetime
    state: StackState
    violations: list[Diagnostic] = field(default_factory=list)

    @property
    def steps(self) -> list[StepRecord]:
        return list(self.deployment.steps)

    @property
    def diagnostics(self) -> list[LogEntry]:
        return list(self.deployment.diagnostics)

    def summary(self, kind: str) -> UpdateSummary:
        changes = ResourceChanges({k: v for k, v in sorted(self.deployment.counts.items()) if v})
        # A run with a mandatory policy violation is a failed one (the engine's sawError).
        outcome = "failed" if any(d.mandatory for d in self.violations) else "succeeded"
        return UpdateSummary(kind, outcome, changes, self.started, datetime.now(timezone.utc))


def _raise_on_mandatory(result: BaseResult, template: str, *, preview: bool) -> None:
    """Fail a completed run that has mandatory policy violations, as the CLI does after printing them."""
    mandatory = [d for d in result.policy_violations if d.mandatory]
    if not mandatory:
        return
    head = template.format(n=len(mandatory), s="s" if len(mandatory) > 1 else "")
    error = PolicyViolationError(head + ":\n" + "\n".join(f"  {violation_summary(d)}" for d in mandatory),
                                 violations=result.policy_violations, preview=preview, result=result,
                                 diagnostics=[f"{d.severity}: {d.message}" for d in result.diagnostics])
    error.steps = list(result.steps)
    error.provider_log = result.provider_log
    error.stdout = result.stdout
    error.stderr = result.stderr
    raise error


def _output_values(outputs: PropertyMap) -> dict[str, OutputValue]:
    # Stack outputs come back as the Automation API gives them: the plain value and whether it is secret (here:
    # whether it holds a secret anywhere, so a secret nested in a structure is never reported as non-secret).
    return {k: OutputValue(strip_secrets(v), contains_secrets(v)) for k, v in outputs.items() if v != UNKNOWN}


def _attach(exc: StackRunnerError, deployment: _Deployment, host: ProviderHost, stdout: str, stderr: str) -> None:
    """Give a raised error the context a test needs to explain it."""
    exc.steps = list(deployment.steps)
    exc.provider_log = host.log
    exc.stdout = stdout
    exc.stderr = stderr
    if not exc.diagnostics:
        exc.diagnostics = [f"{d.severity}: {d.message}" for d in deployment.diagnostics]
