"""imburse-guardrails: least-privilege guardrails for Imburse tenants and tenant API keys.

A Pulumi CrossGuard policy pack. Run it with ``pulumi preview --policy-pack policy/analyzer`` (or ``up``),
or with ``--policy-pack policy`` where Pulumi's Python language host is installed (README.md).

How the engine runs this file: given the directory, through the language host (Pulumi >= 3.221,
``sdk/python/cmd/pulumi-language-python`` RunPlugin for plugin kind "analyzer"; before that the
``pulumi-analyzer-policy-python`` shim did the same); given ``policy/analyzer``, as an executable
analyzer plugin, that script. Either way it comes down to
``<python> -u -m pulumi.policy <engine address> <this directory>``, with
``PULUMI_PROJECT``/``PULUMI_STACK``/``PULUMI_DRY_RUN``/``PULUMI_CONFIG`` in the environment.
``pulumi.policy`` runs this file; ``PolicyPack(...)`` below starts the gRPC analyzer server, prints its
port on stdout and serves until interrupted.

Resource policies see a resource's *inputs* (after the provider's Check); stack policies see every
resource's *outputs* at the end of the run, including the root ``pulumi:pulumi:Stack`` resource
whose outputs are the stack's exports (engine: ``stepGenerator.AnalyzeResources``). The engine
marshals both with ``KeepUnknowns``, ``KeepSecrets`` and ``SkipInternalKeys`` (``__provider`` is never
sent). During preview an unknown value arrives as a sentinel string; reading it through
``args.props`` raises ``UnknownValueError``, which the SDK turns into an advisory "can't run policy
during preview" note. The policies below read only what their verdict needs, so an unknown
``tenantId`` (a tenant created in the same run) never stops a key policy.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

# The pack's environment must have its requirements: say how to get them, not a bare ModuleNotFoundError.
_MISSING = [m for m in ("pulumi_policy", "pulumi_imburse") if importlib.util.find_spec(m) is None]
if _MISSING:
    sys.exit(f"imburse-guardrails: not installed for {sys.executable}: {', '.join(_MISSING)}. Install the "
             "pack's requirements in its directory: python3 -m venv venv && venv/bin/pip install -r requirements.txt "
             "(in a checkout of pulumi-imburse: venv/bin/pip install -e .. -r requirements.txt)")

import grpc
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

from pulumi_imburse.keys.deliver import STORE_OUTPUTS
from pulumi_imburse.plugin.schema import ROTATING_KEY_TOKEN as NATIVE_ROTATING_KEY_TYPE
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN as NATIVE_KEY_TYPE
from pulumi_imburse.plugin.schema import TENANT_TOKEN as NATIVE_TENANT_TYPE
from pulumi_imburse.roles import LEGACY_ROLE_CODES, TENANT_ADMIN, TENANT_ROLES
from pulumi_imburse.rotating_key import TYPE_TOKEN as ROTATING_KEY_TYPE
from pulumi_imburse.stores.destination import PROPERTY as DESTINATION_PROPERTY
from pulumi_imburse.stores.destination import STATE as STATE_DESTINATION
from pulumi_imburse.stores.destination import STORE_TYPES
from pulumi_imburse.tenant import TYPE_TOKEN as TENANT_TYPE
from pulumi_imburse.tenant_key import TYPE_TOKEN as TENANT_KEY_TYPE
from pulumi_imburse.tenant_key import is_generated_name
from pulumi_imburse.validation import check_tenant_roles

PACK_NAME: Final = "imburse-guardrails"
STACK_TYPE: Final = "pulumi:pulumi:Stack"
"""The root stack resource; its outputs are the stack's exports."""

