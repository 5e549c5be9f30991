"""Each resource's shape is declared once (``pulumi_imburse.shapes``); the typed Python signatures, the help text,
the stack config's field names and the schema's facts follow it (issue 16)."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

import pytest

from pulumi_imburse import declarative, rotating_key, shapes, tenant, tenant_key
from pulumi_imburse.plugin import schema

pytestmark = pytest.mark.unit

RESOURCES = [
    (tenant_key.TenantKey, tenant_key.TenantKeyArgs, shapes.TENANT_KEY),
    (rotating_key.RotatingTenantKey, rotating_key.RotatingTenantKeyArgs, shapes.ROTATING_KEY),
    (tenant.Tenant, tenant.TenantArgs, shapes.TENANT),
]
IDS = ["TenantKey", "RotatingTenantKey", "Tenant"]


def _params(fn: Any, *, skip: int) -> list[tuple[str, str, Any]]:
    return [(p.name, p.annotation, p.default) for p in list(inspect.signature(fn).parameters.values())[skip:]]


def _declared(shape: shapes.Shape) -> list[tuple[str, str, Any]]:
    return [(p.py, p.input_type, inspect.Parameter.empty if p.required else p.default) for p in shape.declared()]


@pytest.mark.parametrize(("resource", "args", "shape"), RESOURCES, ids=IDS)
def test_the_args_class_takes_the_declared_inputs(resource: type, args: type, shape: shapes.Shape) -> None:
    assert _params(args.__init__, skip=1) == _declared(shape)
    made = args(**{p.py: f"<{p.py}>" for p in shape.declared()})
    assert {p.py: getattr(made, p.py) for p in shape.declared()} == {p.py: f"<{p.py}>" for p in shape.declared()}


@pytest.mark.parametrize(("resource", "args", "shape"), RESOURCES, ids=IDS)
def test_the_keyword_overload_takes_the_declared_inputs(resource: type, args: type, shape: shapes.Shape) -> None:
    by_args, by_keywords = typing.get_overloads(resource.__init__)
    assert [n for n, _, _ in _params(by_args, skip=1)] == ["resource_name", "args", "opts"]
    assert _params(by_keywords, skip=3) == _declared(shape)


@pytest.mark.parametrize(("resource", "args", "shape"), RESOURCES, ids=IDS)
def test_the_output_attributes_are_the_declared_outputs(resource: type, args: type, shape: shapes.Shape) -> None:
    hints = {k: v for k, v in inspect.get_annotations(resource).items() if not k.startswith("_")}
    assert hints == {p.py: p.output_type for p in shape.rows}


@pytest.mark.parametrize(("resource", "args", "shape"), RESOURCES, ids=IDS)
def test_help_shows_each_declared_description(resource: type, args: type, shape: shapes.Shape) -> None:
    text = " ".join(inspect.getdoc(resource.__init__).split()) + " ".join(inspect.getdoc(resource).split())
    for p in shape.declared():
        assert f":param {p.py}: {p.doc}" in text
    for p in shape.rows:
        assert f"{p.py}: {p.output_type} {p.output_doc}" in text


def test_the_stack_configs_fields_are_the_declared_inputs() -> None:
    tenant_inputs = {p.wire for p in shapes.TENANT.declared()}
    assert set(declarative.TENANT_FIELDS) == tenant_inputs | {"protect", "tenantId", "keys"}
    key_inputs = {p.wire for s in (shapes.TENANT_KEY, shapes.ROTATING_KEY) for p in s.declared()} - {"tenantId"}
    assert set(declarative.KEY_FIELDS) == key_inputs | {"protect"}


def test_a_new_optional_key_input_is_one_row() -> None:
    """What one added row gives, with no other edit: the engine's inputs, the Python name, the constructor's
    properties, what Diff does on a change, help() and the schema's description and type. The rest of adding
    it: its rule (a KEY_RULES entry) and four typed lines (the Args parameter and its assignment, the keyword
    overload's parameter, the output annotation), which the tests above hold to the row."""
    row = shapes.Prop("expiryDays", "expiry_days", "integer", input_type="pulumi.Input[int] | None",
                      output_type="pulumi.Output[int | None]", doc="days after which ``rotation_days`` is ignored.",
                      output_doc="The expiry, in days.")
    shape = dataclasses.replace(shapes.TENANT_KEY, rows=(*shapes.TENANT_KEY.rows, row))
    assert shape.inputs()[-1] == "expiryDays" and shape.py_names()["expiryDays"] == "expiry_days"
    assert "expiryDays" not in shape.required_inputs() and "expiryDays" in shape.outputs()
    assert shape.changes("update")[-1] == "expiryDays"  # Diff updates the key in place when it changes
    args = tenant_key.TenantKeyArgs("t", ["tenant-app-read"])
    args.expiry_days = 30  # type: ignore[attr-defined]
    assert shape.props(args, "ci")["expiry_days"] == 30
    assert ":param expiry_days: days after which ``rotation_days`` is ignored." in shape.param_doc()
    assert schema._input_docs(shape)["expiryDays"] == "days after which `rotationDays` is ignored."
    assert schema._types(shape)["expiryDays"] == {"type": "integer"}


@pytest.mark.parametrize(("text", "face", "spelled"), [
    ("rotationDays must be less than graceDays; by the service's createdAt", "python",
     "rotation_days must be less than grace_days; by the service's created_at"),
    ("Check tenant_id and adopt_public_key: private_key stays empty", "wire",
     "Check tenantId and adoptPublicKey: privateKey stays empty"),
    ("keepers['tenantId'] must be a string, got \"rotation_days\"", "python",
     "keepers['tenantId'] must be a string, got \"rotation_days\""),  # a user's quoted value is never renamed
    ("address.streetAddress and namePrefixes, rotationDaysX", "python",
     "address.street_address and namePrefixes, rotationDaysX"),  # whole names only
])
def test_each_face_spells_properties_as_its_users_write_them(text: str, face: shapes.Face, spelled: str) -> None:
    assert shapes.spell(text, face) == spelled
    assert shapes.spell(spelled, face) == spelled  # already spelled: unchanged


def test_every_renamed_property_of_every_shape_is_spelled() -> None:
    for shape in (shapes.TENANT, shapes.TENANT_KEY, shapes.ROTATING_KEY):
        for wire, py in shape.py_names().items():
            assert shapes.spell(f"{wire} is wrong", "python") == f"{py} is wrong"
            assert shapes.spell(f"{py} is wrong", "wire") == f"{wire} is wrong"
