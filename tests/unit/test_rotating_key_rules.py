"""RotatingTenantKey's time rules, Check and Diff (pulumi_imburse.rotating_key): pure, no API call.

When a key rotates and when its previous key's grace period is over, as functions of the current key's
``createdAt`` (the service's clock), ``rotationDays``, ``graceDays`` and the time of the run.
"""

from __future__ import annotations

import datetime as dt
import inspect
import pydoc
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi.output import Unknown

from pulumi_imburse import RotatingTenantKey, RotatingTenantKeyArgs
from pulumi_imburse.declarative import StackConfigError, declare
from pulumi_imburse.keys.rules import key_name
from pulumi_imburse.rotating_key import (
    RotatingTenantKeyProvider,
    grace_over,
    plan,
    previous_expires_at,
)
from pulumi_imburse.validation import ROTATION_DAYS_MAX

pytestmark = pytest.mark.unit

TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
PROVIDER = RotatingTenantKeyProvider()
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
DAYS = st.integers(min_value=1, max_value=ROTATION_DAYS_MAX)
AGES = st.floats(min_value=0, max_value=2 * ROTATION_DAYS_MAX, allow_nan=False)
"""A current key's age in days at the time of the run."""


def iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state(age_days: float, *, previous: bool = False, **extra: Any) -> dict[str, Any]:
    """Outputs of a key whose current key is ``age_days`` old at ``NOW`` (with a previous key if asked)."""
    outs = {"tenantId": TENANT, "roles": ["tenant-app-read"], "name": "ci-0a1b2c3d", "namePrefix": "ci",
            "graceDays": 7, "rotationDays": 90, "publicKey": str(uuid.uuid4()), "privateKey": "c2VjcmV0",
            "createdAt": iso(NOW - dt.timedelta(days=age_days)), **extra}
    if previous:
        outs.update(previousPublicKey=str(uuid.uuid4()), previousPrivateKey="b2xk")
    return outs


def inputs(**changes: Any) -> dict[str, Any]:
    """Checked inputs matching :func:`state`'s, with ``changes``."""
    return {"tenantId": TENANT, "roles": ["tenant-app-read"], "name": "ci-0a1b2c3d", "namePrefix": "ci",
            "graceDays": 7, "rotationDays": 90, **changes}


# ---------------------------------------------------------------- the time rules


@given(AGES, DAYS, st.integers(min_value=0, max_value=ROTATION_DAYS_MAX - 1), st.booleans())
def test_a_key_rotates_once_rotation_days_old_and_its_previous_key_goes_once_the_current_one_is_grace_days_old(
        age: float, rotation: int, grace: int, has_previous: bool) -> None:
    grace = min(grace, rotation - 1)
    olds = state(age, previous=has_previous)
    decided = plan(olds, inputs(rotationDays=rotation, graceDays=grace), now=NOW)
    created = NOW - dt.timedelta(days=age)
    due = NOW >= dt.datetime.fromisoformat(olds["createdAt"].replace("Z", "+00:00")) + dt.timedelta(days=rotation)
    assert decided.rotate is due
    over = grace_over(olds["createdAt"], grace, now=NOW)
    assert decided.revoke_previous is (has_previous and (over or due))
    assert decided.cut_short is (has_previous and due and not over)
    # grace < rotation: a scheduled rotation always finds the previous grace period over
    assert not decided.cut_short
    assert abs((NOW - created).total_seconds() / 86400 - age) < 1e-3


@given(AGES, st.integers(min_value=0, max_value=ROTATION_DAYS_MAX))
def test_the_grace_period_ends_exactly_grace_days_after_the_current_keys_created_at(age: float, grace: int) -> None:
    created = iso(NOW - dt.timedelta(days=age))
    ends = previous_expires_at(created, grace)
    assert ends is not None
    assert grace_over(created, grace, now=ends)
    assert not grace_over(created, grace, now=ends - dt.timedelta(milliseconds=1))


def test_a_keepers_change_rotates_at_once_and_cuts_a_running_grace_period_short() -> None:
    olds = state(1, previous=True, keepers={"epoch": "1"})
    decided = plan(olds, inputs(keepers={"epoch": "2"}), now=NOW)
    assert decided.rotate and decided.revoke_previous and decided.cut_short
    assert not plan(olds, inputs(keepers={"epoch": "1"}), now=NOW).acts


def test_a_current_key_gone_is_made_anew_and_the_previous_key_is_kept() -> None:
    olds = {**state(100, previous=True), "publicKey": "", "privateKey": "", "createdAt": ""}
    decided = plan(olds, inputs(), now=NOW)
    assert decided.rotate and not decided.revoke_previous


@pytest.mark.parametrize("unknown", ["graceDays", "rotationDays"])
def test_a_value_unknown_in_preview_never_revokes_a_key(unknown: str) -> None:
    decided = plan(state(100, previous=True), inputs(**{unknown: Unknown()}), now=NOW)
    assert not decided.cut_short
    if unknown == "graceDays":
        assert not decided.revoke_previous