ROTATING_KEY_TYPES: Final = frozenset({ROTATING_KEY_TYPE, NATIVE_ROTATING_KEY_TYPE})
"""Key types that keep their previous key for a grace period after a rotation (``graceDays``): the dynamic
``RotatingTenantKey`` and the provider plugin's ``imburse:index:RotatingTenantKey``."""
KEY_TYPES: Final = frozenset({TENANT_KEY_TYPE, NATIVE_KEY_TYPE, *ROTATING_KEY_TYPES})
"""Resource types that are tenant API keys: every key policy applies to each (the dynamic resources' types and
the provider plugin's ``imburse:index:TenantKey`` and ``imburse:index:RotatingTenantKey``)."""
TENANT_TYPES: Final = frozenset({TENANT_TYPE, NATIVE_TENANT_TYPE})
"""Resource types that are tenants: the dynamic ``Tenant`` and the plugin's ``imburse:index:Tenant``."""
SECRET_KEY_OUTPUTS: Final = ("privateKey", "previousPrivateKey")
"""A key resource's outputs that hold a private key (``""`` when the key has a destination)."""
REFERENCE_OUTPUTS: Final = STORE_OUTPUTS
"""A key resource's outputs that point at its private key in a secret store (a key with a destination):
``secretReference`` (the secret's ARN or Vault path), ``secretVersion`` (the store's version id),
``privateKeyFingerprint`` (``sha256:<hex>`` of the private key). None of them is secret."""
STORE_DESTINATIONS: Final = STORE_TYPES
"""The destination ``type`` values that deliver a key's private key to a secret store instead of the state
(``aws-secretsmanager``, ``vault-kv2``); ``state``, or no destination, keeps it in the state."""

DEFAULT_MAX_ROLES: Final = 4
DEFAULT_MAX_ROTATION_DAYS: Final = 90
DEFAULT_MAX_KEYS_PER_TENANT: Final = 10
DEFAULT_MIN_GRACE_DAYS: Final = 1
DEFAULT_PRIVATE_KEY_NAMES: Final = ("privateKey",)
MIN_PRIVATE_KEY_LENGTH: Final = 16
"""Shorter strings are never treated as a private key when looking for one inside an output."""

_UNKNOWNS: Final = frozenset({
    UNKNOWN_BOOLEAN_VALUE, UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE, UNKNOWN_ARCHIVE_VALUE, UNKNOWN_OBJECT_VALUE,
})


# --------------------------------------------------------------------------------------------------
# Reading values that may be unknown during preview
# --------------------------------------------------------------------------------------------------

def _get(props: Mapping[str, Any], key: str) -> tuple[Any, UnknownValueError | None]:
    """``(value, None)``, or ``(None, error)`` when the value is unknown (preview)."""
    try:
        return props.get(key), None
    except UnknownValueError as e:
        return None, e


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _known_items(seq: Sequence[Any]) -> tuple[list[Any], UnknownValueError | None]:
    """The known elements of ``seq`` and the error of its first unknown element, if any."""
    items: list[Any] = []
    unknown: UnknownValueError | None = None
    for i in range(len(seq)):
        try:
            items.append(seq[i])
        except UnknownValueError as e:
            unknown = unknown or e
    return items, unknown


def _roles(props: Mapping[str, Any]) -> tuple[Any, list[Any], UnknownValueError | None]:
    """``(raw roles, known roles, unknown error)``; raises when the whole list is unknown."""
    raw, unknown = _get(props, "roles")
    if unknown is not None:
        raise unknown
    if not _is_list(raw):
        return raw, [], None
    known, unknown = _known_items(raw)
    return raw, known, unknown


def _config_int(config: Mapping[str, Any], key: str, default: int) -> int:
    # The engine sends policy config as a protobuf Struct, so integers arrive as floats (4.0).
    value = config.get(key, default)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _config_strings(config: Mapping[str, Any], key: str, default: Sequence[str] = ()) -> list[str]:
    value = config.get(key, list(default))
    return [str(v) for v in value] if _is_list(value) else list(default)


def _generated_name(props: Mapping[str, Any]) -> bool:
    """Whether the key's ``name`` is one the provider generated (``<namePrefix>-<random hex>``).

    A generated name changes with every preview of a key not created yet, so messages never
    ask a user to copy it anywhere.
    """
    name, _ = _get(props, "name")
    prefix, _ = _get(props, "namePrefix")
    return isinstance(name, str) and isinstance(prefix, str) and is_generated_name(name, prefix)


