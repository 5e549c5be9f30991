"""TenantKey's Check and Diff rules (pulumi_imburse.tenant_key), called as the provider host calls them.

Check and Diff make no API call, so they run here in milliseconds: generated names, GUID letter case,
``rotationDays`` bounds, provisional names, and what a Check failure may show.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_imburse.keys.rules import GENERATED_NAME, key_name
from pulumi_imburse.tenant import TenantProvider
from pulumi_imburse.tenant_key import (
    TenantKeyProvider,
    generated_name,
    is_generated_name,
    pending_name,
)
from pulumi_imburse.validation import NAME_MAX_LENGTH, PENDING_NAME, ROTATION_DAYS_MAX

pytestmark = pytest.mark.unit

TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
PROVIDER = TenantKeyProvider()
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
RESOURCE_NAMES = st.one_of(st.text(_CHARS, min_size=1, max_size=40), st.text(_CHARS, min_size=85, max_size=300))
"""Resource names, short and long (a long one is rarely drawn from one range of sizes)."""


def check(**inputs: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check of a new TenantKey with these wire inputs (tenantId, roles and namePrefix by default)."""
    news = {"tenantId": TENANT, "roles": ["tenant-app-read"], "namePrefix": "ci", **inputs}
    result = PROVIDER.check({}, news)
    return dict(result.inputs or {}), [(f.property, f.reason) for f in result.failures or []]


