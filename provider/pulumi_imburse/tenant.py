"""``Tenant``: an Imburse tenant (a company, department or organisation inside the account).

Every input changes in place; nothing forces a replacement. Deleting a tenant deletes it in
Imburse together with all its keys, so ``protect=True`` is wise for tenants. ``adoptTenantId`` takes
over an existing tenant at the first create instead of making one; changing or removing it later
changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, overload

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from . import shapes
from ._adopt import (
    IMPORT_MARK,
    AdoptionError,
    check_adopt_id,
    differences,
    import_problems,
    imported_unreconciled,
    refuse,
    refuse_import_differences,
)
from ._base import (
    ImburseProvider,
    WireNames,
    declared_inputs,
    document_init,
    is_unknown,
    split_args,
    strip_provider,
)
from .errors import NotFoundError, OutcomeUnknownError
from .models import ADDRESS_FIELDS
from .models import Tenant as TenantModel
from .refresh import tenant_or_gone
from .validation import Problem, check_address, check_name, check_unknown, normalize_guid

TYPE_TOKEN: Final = "pulumi-python:dynamic/imburse:Tenant"

SHAPE: Final = shapes.TENANT
INPUTS: Final = SHAPE.inputs(create_only=False)
CREATE_ONLY: Final = SHAPE.create_only()
"""Inputs read by the first create only: never diffed, never in the outputs."""
OUTPUTS: Final = SHAPE.outputs()
PY_NAMES: Final = SHAPE.py_names()
"""``{wire name: Python name}`` of the properties whose names differ (the address fields' too)."""


class TenantAddressArgs:
    """A tenant's postal address. Every field is optional free text."""

    def __init__(
        self,
        street_address: pulumi.Input[str] | None = None,
        extended_street_address: pulumi.Input[str] | None = None,
        locality: pulumi.Input[str] | None = None,
        region: pulumi.Input[str] | None = None,
        post_code: pulumi.Input[str] | None = None,
        country: pulumi.Input[str] | None = None,
    ) -> None:
        self.street_address = street_address
        self.extended_street_address = extended_street_address
        self.locality = locality
        self.region = region
        self.post_code = post_code
        self.country = country

    def to_wire(self) -> dict[str, pulumi.Input[str]]:
        """The API's camelCase form, without unset fields."""
        values = (self.street_address, self.extended_street_address, self.locality, self.region,
                  self.post_code, self.country)
        return {k: v for k, v in zip(ADDRESS_FIELDS, values, strict=True) if v is not None}


class TenantArgs:
    """The inputs of a :class:`Tenant`."""

    def __init__(
        self,
        name: pulumi.Input[str],
        address: TenantAddressArgs | pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        adopt_tenant_id: pulumi.Input[str] | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.adopt_tenant_id = adopt_tenant_id


class Tenant(WireNames, Resource, module="imburse", name="Tenant"):
    """An Imburse tenant. The resource id is the tenant id.

    Nothing forces a replacement. Deleting the resource deletes the tenant and every key in it:
    declare tenants with ``opts=pulumi.ResourceOptions(protect=True)``.

    To take over an existing tenant, declare it as it is with ``adopt_tenant_id="<tenantId>"``: the
    first create reads it instead of creating one (and refuses, changing nothing, if its name or address
    differ). After that it is managed like any other tenant; destroy deletes it. The ``import_`` resource
    option does not work for dynamic resources (the engine's import calls Read without the provider,
    pulumi/pulumi#16175); use ``adopt_tenant_id``.
    """

    _py_names = PY_NAMES

    name: pulumi.Output[str]
    address: pulumi.Output[dict[str, str]]
    tenant_id: pulumi.Output[str]
    account_id: pulumi.Output[str]
    adopt_tenant_id: pulumi.Output[str | None]

    @overload
    def __init__(self, resource_name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ...

    @overload
    def __init__(
        self,
        resource_name: str,
        opts: pulumi.ResourceOptions | None = None,
        *,
        name: pulumi.Input[str],
        address: TenantAddressArgs | pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        adopt_tenant_id: pulumi.Input[str] | None = None,
    ) -> None:
        ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        args_obj, opts = split_args(TenantArgs, args, kwargs)
        address = args_obj.address
        if isinstance(address, TenantAddressArgs):
            address = address.to_wire()
        # Keys are the Python names; translate_input_property gives the engine the wire names
        # (nested address keys included, so snake_case and camelCase address keys both work).
        props = {**SHAPE.props(args_obj, resource_name), "address": address}
        super().__init__(TenantProvider(), resource_name, props, opts)



def _full_address(address: Any) -> dict[str, str]:
    address = address if isinstance(address, Mapping) else {}
    return {k: str(address.get(k) or "") for k in ADDRESS_FIELDS}


document_init(Tenant, TenantArgs, SHAPE)


class TenantProvider(ImburseProvider):
    """The dynamic provider behind :class:`Tenant`. Check and Diff make no API calls."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = declared_inputs(news, (*INPUTS, *CREATE_ONLY), OUTPUTS)
        problems = check_unknown(inputs, (*INPUTS, *CREATE_ONLY))
        if not is_unknown(inputs.get("name")):
            problems += check_name("name", inputs.get("name"), required=True)
        if not is_unknown(inputs.get("address")):
            problems += check_address("address", inputs.get("address"))
            if not problems:
                inputs["address"] = _full_address(inputs.get("address"))
                if not any(inputs["address"].values()):
                    del inputs["address"]  # no address: the normal form is none at all, as Read gives it
        if not is_unknown(inputs.get("adoptTenantId")):
            problems += check_adopt_id("adoptTenantId", inputs.get("adoptTenantId"))
            if not problems and isinstance(inputs.get("adoptTenantId"), str):
                inputs["adoptTenantId"] = normalize_guid(inputs["adoptTenantId"])  # the service's form
        if inputs.get("adoptTenantId") is None:
            inputs.pop("adoptTenantId", None)
        if not problems and _olds and imported_unreconciled(strip_provider(_olds)):
            # The old inputs came straight from an import refused before (see _adopt.IMPORT_MARK).
            problems += _import_problems(_olds, inputs)
        return CheckResult(inputs, self.failures(problems))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if self.ledger.tenant_adoptions.imported_here((_id.lower(),)):
            # Imported in this deployment: taken over as it is, or refused (see _adopt).
            refuse_import_differences(f"tenant {_id}", _import_pairs(olds, news), _IMPORT_HINT)
        changed = [
            k for k in INPUTS
            if is_unknown(news.get(k))
            or (_full_address(olds.get(k)) if k == "address" else olds.get(k))
            != (_full_address(news.get(k)) if k == "address" else news.get(k))
        ]
        return DiffResult(changes=bool(changed), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["name"])
        if props.get("adoptTenantId"):
            # Always honoured: nothing in Diff replaces a tenant, and a replacement the engine forces
            # (`--replace`) takes the same tenant over again, which delete() then leaves alone.
            return self._adopt(str(props["adoptTenantId"]), props)
        try:
            tenant = self.client.create_tenant(name, _full_address(props.get("address")))
        except OutcomeUnknownError as exc:
            # Unlike keys, tenants carry neither a unique generated name nor a creation time, so the one
            # this request may have made cannot be told apart from an existing namesake. Nothing is
            # guessed or deleted: the user is told what exists and how to adopt it.
            same_name = [t.tenant_id for t in self.client.list_tenants() if t.name == name]
            found = (f"tenants named {name!r} now in the account: {', '.join(same_name)}. If one of them was "
                     "made by this request, adopt it with adopt_tenant_id=\"<tenantId>\" (not import_: the engine "
                     "cannot import dynamic resources, pulumi/pulumi#16175), or delete it, then run the update "
                     "again" if same_name
                     else f"no tenant named {name!r} exists, so it was not created: run the update again")
            raise OutcomeUnknownError(f"creating tenant {name!r} may not have completed ({exc.message}); {found}",
                                      status=exc.status, method=exc.method, path=exc.path) from None
        return CreateResult(tenant.tenant_id, _outputs(tenant))

    def _adopt(self, tenant_id: str, props: dict[str, Any]) -> CreateResult:
        """Take over an existing tenant: read it, refuse (with no write) if it differs from the declaration."""
        try:
            tenant = self.client.get_tenant(tenant_id)
        except NotFoundError as exc:
            raise AdoptionError(
                f"cannot adopt tenant {tenant_id}: it does not exist in this account ({exc}). Check "
                "adopt_tenant_id, or remove it to create a new tenant.") from None
        live, declared = tenant.address.to_api(), _full_address(props.get("address"))
        diffs = differences([("name", tenant.name, props["name"]),
                             *((f"address.{k}", live[k], declared[k]) for k in ADDRESS_FIELDS)])
        if diffs:
            raise refuse(f"tenant {tenant_id}", diffs, "Declare the tenant as it is (address fields not given are "
                         "empty; change it after adopting it), or adopt another.")
        self.ledger.tenant_adoptions.record_adopted((tenant.tenant_id.lower(),))
        return CreateResult(tenant.tenant_id, _outputs(tenant))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        prior = strip_provider(props)
        if not prior:  # an import (Read with the id only)
            try:
                found: TenantModel | None = self.client.get_tenant(id_)
            except NotFoundError:
                found = None
        else:
            found = tenant_or_gone(self.client, id_, str(prior.get("accountId") or ""), f"Tenant {id_}")
        if found is None:
            return ReadResult("", {})  # none to import, or confirmed gone from its account: the engine drops it
        tenant = found
        if not prior:  # an import (Read with the id only): see diff()
            self.ledger.tenant_adoptions.record_imported((id_.lower(),))
        outs = _outputs(tenant)
        # The inputs as Check would give them for this tenant: an empty address is no address (so `pulumi refresh
        # --run-program` of a tenant declared without one shows no `-address` difference).
        inputs: dict[str, Any] = {k: outs[k] for k in INPUTS if k != "address" or any(outs[k].values())}
        if not prior or imported_unreconciled(prior):  # an import, or a refresh of one never accepted
            inputs[IMPORT_MARK] = id_
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        tenant = self.client.update_tenant(id_, str(news["name"]), _full_address(news.get("address")))
        return UpdateResult(_outputs(tenant))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        if self.ledger.tenant_adoptions.adopted_here((id_.lower(),)):
            # This update adopted the same tenant for the resource that replaces this one (`pulumi up
            # --replace` while adopt_tenant_id still names it): deleting it would delete it there too.
            self.warn(f"Tenant {id_}: not deleted, because this update adopted it again for the resource "
                            "that replaces it (adopt_tenant_id still names it). It stays, managed.")
            return
        try:
            self.client.delete_tenant(id_)
        except NotFoundError:
            pass  # already deleted: the goal is met


_IMPORT_HINT: Final = ("Declare the tenant as it is (address fields not given are empty; change it after importing "
                        "it), or import another.")


def _import_pairs(live: Mapping[str, Any], declared: Mapping[str, Any]) -> list[tuple[str, object, object]]:
    """``(property, live, declared)`` for what the service holds: the name and every address field."""
    return [("name", live.get("name"), declared.get("name")),
            *((f"address.{k}", _full_address(live.get("address"))[k], _full_address(declared.get("address"))[k])
              for k in ADDRESS_FIELDS if not is_unknown(declared.get("address")))]


def _import_problems(olds: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[Problem]:
    """Check's refusal of a declaration that differs from the tenant it imports (see :mod:`._adopt`)."""
    return import_problems(f"tenant {olds[IMPORT_MARK]}", _import_pairs(olds, inputs), _IMPORT_HINT)


def _outputs(tenant: TenantModel) -> dict[str, Any]:
    return {"name": tenant.name, "address": tenant.address.to_api(), "tenantId": tenant.tenant_id,
            "accountId": tenant.account_id}