def _key_label(args: ResourceValidationArgs) -> str:
    """``TenantKey '<resource name>'`` (or the key's own type), with the key's name when it was given explicitly."""
    kind = args.resource_type.rsplit(":", 1)[-1]
    name, _ = _get(args.props, "name")
    if isinstance(name, str) and name and name != args.name and not _generated_name(args.props):
        return f"{kind} {args.name!r} (key name {name!r})"
    return f"{kind} {args.name!r}"


# --------------------------------------------------------------------------------------------------
# Resource policies on TenantKey (inputs)
# --------------------------------------------------------------------------------------------------

def _no_tenant_admin(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    _raw, known, unknown = _roles(args.props)
    if not any(LEGACY_ROLE_CODES.get(r, r) == TENANT_ADMIN for r in known if isinstance(r, str)):
        if unknown is not None:
            raise unknown
        return
    allowed = set(_config_strings(args.get_config(), "allowedKeys"))
    if args.name in allowed or args.urn in allowed:
        return
    name, name_unknown = _get(args.props, "name")
    if isinstance(name, str) and name in allowed:
        return
    if name_unknown is not None and allowed:
        raise name_unknown  # the allowlist may name this key once its name is known
    report_violation(
        f"{_key_label(args)} has the role {TENANT_ADMIN!r}, which lets whoever holds the key manage "
        f"the tenant and mint more keys. Grant only the roles the key needs instead; if self-service "
        f"is deliberate, add its resource name {args.name!r} (or its URN {args.urn!r}) to allowedKeys "
        f"in the policy config of tenant-key-no-tenant-admin.",
        None,
    )


def _known_roles(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    raw, known, unknown = _roles(args.props)
    value = known if _is_list(raw) else raw
    if unknown is not None and not known:
        raise unknown  # an all-unknown list may well be valid once known
    problems = [p.reason for p in check_tenant_roles("roles", value)]
    allowed = _config_strings(args.get_config(), "allowedRoles", TENANT_ROLES)
    for role in known:
        if isinstance(role, str) and role in LEGACY_ROLE_CODES:
            problems.append(f"{role!r} is a legacy role code: write {LEGACY_ROLE_CODES[role]!r} instead")
        elif isinstance(role, str) and role in TENANT_ROLES and role not in allowed:
            problems.append(f"{role!r} is not allowed in this stack (allowedRoles: {', '.join(allowed)})")
    if problems:
        report_violation(
            f"{_key_label(args)} has invalid roles: " + "; ".join(problems)
            + ". Fix: list at least one role, each one of the tenant roles named above.",
            None,
        )
    elif unknown is not None:
        raise unknown


def _max_roles(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    raw, known, unknown = _roles(args.props)
    if not _is_list(raw):
        return  # tenant-key-known-roles reports a malformed list
    limit = _config_int(args.get_config(), "maxRoles", DEFAULT_MAX_ROLES)
    distinct = sorted({r for r in known if isinstance(r, str)})
    if len(distinct) > limit:
        report_violation(
            f"{_key_label(args)} has {len(distinct)} roles ({', '.join(distinct)}), more than maxRoles "
            f"{limit}. A broad key should be a visible choice: split it into narrower keys, one per "
            f"job, or raise maxRoles in the policy config of tenant-key-max-roles.",
            None,
        )
    elif unknown is not None and len(raw) > limit:
        raise unknown


def _rotation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    keepers, keepers_unknown = _get(args.props, "keepers")
    if isinstance(keepers, Mapping) and len(keepers) > 0:
        return
    limit = _config_int(args.get_config(), "maxRotationDays", DEFAULT_MAX_ROTATION_DAYS)
    days, days_unknown = _get(args.props, "rotationDays")
    if isinstance(days, (int, float)) and not isinstance(days, bool):
        if days <= limit:
            return
        if keepers_unknown is not None:
            raise keepers_unknown
        report_violation(
            f"{_key_label(args)} rotates every {days:g} days, more than maxRotationDays {limit}. "
            f"Set rotationDays: {limit} (or less), or add keepers that change whenever the key must "
            f"rotate.",
            None,
        )
        return
    for unknown in (days_unknown, keepers_unknown):
        if unknown is not None:
            raise unknown
    report_violation(
        f"{_key_label(args)} never rotates. Add rotationDays: {limit} (or less), or keepers "
        f"(e.g. {{\"rotatedOn\": \"2025-01\"}}) that you change when the key must rotate.",
        None,
    )


def _grace_period(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    minimum = _config_int(args.get_config(), "minGraceDays", DEFAULT_MIN_GRACE_DAYS)
    if minimum <= 0:
        return
    fix = (f"or set minGraceDays in the policy config of tenant-key-grace-period (now {minimum}) to 0 if every "
           "application reloads its key at once.")
    if args.resource_type in ROTATING_KEY_TYPES:
        grace, unknown = _get(args.props, "graceDays")
        if unknown is not None:
            raise unknown
        if isinstance(grace, (int, float)) and not isinstance(grace, bool) and grace < minimum:
            report_violation(
                f"{_key_label(args)} keeps its previous key {grace:g} days after a rotation, less than minGraceDays "
                f"{minimum}: applications get less time to move to the new key. Set graceDays: {minimum} (or more), "
                + fix, None)
        return
    keepers, keepers_unknown = _get(args.props, "keepers")
    days, days_unknown = _get(args.props, "rotationDays")
    if not ((isinstance(keepers, Mapping) and len(keepers) > 0) or isinstance(days, (int, float))):
        for unknown in (keepers_unknown, days_unknown):
            if unknown is not None:
                raise unknown
        return  # never rotates: tenant-key-rotation's concern
    report_violation(
        f"{_key_label(args)} rotates with no grace period: each rotation revokes the old key in the same update "
        "that creates the new one, so an application still holding it fails until it picks up the new key. "
        f"Declare it as a RotatingTenantKey with grace_days of at least {minimum} (in stack config: graceDays), which "
        "keeps the previous key working that long after a rotation, " + fix, None)


def _destination(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in KEY_TYPES:
        return
    exempt = set(_config_strings(args.get_config(), "exemptKeys"))
    if args.name in exempt or args.urn in exempt:
        return
    # The provider's Check has applied the stack-wide default (imburse:destination): the inputs seen here carry the
    # key's resolved destination. Only its type decides; the rest (secretId, path...) may be unknown in a preview.
    destination, unknown = _get(args.props, DESTINATION_PROPERTY)
    if unknown is not None:
        raise unknown
    kind: Any = None
    if isinstance(destination, Mapping):
        kind, unknown = _get(destination, "type")
        if unknown is not None:
            raise unknown
    if kind in STORE_DESTINATIONS:
        return
    name, name_unknown = _get(args.props, "name")
    if isinstance(name, str) and name in exempt:
        return
    if name_unknown is not None and exempt:
        raise name_unknown  # the exemption list may name this key once its name is known
    if destination is None:
        what = "has no destination"
    elif kind == STATE_DESTINATION:
        what = f"has the destination type {STATE_DESTINATION!r}"
    elif kind is None:
        what = "has a destination without a type"
    else:
        what = f"has a destination of type {kind!r}, which is not a secret store"
    stores = " or ".join(map(repr, STORE_DESTINATIONS))
    report_violation(
        f"{_key_label(args)} {what}, so its private key is kept in the Pulumi state (encrypted) and in its "
        f"privateKey output. Give the key a destination of type {stores} (its destination input), or give every "
        f"key of the stack one with the provider config imburse:destination (e.g. {{\"type\": \"vault-kv2\", "
        f"\"path\": \"imburse/{{tenantId}}/{{resourceName}}\"}}); the key then outputs only a reference to the stored "
        f"secret. If this key must keep its private key in the state, add its resource name "
        f"{args.name!r} (or its URN {args.urn!r}) to exemptKeys in the policy config of tenant-key-destination.",
        None,
    )


# --------------------------------------------------------------------------------------------------
# Stack policies (outputs of every resource, at the end of the run)
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Secret:
    """A value the engine sent as a secret (``{sig: SecretSig, value: ...}``)."""

    value: Any


class _Unknown:
    """A value the engine does not know yet (preview)."""


_UNKNOWN: Final = _Unknown()

_capture = threading.local()

Handler = Callable[[Any, Any], Any]
"""A gRPC handler of the analyzer service: ``(request, context) -> response``."""


def _from_proto(value: Any) -> Any:
    """A protobuf ``Struct``/``ListValue``/``Value`` as plain Python (what ``MessageToDict`` gives)."""
    if hasattr(value, "fields"):  # Struct
        return {k: _from_proto(v) for k, v in value.fields.items()}
    if hasattr(value, "values"):  # ListValue
        return [_from_proto(v) for v in value.values]
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _from_proto(value.struct_value)
    if kind == "list_value":
        return _from_proto(value.list_value)
    return None if kind in (None, "null_value") else getattr(value, kind)


def _secret_aware(value: Any) -> Any:
    """A JSON value from the wire with secrets as :class:`_Secret` and unknowns as ``_UNKNOWN``."""
    if isinstance(value, str):
        return _UNKNOWN if value in _UNKNOWNS else value
    if isinstance(value, list):
        return [_secret_aware(v) for v in value]
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return _Secret(_secret_aware(value.get("value")))
        return {k: _secret_aware(v) for k, v in value.items()}
    return value


def _secret_view(analyze_stack: Handler) -> Handler:
    """``AnalyzeStack`` keeping a secret-aware copy of its request for the stack policies.

    The policy SDK unwraps secrets before a policy sees ``args.resources`` (pulumi-policy issue
    #241: a policy cannot tell whether a value is secret), yet the engine does send them as secrets.
    ``no-plaintext-private-key-output`` needs that distinction, so this records, per URN, the
    properties exactly as the engine sent them, for the policies the SDK runs in this same thread.
    """

    @functools.wraps(analyze_stack)
    def handler(request: Any, context: Any) -> Any:
        _capture.views = {
            r.urn: _secret_aware(_from_proto(r.properties)) for r in request.resources
        }
        try:
            return analyze_stack(request, context)
        finally:
            _capture.views = None

    return handler


def _normalize_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _leaves(value: Any, path: str = "", keys: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """``(path, keys on the path, value)`` for each value not inside a secret (secrets are fine)."""
    if isinstance(value, (_Secret, _Unknown)):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else k, (*keys, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]", keys)
    else:
        yield path, keys, value


def _no_plaintext_private_key(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    views: dict[str, Any] | None = getattr(_capture, "views", None)
    if views is None:
        raise RuntimeError(f"{PACK_NAME}: the secret-aware view of AnalyzeStack is missing: this pulumi-policy "
                           "version does not serve the pack's checks (_install_checks); install the version range "
                           "in policy/requirements.txt")
    names = {_normalize_name(n) for n in _config_strings(args.get_config(), "privateKeyNames",
                                                          DEFAULT_PRIVATE_KEY_NAMES)}
    names.discard("")
    private_keys: dict[str, str] = {}
    references: set[str] = set()
    for r in args.resources:
        if r.resource_type not in KEY_TYPES:
            continue
        for output in SECRET_KEY_OUTPUTS:
            value = views.get(r.urn, {}).get(output)
            value = value.value if isinstance(value, _Secret) else value
            if isinstance(value, str) and len(value) >= MIN_PRIVATE_KEY_LENGTH:
                private_keys[value] = r.urn
        for output in REFERENCE_OUTPUTS:
            value = views.get(r.urn, {}).get(output)
            value = value.value if isinstance(value, _Secret) else value
            if isinstance(value, str) and value:
                references.add(value)
    for stack in (r for r in args.resources if r.resource_type == STACK_TYPE):
        for path, keys, value in _leaves(views.get(stack.urn, {})):
            if not isinstance(value, str) or not value:
                continue
            owners = sorted({urn for pk, urn in private_keys.items() if pk in value})
            if owners:
                report_violation(
                    f"Stack output {path!r} holds the private key of {', '.join(owners)} as plain "
                    f"text, so it is stored unencrypted in the state and shown by `pulumi stack "
                    f"output`. Export the key's private_key Output as it is (it is secret) or wrap the "
                    f"value in pulumi.Output.secret(...); never pass it through Output.unsecret.",
                    stack.urn,
                )
            # A key's secretReference, secretVersion or privateKeyFingerprint is no secret, whatever its name.
            elif value not in references and any(n in _normalize_name(k) for k in keys for n in names):
                report_violation(
                    f"Stack output {path!r} is named like a private key but is plain text. Export it as "
                    f"a secret with pulumi.Output.secret(...), or rename it if it is not a key "
                    f"(names checked: privateKeyNames in the policy config).",
                    stack.urn,
                )


def _tenant_label(tenant: PolicyResource | None, fallback: str) -> str:
    return f"Tenant {tenant.name!r}" if tenant is not None else f"tenant {fallback}"


def _max_keys_per_tenant(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    limit = _config_int(args.get_config(), "maxKeysPerTenant", DEFAULT_MAX_KEYS_PER_TENANT)
    tenants_by_id: dict[str, PolicyResource] = {}
    tenants_by_urn: dict[str, PolicyResource] = {}
    for r in args.resources:
        if r.resource_type in TENANT_TYPES:
            tenants_by_urn[r.urn] = r
            tenant_id, _ = _get(r.props, "tenantId")
            if isinstance(tenant_id, str) and tenant_id:
                tenants_by_id[tenant_id] = r
    groups: dict[str, list[str]] = {}
    for r in args.resources:
        if r.resource_type not in KEY_TYPES:
            continue
        # The Tenant a key's tenantId came from identifies its tenant even while the id is unknown
        # (preview of a tenant created in the same run); otherwise group by the id itself.
        sources = [d for d in r.property_dependencies.get("tenantId", []) if d.resource_type in TENANT_TYPES]
        tenant_id, _ = _get(r.props, "tenantId")
        if len({d.urn for d in sources}) == 1:
            group = sources[0].urn
        elif isinstance(tenant_id, str) and tenant_id:
            group = tenants_by_id[tenant_id].urn if tenant_id in tenants_by_id else tenant_id
        else:
            continue  # unknown tenant: cannot be counted during this preview
        groups.setdefault(group, []).append(r.name)
    for group, keys in sorted(groups.items()):
        if len(keys) > limit:
            tenant = tenants_by_urn.get(group)
            report_violation(
                f"{_tenant_label(tenant, group)} has {len(keys)} TenantKeys, more than maxKeysPerTenant "
                f"{limit} ({', '.join(sorted(keys))}). Every key is a credential to audit and rotate: "
                f"remove keys that are no longer used, share one key per job, or raise "
                f"maxKeysPerTenant in the policy config of max-keys-per-tenant.",
                tenant.urn if tenant is not None else None,
            )


def _tenants_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    exempt = set(_config_strings(args.get_config(), "exemptTenants"))
    for r in args.resources:
        if r.resource_type not in TENANT_TYPES or r.opts.protect or r.name in exempt or r.urn in exempt:
            continue
        report_violation(
            f"Tenant {r.name!r} is not protected: a mistaken delete or replace would delete the tenant "
            f"and every key in it from Imburse. Add opts=pulumi.ResourceOptions(protect=True) (or run "
            f"`pulumi state protect '{r.urn}'`), or list it in exemptTenants in the policy config.",
            r.urn,
        )


# --------------------------------------------------------------------------------------------------
# The pack
# --------------------------------------------------------------------------------------------------

def _names_schema(description: str, default: Sequence[str] = ()) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "default": list(default),
            "description": description}


POLICIES: Final[list[Policy]] = [
    ResourceValidationPolicy(
        name="tenant-key-no-tenant-admin",
        display_name="No tenant-admin keys unless allowed",
        description=f"A TenantKey must not have the {TENANT_ADMIN!r} role (self-service key minting) "
                    "unless its resource name, URN or explicit key name is in allowedKeys.",
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={
            "allowedKeys": _names_schema(
                "Keys that may have tenant-admin: Pulumi resource names, URNs, or key names given "
                "explicitly (a generated key name changes until the key exists)."),
        }),
        validate=_no_tenant_admin,
    ),
    ResourceValidationPolicy(
        name="tenant-key-known-roles",
        display_name="Known tenant roles only",
        description="A TenantKey must have at least one role, and every role must be a tenant role "
                    "allowed in this stack.",
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={
            "allowedRoles": {"type": "array", "items": {"type": "string", "enum": list(TENANT_ROLES)},
                             "minItems": 1, "default": list(TENANT_ROLES),
                             "description": "Tenant roles a key may have in this stack (default: all)."},
        }),
        validate=_known_roles,
    ),
    ResourceValidationPolicy(
        name="tenant-key-max-roles",
        display_name="Narrow keys",
        description="A TenantKey should have at most maxRoles roles, so a broad key is a visible choice.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "maxRoles": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_ROLES,
                         "description": "Most distinct roles one key may have."},
        }),
        validate=_max_roles,
    ),
    ResourceValidationPolicy(
        name="tenant-key-rotation",
        display_name="Keys rotate",
        description="A TenantKey should rotate: rotationDays at most maxRotationDays, or keepers set.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "maxRotationDays": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_ROTATION_DAYS,
                                "description": "Longest rotationDays accepted when no keepers are set."},
        }),
        validate=_rotation,
    ),
    ResourceValidationPolicy(
        name="tenant-key-grace-period",
        display_name="Rotation without downtime",
        description="A key that rotates should keep its previous key working for a grace period of at least "
                    "minGraceDays (a RotatingTenantKey with graceDays), so applications can move to the new key.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "minGraceDays": {"type": "integer", "minimum": 0, "default": DEFAULT_MIN_GRACE_DAYS,
                             "description": "Fewest days a rotated-out key should keep working (0: no check)."},
        }),
        validate=_grace_period,
    ),
    ResourceValidationPolicy(
        name="tenant-key-destination",
        display_name="Private keys out of state",
        description="A TenantKey should have a destination (type " + " or ".join(STORE_DESTINATIONS) + ", its own "
                    "or the provider's imburse:destination), so its private key goes to a secret store instead of "
                    "the Pulumi state.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "exemptKeys": _names_schema(
                "Keys whose private key may stay in the state: Pulumi resource names, URNs, or key names given "
                "explicitly."),
        }),
        validate=_destination,
    ),
    StackValidationPolicy(
        name="no-plaintext-private-key-output",
        display_name="No plain-text private keys in stack outputs",
        description="No stack output may expose a TenantKey private key as plain text; export it as "
                    "a secret.",
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties={
            "privateKeyNames": _names_schema(
                "Output names whose values must be secret whatever they hold (matched case-insensitively, "
                "ignoring '-' and '_', as part of any key on the output's path).", DEFAULT_PRIVATE_KEY_NAMES),
        }),
        validate=_no_plaintext_private_key,
    ),
    StackValidationPolicy(
        name="max-keys-per-tenant",
        display_name="Few keys per tenant",
        description="A tenant should have at most maxKeysPerTenant TenantKeys in the stack.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "maxKeysPerTenant": {"type": "integer", "minimum": 1, "default": DEFAULT_MAX_KEYS_PER_TENANT,
                                 "description": "Most TenantKeys one tenant may have."},
        }),
        validate=_max_keys_per_tenant,
    ),
    StackValidationPolicy(
        name="tenants-protected",
        display_name="Tenants are protected",
        description="Every Tenant should have protect set, since deleting it deletes it in Imburse.",
        enforcement_level=EnforcementLevel.ADVISORY,
        config_schema=PolicyConfigSchema(properties={
            "exemptTenants": _names_schema("Tenants (Pulumi resource names or URNs) that may stay "
                                           "unprotected, e.g. in a throwaway stack."),
        }),
        validate=_tenants_protected,
    ),
]