def outputs(checked: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What the state holds after a create of ``checked``: the service's answers."""
    named = {k: v for k, v in checked.items() if k != GENERATED_NAME} | {"name": key_name(checked)}
    return {**named, "publicKey": str(uuid.uuid4()), "privateKey": "c2VjcmV0", "accountId": str(uuid.uuid4()),
            "createdAt": dt.datetime.now(dt.timezone.utc).isoformat(), **extra}


# ---------------------------------------------------------------- generated names (item 8)


@given(RESOURCE_NAMES)
def test_a_generated_name_always_fits_and_is_recognised(resource_name: str) -> None:
    name = generated_name(resource_name)
    assert len(name) <= NAME_MAX_LENGTH
    assert name.startswith(resource_name[:NAME_MAX_LENGTH - 9])
    assert is_generated_name(name, resource_name)
    assert generated_name(resource_name) != name  # random


@given(st.integers(min_value=NAME_MAX_LENGTH - 9, max_value=400))
def test_any_resource_name_passes_check_and_its_generated_name_fits(length: int) -> None:
    checked, failures = check(namePrefix="k" * length)
    assert failures == []
    assert len(key_name(checked)) <= NAME_MAX_LENGTH


def test_a_long_resource_name_keeps_its_generated_name_on_later_checks() -> None:
    first, _ = check(namePrefix="k" * 150)
    again = PROVIDER.check(first, {"tenantId": TENANT, "roles": ["tenant-app-read"], "namePrefix": "k" * 150})
    assert again.inputs is not None and key_name(again.inputs) == key_name(first)


def test_no_check_failure_names_a_property_the_user_never_set() -> None:
    for length in (92, 100, 101, 500):
        _, failures = check(namePrefix="k" * length)
        assert failures == []
    _, failures = check(name="n" * 101)
    assert [p for p, _ in failures] == ["name"]


# ---------------------------------------------------------------- GUID letter case (item 6)


@given(st.uuids())
def test_an_upper_case_tenant_id_is_checked_to_the_services_form_and_plans_no_replacement(value: uuid.UUID) -> None:
    declared = str(value).upper()
    checked, failures = check(tenantId=declared, name="ci")
    assert failures == [] and checked["tenantId"] == str(value)
    # The state holds the service's answer (lower case); the next up's Check and Diff find nothing to do.
    state = outputs(checked, tenantId=str(value))
    news = PROVIDER.check(checked, {"tenantId": declared, "roles": ["tenant-app-read"], "namePrefix": "ci",
                                    "name": "ci"}).inputs or {}
    diff = PROVIDER.diff(f"{value}/pk", state, news)
    assert (diff.changes, diff.replaces) == (False, [])


def test_a_state_holding_an_upper_case_tenant_id_plans_no_replacement() -> None:
    checked, _ = check(name="ci")
    diff = PROVIDER.diff("x/pk", outputs(checked, tenantId=TENANT.upper()), checked)
    assert (diff.changes, diff.replaces) == (False, [])
    assert PROVIDER.diff("x/pk", outputs(checked), {**checked, "tenantId": str(uuid.uuid4())}).replaces == ["tenantId"]


def test_adopted_ids_are_checked_to_lower_case_too() -> None:
    key = str(uuid.uuid4())
    checked, failures = check(adoptPublicKey=key.upper())
    assert failures == [] and checked["adoptPublicKey"] == key
    tenant = TenantProvider().check({}, {"name": "Acme", "adoptTenantId": TENANT.upper()})
    assert tenant.inputs is not None and tenant.inputs["adoptTenantId"] == TENANT


# ---------------------------------------------------------------- rotationDays (item 7)


@pytest.mark.parametrize("days", [ROTATION_DAYS_MAX + 1, 2_932_897, 10**12, float("inf"), float("nan")])
def test_rotation_days_past_the_bound_fails_check_naming_the_property_and_range(days: float) -> None:
    _, failures = check(rotationDays=days)
    (prop, reason), = failures
    assert prop == "rotationDays" and f"at most {ROTATION_DAYS_MAX}" in reason


@given(st.integers(min_value=1, max_value=ROTATION_DAYS_MAX))
def test_diff_of_any_accepted_rotation_days_works(days: int) -> None:
    checked, failures = check(rotationDays=days, name="ci")
    assert failures == []
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    old = outputs(checked, createdAt="1970-01-01T00:00:00Z")  # as old as a key can look
    diff = PROVIDER.diff("x/pk", old, checked)
    age = dt.datetime.now(dt.timezone.utc) - epoch
    assert diff.replaces == (["rotationDays"] if age >= dt.timedelta(days=days) else [])


def test_a_state_from_before_the_bound_does_not_break_diff() -> None:
    checked, _ = check(name="ci")
    state = outputs(checked, rotationDays=3_000_000)
    diff = PROVIDER.diff("x/pk", state, {**checked, "rotationDays": 3_000_000})  # as an old Check let through
    assert diff.replaces == []


# ---------------------------------------------------------------- secrets and provisional names (items 9, 1)


def test_a_tenant_id_that_is_not_a_guid_is_never_shown_in_the_failure() -> None:
    secret = "s3cr3t-value-from-a-secret-output"
    _, failures = check(tenantId=secret)
    (prop, reason), = failures
    assert prop == "tenantId" and "must be a GUID" in reason
    assert secret not in reason and "s3cr3t" not in reason


@pytest.mark.parametrize("check_of", [
    lambda value: check(adoptPublicKey=value, name="legacy"),
    lambda value: (None, [(f.property, f.reason) for f in TenantProvider().check(
        {}, {"name": "Acme", "adoptTenantId": value}).failures or []]),
], ids=["adoptPublicKey", "adoptTenantId"])
def test_an_adopt_id_that_is_not_a_guid_is_never_shown_in_the_failure(check_of: Any) -> None:
    secret = "s3cr3t-value-from-a-secret-output"
    _, failures = check_of(secret)
    (prop, reason), = failures
    assert prop.startswith("adopt") and "must be a GUID" in reason
    assert secret not in reason and "s3cr3t" not in reason


def test_provisional_names_are_unique_and_reserved() -> None:
    names = {pending_name() for _ in range(1000)}
    assert len(names) == 1000 and all(PENDING_NAME.fullmatch(n) and len(n) == 47 for n in names)
    _, failures = check(name=next(iter(names)))
    assert [p for p, _ in failures] == ["name"] and "reserved" in failures[0][1]
