"""Tenants and keys declared from structured stack config, for GitOps and environment bootstrapping.

A stack file such as::

    config:
      my-project:tenants:
        acme:                                  # a tenant this stack creates
          name: Acme Payments Ltd
          address: {country: GB, locality: Leeds}
          protect: true
          keys:
            ci: {roles: [tenant-app-read], rotationDays: 90}
            checkout: {roles: [tenant-app-read], rotationDays: 90, graceDays: 7}   # rotates without downtime
        legacy:                                # a tenant that already exists, not managed here
          tenantId: 88fdb12a-14dc-419c-b74c-422e2c25cfe7
          keys:
            payouts: {roles: [tenant-payout-scheme-write], keepers: {epoch: "1"}}
            reports:                           # an existing key, taken over as it is
              roles: [tenant-transaction-read]
              adoptPublicKey: 3b0e6c1d-6f1a-4c8e-9a51-2d6f0f7f4e21
        globex:                                # an existing tenant, taken over and managed from now on
          name: Globex Payouts
          adoptTenantId: 5f1c2a8e-0b7d-4f59-a3c2-6e9d1b4a7c30

becomes one :class:`~pulumi_imburse.Tenant` per entry with a ``name`` and one
:class:`~pulumi_imburse.TenantKey` per key, via :func:`declare_from_config` and :func:`export`; a key with
``graceDays`` is a :class:`~pulumi_imburse.RotatingTenantKey` instead (a rotation keeps the previous key working
for that many days).
``adoptTenantId`` (on a tenant entry with ``name``) and ``adoptPublicKey`` (on a key) take over an
existing tenant or key at the first create instead of creating one; the declaration must match it
(see :class:`~pulumi_imburse.Tenant` and :class:`~pulumi_imburse.TenantKey`).
Config mistakes fail before any resource is registered, each named by its config path: the shape (unknown
fields, slugs), the values (checked by the same rules as the resources' Check: roles, GUIDs, names,
``rotationDays``, ``graceDays`` (less than ``rotationDays``), ``keepers``, ``protect`` must be ``true``/``false``),
``adoptPublicKey`` with ``graceDays`` (a rotating key makes its own keys), and two entries that would make the same
``TenantKey`` resource name (tenant ``a`` key ``b-c`` and tenant ``a-b`` key ``c`` both make ``a-b-c``).
A ``tenantId`` value is never shown in a message (it may come from a secret).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pulumi

from ._adopt import check_adopt_id
from .rotating_key import RotatingTenantKey, check_grace_period
from .shapes import TENANT
from .stores.destination import check_destination
from .tenant import Tenant
from .tenant_key import TenantKey
from .validation import (
    Problem,
    check_address,
    check_bool,
    check_guid,
    check_keepers,
    check_key_name,
    check_name,
    check_rotation_days,
    check_tenant_roles,
    normalize_guid,
)

TENANT_FIELDS: Final = ("name", "address", "protect", "tenantId", "keys", "adoptTenantId")
"""A tenant entry's fields: the ``Tenant`` inputs of :data:`~pulumi_imburse.shapes.TENANT` and the config's own
(``protect``, ``tenantId`` of a tenant not managed here, ``keys``); tests/unit/test_shapes.py holds them to it."""
KEY_FIELDS: Final = ("roles", "name", "keepers", "rotationDays", "protect", "adoptPublicKey", "graceDays",
                     "destination")
"""A key entry's fields: the inputs of :data:`~pulumi_imburse.shapes.TENANT_KEY` and
:data:`~pulumi_imburse.shapes.ROTATING_KEY` but ``tenantId`` (the entry's tenant), and ``protect``; in the order
the error messages list them."""
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class StackConfigError(ValueError):
    """The structured stack config does not describe tenants and keys; the message names the path."""


@dataclass
class DeclaredTenant:
    """What one config entry produced."""

    tenant_id: pulumi.Output[str] | str
    tenant: Tenant | None = None
    keys: dict[str, TenantKey | RotatingTenantKey] = field(default_factory=dict)


def declare_from_config(key: str = "tenants", config: pulumi.Config | None = None) -> dict[str, DeclaredTenant]:
    """Declare the tenants and keys in stack config ``<project>:<key>`` (see module docs)."""
    config = config or pulumi.Config()
    spec = config.get_object(key)
    if spec is None:
        raise StackConfigError(f"stack config {config.full_key(key)} is not set: it should map tenant slugs "
                               "to {name, address, keys} or {tenantId, keys}")
    return declare(spec, path=config.full_key(key))


def declare(spec: Any, *, path: str = "tenants") -> dict[str, DeclaredTenant]:
    """Declare the tenants and keys described by ``spec`` (the parsed structured config)."""
    tenants = _mapping(spec, path)
    _validate(tenants, path)
    declared: dict[str, DeclaredTenant] = {}
    for slug, entry in tenants.items():
        if "tenantId" in entry:
            result = DeclaredTenant(tenant_id=normalize_guid(str(entry["tenantId"])))
            parent_opts: dict[str, Any] = {}
        else:
            tenant = Tenant(
                slug,
                name=entry["name"],
                address=entry.get("address"),
                adopt_tenant_id=entry.get("adoptTenantId"),
                opts=pulumi.ResourceOptions(protect=entry.get("protect") is True),
            )
            result = DeclaredTenant(tenant_id=tenant.tenant_id, tenant=tenant)
            parent_opts = {"parent": tenant}
        for key_name, key_spec in (entry.get("keys") or {}).items():
            common: dict[str, Any] = {
                "tenant_id": result.tenant_id,
                "roles": key_spec["roles"],
                "name": key_spec.get("name"),
                "keepers": key_spec.get("keepers"),
                "rotation_days": key_spec.get("rotationDays"),
                "destination": key_spec.get("destination"),
                "opts": pulumi.ResourceOptions(protect=key_spec.get("protect") is True, **parent_opts),
            }
            if "graceDays" in key_spec:
                result.keys[key_name] = RotatingTenantKey(f"{slug}-{key_name}", grace_days=key_spec["graceDays"],
                                                          **common)
            else:
                result.keys[key_name] = TenantKey(f"{slug}-{key_name}", adopt_public_key=key_spec.get("adoptPublicKey"),
                                                  **common)
        declared[slug] = result
    return declared


def export(declared: Mapping[str, DeclaredTenant]) -> None:
    """Export ``tenantIds``, ``publicKeys``, ``keyRoles`` and (as one secret) ``privateKeys``.

    Keys are addressed as ``"<tenant>/<key>"``. A key with a ``destination`` has an empty private key here (its
    store holds it); ``secretReferences`` then says where, for every key (``None`` without a destination).
    With keys that rotate with a grace period (``graceDays``), also
    ``previousPublicKeys``, ``previousExpiresAt`` and (as one secret) ``previousPrivateKeys``, for those keys:
    the previous key of each while it still works after a rotation, else ``None``.
    """
    keys = {f"{slug}/{name}": k for slug, d in declared.items() for name, k in d.keys.items()}
    pulumi.export("tenantIds", {slug: d.tenant_id for slug, d in declared.items()})
    pulumi.export("publicKeys", {ref: k.public_key for ref, k in keys.items()})
    pulumi.export("keyRoles", {ref: k.roles for ref, k in keys.items()})
    pulumi.export("privateKeys", pulumi.Output.secret({ref: k.private_key for ref, k in keys.items()}))
    pulumi.export("secretReferences", {ref: k.secret_reference for ref, k in keys.items()})
    rotating = {ref: k for ref, k in keys.items() if isinstance(k, RotatingTenantKey)}
    if rotating:
        pulumi.export("previousPublicKeys", {ref: k.previous_public_key for ref, k in rotating.items()})
        pulumi.export("previousExpiresAt", {ref: k.previous_expires_at for ref, k in rotating.items()})
        pulumi.export("previousPrivateKeys",
                      pulumi.Output.secret({ref: k.previous_private_key for ref, k in rotating.items()}))


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise StackConfigError(f"{path} must be a map, got {type(value).__name__}")
    return value


def _entry(slug: Any, spec: Any, where: str, what: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """A config entry named by a slug: the slug's form, a map, only ``allowed`` fields."""
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise StackConfigError(f"{where}: {what} are lower-case letters, digits and '-'")
    fields = _mapping(spec, where)
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise StackConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return fields


def _validate(tenants: Mapping[str, Any], path: str) -> None:
    """Raise :class:`StackConfigError` for the first shape mistake, or for every value mistake at once."""
    problems: list[Problem] = []
    resources: dict[str, str] = {}
    """TenantKey resource name -> the config path of the key that makes it."""
    for slug, entry in tenants.items():
        where = f"{path}.{slug}"
        entry = _entry(slug, entry, where, "tenant slugs", TENANT_FIELDS)
        if ("name" in entry) == ("tenantId" in entry):
            raise StackConfigError(f"{where}: give either name (a tenant this stack creates) or tenantId "
                                   "(an existing tenant), not both or neither")
        if "tenantId" in entry and ("address" in entry or "protect" in entry or "adoptTenantId" in entry):
            raise StackConfigError(f"{where}: address, protect and adoptTenantId apply to tenants this stack "
                                   "manages (with name); tenantId names a tenant it does not manage")
        if "tenantId" in entry:
            problems += check_guid(f"{where}.tenantId", entry["tenantId"], show_value=False)
        else:
            problems += _of(f"Tenant {slug!r}",
                            check_name(f"{where}.name", entry["name"], required=True)
                            + check_address(f"{where}.address", _wire_address(entry.get("address")))
                            + check_bool(f"{where}.protect", entry.get("protect"))
                            + check_adopt_id(f"{where}.adoptTenantId", entry.get("adoptTenantId")))
        for key_name, key_spec in _mapping(entry.get("keys") or {}, f"{where}.keys").items():
            kwhere = f"{where}.keys.{key_name}"
            key_spec = _entry(key_name, key_spec, kwhere, "key names", KEY_FIELDS)
            if "roles" not in key_spec:
                raise StackConfigError(f"{kwhere}: roles is required (a list of tenant roles)")
            if "graceDays" in key_spec and "adoptPublicKey" in key_spec:
                raise StackConfigError(f"{kwhere}: adoptPublicKey and graceDays cannot be combined: a key with "
                                       "graceDays (a RotatingTenantKey) makes its own keys")
            resource = f"{slug}-{key_name}"
            rotating = "graceDays" in key_spec
            problems += _of(f"{'RotatingTenantKey' if rotating else 'TenantKey'} {resource!r}",
                            check_tenant_roles(f"{kwhere}.roles", key_spec["roles"])
                            + check_key_name(f"{kwhere}.name", key_spec.get("name"))
                            + check_keepers(f"{kwhere}.keepers", key_spec.get("keepers"))
                            + check_rotation_days(f"{kwhere}.rotationDays", key_spec.get("rotationDays"))
                            + check_bool(f"{kwhere}.protect", key_spec.get("protect"))
                            + check_adopt_id(f"{kwhere}.adoptPublicKey", key_spec.get("adoptPublicKey"))
                            + (check_grace_period(f"{kwhere}.graceDays", key_spec["graceDays"],
                                                  key_spec.get("rotationDays"), f"{kwhere}.rotationDays")
                               if rotating else [])
                            + _destination_problems(f"{kwhere}.destination", key_spec.get("destination")))
            if resource in resources:
                problems.append(Problem(kwhere, (
                    f"{resources[resource]} and {kwhere} would both be the TenantKey resource {resource!r} (a key's "
                    "resource name is '<tenant>-<key>'); rename one of them")))
            resources.setdefault(resource, kwhere)
    if problems:
        raise StackConfigError("\n".join(p.reason for p in problems))


def _destination_problems(where: str, destination: Any) -> list[Problem]:
    """A key entry's ``destination`` on its own: complete ones (with a ``type``) are checked here; one that only
    overrides fields of the provider-wide default (``imburse:destination``) is checked with it by the key's Check."""
    if destination is None:
        return []
    if not isinstance(destination, Mapping):
        return check_destination(where, destination)
    return check_destination(where, destination) if "type" in destination else []


def _of(resource: str, problems: list[Problem]) -> list[Problem]:
    """``problems`` with the resource the entry declares named at the end of each message."""
    return [Problem(p.property, f"{p.reason} (the {resource} resource)") for p in problems]


def _wire_address(address: Any) -> Any:
    """A config address with snake_case keys (``post_code``) in the API's camelCase, as ``Tenant`` takes both."""
    if not isinstance(address, Mapping):
        return address
    wire = {py: w for w, py in TENANT.py_names().items()}
    return {wire.get(k, k): v for k, v in address.items()}