def _config_problems(policy_config: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What in a policy config (``{policy: properties}``, as ``Configure`` gets it) this pack does not know.

    The engine checks each property it knows against the policy's schema, but passes unknown policy names and
    unknown properties on without a word, so a typo (``maxRolez``) would silently leave the default in force.
    """
    schemas = {p.name: p.config_schema.properties if p.config_schema else {} for p in POLICIES}
    names = ", ".join(schemas)
    schemas["all"] = {}  # every policy's enforcement level at once
    problems = []
    for name, properties in sorted(policy_config.items()):
        if name not in schemas:
            problems.append(f"{name!r} is not a policy of {PACK_NAME} (its policies: {names}; or all)")
            continue
        unknown = sorted(set(properties) - set(schemas[name]))
        if unknown:
            problems.append(f"{name}: unknown {'property' if len(unknown) == 1 else 'properties'} "
                            f"{', '.join(map(repr, unknown))} (it takes: "
                            f"{', '.join([*schemas[name], 'enforcementLevel'])})")
    return problems


def _config_check(configure: Handler) -> Handler:
    """``Configure`` refusing a policy config that names a policy or a property this pack does not have.

    See :func:`_config_problems`; the engine reports the refusal as ``configuring policy pack ...: <message>``
    and runs nothing.
    """

    @functools.wraps(configure)
    def handler(request: Any, context: Any) -> Any:
        config = {k: _from_proto(v.properties) for k, v in request.policyConfig.items()}
        problems = _config_problems(config)
        if problems:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"invalid policy config for {PACK_NAME}: " + "; ".join(problems))
        return configure(request, context)

    return handler


def _install_checks() -> None:
    """Serve the SDK's analyzer with :func:`_config_check` and :func:`_secret_view` around two of its calls.

    pulumi-policy has no public hook for either (a policy sees neither the whole config nor which values are
    secret), so the pack takes the one seam whose names are public: ``PolicyPack(...)`` registers its servicer
    with ``add_AnalyzerServicer_to_server`` of ``pulumi.runtime.proto.analyzer_pb2_grpc``, the gRPC code
    generated from Pulumi's ``analyzer.proto``. Wrapped here, it replaces the servicer's ``Configure`` and
    ``AnalyzeStack`` (the protocol's method names) before the server starts. That ``PolicyPack`` registers
    this way, and runs the stack policies in the thread serving the call, is how pulumi-policy works, not a
    promise: ``policy/requirements.txt`` pins the versions tested, and ``tests/policy/test_sdk_boundary.py``
    fails if the installed one stops doing it. Must run before ``PolicyPack(...)``.
    """
    register = analyzer_pb2_grpc.add_AnalyzerServicer_to_server

    def add_servicer(servicer: Any, server: Any) -> None:
        servicer.Configure = _config_check(servicer.Configure)
        servicer.AnalyzeStack = _secret_view(servicer.AnalyzeStack)
        register(servicer, server)

    analyzer_pb2_grpc.add_AnalyzerServicer_to_server = add_servicer


if __name__ == "__main__":
    _install_checks()
    PolicyPack(
        name=PACK_NAME,
        display_name="Imburse least-privilege guardrails",
        description="Least-privilege guardrails for Imburse tenants and tenant API keys.",
        enforcement_level=EnforcementLevel.ADVISORY,
        policies=POLICIES,
    )