@pytest.mark.parametrize("created", [None, "", "not a time"])
def test_no_age_means_nothing_is_due_and_nothing_is_over(created: str | None) -> None:
    olds = {**state(0, previous=True), "createdAt": created}
    assert not plan(olds, inputs(), now=NOW).acts


# ---------------------------------------------------------------- Check


def check(**changes: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    news = {"tenantId": TENANT.upper(), "roles": ["tenant-app-read"], "namePrefix": "ci", "graceDays": 7,
            "rotationDays": 90, **changes}
    result = PROVIDER.check({}, {k: v for k, v in news.items() if v is not None})
    return dict(result.inputs or {}), [(f.property, f.reason) for f in result.failures or []]


def test_check_normalises_like_tenant_key_and_generates_a_name() -> None:
    checked, failures = check()
    assert failures == []
    assert checked["tenantId"] == TENANT and key_name(checked).startswith("ci-")


@pytest.mark.parametrize(("grace", "message"), [
    (None, "grace_days is required: a whole number of days from 0 to 36500 (100 years)"),
    (-1, "grace_days must be a whole number of days from 0 to 36500 (100 years), got -1"),
    (1.5, "grace_days must be a whole number of days from 0 to 36500 (100 years), got 1.5"),
    (-1.0, "grace_days must be a whole number of days from 0 to 36500 (100 years), got -1"),  # as the engine sends -1
    ("7", "grace_days must be a whole number of days from 0 to 36500 (100 years), got the string '7'"),
    (90.0, "grace_days must be less than rotation_days (90), so a rotation never cuts the previous key's grace "
           "period short; got 90"),
])
def test_check_refuses_a_grace_period_naming_the_property_and_what_is_allowed(grace: Any, message: str) -> None:
    # The dynamic resources' provider: the reason names the properties as a Python program does (the failure's
    # property stays the wire name the engine looks the value up by).
    _, failures = check(graceDays=grace)
    assert failures == [("graceDays", message)]


def test_a_grace_period_without_a_rotation_period_is_fine_and_keepers_alone_rotate() -> None:
    _, failures = check(rotationDays=None, graceDays=400, keepers={"epoch": "1"})
    assert failures == []


def test_check_applies_the_tenant_key_rules_too() -> None:
    _, failures = check(roles=["account-admin"], rotationDays=0)
    assert [p for p, _ in failures] == ["roles", "rotationDays"]


# ---------------------------------------------------------------- Diff


def test_only_a_tenant_change_replaces_and_a_rotation_is_an_update() -> None:
    olds = state(100, previous=True)
    moved = PROVIDER.diff("x/y", olds, inputs(tenantId=str(uuid.uuid4())))
    assert moved.changes and moved.replaces == ["tenantId"]
    due = PROVIDER.diff("x/y", olds, inputs())
    assert due.changes and not due.replaces
    calm = PROVIDER.diff("x/y", state(3), inputs())
    assert not calm.changes
    renamed = PROVIDER.diff("x/y", state(3), inputs(name="ci"))
    assert renamed.changes and not renamed.replaces


def test_help_shows_the_inputs_and_outputs() -> None:
    params = inspect.signature(RotatingTenantKey).parameters
    for name in ("tenant_id", "roles", "grace_days", "rotation_days", "keepers", "name"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert {n for n, p in inspect.signature(RotatingTenantKeyArgs.__init__).parameters.items()
            if n != "self" and p.default is inspect.Parameter.empty} == {"tenant_id", "roles", "grace_days"}
    text = pydoc.render_doc(RotatingTenantKey, renderer=pydoc.plaintext)
    for name in ("previous_public_key", "previous_private_key", "previous_expires_at", "private_key"):
        assert f"{name}: pulumi.Output[" in text


# ---------------------------------------------------------------- structured stack config (graceDays)


@pytest.mark.parametrize(("key", "message"), [
    ({"graceDays": "7", "rotationDays": 90},
     "tenants.acme.keys.ci.graceDays must be a whole number of days from 0 to 36500 (100 years), got the string '7' "
     "(the RotatingTenantKey 'acme-ci' resource)"),
    ({"graceDays": 30, "rotationDays": 30},
     "tenants.acme.keys.ci.graceDays must be less than tenants.acme.keys.ci.rotationDays (30), so a rotation never "
     "cuts the previous key's grace period short; got 30 (the RotatingTenantKey 'acme-ci' resource)"),
    ({"graceDays": None}, "tenants.acme.keys.ci.graceDays is required: a whole number of days from 0 to 36500"),
    ({"graceDays": 7, "adoptPublicKey": TENANT},
     "tenants.acme.keys.ci: adoptPublicKey and graceDays cannot be combined: a key with graceDays (a "
     "RotatingTenantKey) makes its own keys"),
])
def test_a_config_grace_period_is_checked_with_its_config_path(key: dict[str, Any], message: str) -> None:
    spec = {"acme": {"name": "Acme", "keys": {"ci": {"roles": ["tenant-app-read"], **key}}}}
    with pytest.raises(StackConfigError) as err:
        declare(spec)
    assert message in str(err.value)
