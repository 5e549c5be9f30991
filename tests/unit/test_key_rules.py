"""The pure key rules of ``pulumi_imburse.keys.rules`` and the time and unknown-value rules of
``pulumi_imburse.values``, one behaviour per test (issue 16: the key rules module under mutation testing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pulumi.output import Unknown

from pulumi_imburse.keys.rules import (
    AUTONAME_PREFIX_MAX,
    GENERATED_NAME,
    RotationPlan,
    autoname,
    changed,
    check_grace_period,
    check_known,
    check_resource_name,
    check_tenant_id,
    compared,
    days_text,
    generated_name,
    id_key,
    is_generated_name,
    key_name,
    normalize_key_inputs,
    plan,
    read_inputs,
    roles_key,
    rotation_due,
)
from pulumi_imburse.validation import Problem
from pulumi_imburse.values import UNKNOWN, format_time, is_unknown, parse_time

pytestmark = pytest.mark.unit

TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
READ, WRITE = "tenant-app-read", "tenant-app-write"


def iso(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------- Check's normal form

def test_normal_form_lowers_ids_sorts_roles_drops_unset_optionals_and_generates_a_name() -> None:
    inputs: dict[str, Any] = {"tenantId": TENANT.upper(), "roles": [WRITE, READ, WRITE], "namePrefix": "ci",
                              "name": None, "keepers": None, "rotationDays": None, "adoptPublicKey": None}
    fresh = normalize_key_inputs(inputs, {})
    assert fresh is not None and fresh == inputs[GENERATED_NAME] and is_generated_name(fresh, "ci")
    assert inputs == {"tenantId": TENANT, "roles": [READ, WRITE], "namePrefix": "ci", GENERATED_NAME: fresh}
    assert key_name(inputs) == fresh


def test_normal_form_keeps_given_optionals_and_a_declared_name() -> None:
    inputs: dict[str, Any] = {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", "name": "mine",
                              "keepers": {"a": "1"}, "rotationDays": 90}
    assert normalize_key_inputs(inputs, {}) is None
    assert inputs == {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", "name": "mine",
                      "keepers": {"a": "1"}, "rotationDays": 90}


def test_normal_form_keeps_the_prior_generated_name_and_says_it_is_not_new() -> None:
    inputs: dict[str, Any] = {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci"}
    assert normalize_key_inputs(inputs, {"name": "ci-0123abcd"}) is None  # a state from before GENERATED_NAME
    assert inputs[GENERATED_NAME] == "ci-0123abcd" and "name" not in inputs
    again: dict[str, Any] = {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci"}
    assert normalize_key_inputs(again, inputs) is None and again == inputs


def test_a_generated_name_is_kept_out_of_the_name_input_and_a_declared_one_replaces_it() -> None:
    """The engine compares the state's inputs with the program's where no Check runs (``pulumi refresh
    --run-program``): a name the program never declared must not be in ``name`` (it showed ``[diff: -name]``)."""
    declared: dict[str, Any] = {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", "name": "mine"}
    assert normalize_key_inputs(declared, {GENERATED_NAME: "ci-0123abcd"}) is None
    assert GENERATED_NAME not in declared and key_name(declared) == "mine"
    assert read_inputs({**declared, "name": "ci-0123abcd", "publicKey": KEY}, ("tenantId", "roles", "namePrefix",
                                                                           "name")) == \
        {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", GENERATED_NAME: "ci-0123abcd"}
    assert read_inputs(declared, ("namePrefix", "name")) == {"namePrefix": "ci", "name": "mine"}
    assert compared("name", {"name": "ci-0123abcd"}, {GENERATED_NAME: "ci-0123abcd"}) == ("ci-0123abcd",) * 2


def test_an_adopted_key_without_a_name_gets_none_and_its_key_id_is_lowered() -> None:
    inputs: dict[str, Any] = {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", "adoptPublicKey": KEY.upper(),
                              "name": None}
    assert normalize_key_inputs(inputs, {}) is None
    assert inputs == {"tenantId": TENANT, "roles": [READ], "namePrefix": "ci", "adoptPublicKey": KEY}


def test_values_not_known_yet_are_left_as_they_are() -> None:
    roles = [WRITE, UNKNOWN]
    inputs: dict[str, Any] = {"tenantId": Unknown(), "roles": roles, "namePrefix": UNKNOWN}
    assert normalize_key_inputs(inputs, {}) is None
    assert inputs["roles"] == [WRITE, UNKNOWN] and isinstance(inputs["tenantId"], Unknown)
    assert key_name(inputs) == UNKNOWN


# ---------------------------------------------------------------- names

def test_autoname_keeps_a_prior_generated_name_else_makes_a_new_one() -> None:
    assert autoname({"name": "ci-0123abcd"}, {"namePrefix": "ci"}) == ("ci-0123abcd", False)
    name, fresh = autoname({"name": "declared"}, {"namePrefix": "ci"})
    assert fresh is True and is_generated_name(name, "ci")
    assert autoname({}, {"namePrefix": UNKNOWN}) == (UNKNOWN, False)
    assert autoname({}, {"namePrefix": Unknown()}) == (UNKNOWN, False)
    assert autoname({}, {}) == (UNKNOWN, False)


@pytest.mark.parametrize(("name", "prefix", "generated"), [
    ("ci-0123abcd", "ci", True),
    ("ci-0123ABCD", "ci", False),      # upper-case digits: not ours
    ("ci-0123abc", "ci", False),       # 7 digits
    ("ci-0123abcde", "ci", False),     # 9 digits
    ("cx-0123abcd", "ci", False),      # another prefix
    ("ci-0123abcg", "ci", False),      # not hex
    ("ci-0123abcX", "ci", False),
    ("x" * AUTONAME_PREFIX_MAX + "-0123abcd", "x" * 200, True),  # a long resource name is cut
])
def test_is_generated_name(name: str, prefix: str, generated: bool) -> None:
    assert is_generated_name(name, prefix) is generated


def test_a_generated_name_is_the_cut_prefix_and_8_hex_digits() -> None:
    name = generated_name("y" * 300)
    assert name.startswith("y" * AUTONAME_PREFIX_MAX + "-") and len(name) == 100 and is_generated_name(name, "y" * 300)


# ---------------------------------------------------------------- checks

@pytest.mark.parametrize(("value", "got"), [("", "str"), (5, "int"), (None, "NoneType")])
def test_the_resource_name_must_be_a_non_empty_string(value: Any, got: str) -> None:
    assert check_resource_name("namePrefix", value) == [
        Problem("namePrefix", f"the resource name must be a non-empty string, got {got}")]


def test_any_resource_name_of_any_length_is_accepted() -> None:
    assert check_resource_name("namePrefix", "ci" * 300) == []


def test_a_tenant_id_that_is_not_a_guid_is_never_shown() -> None:
    problems = check_tenant_id("tenantId", "s3cret-not-a-guid")
    assert [p.property for p in problems] == ["tenantId"] and "s3cret" not in problems[0].reason


def test_check_known_applies_the_rule_to_known_values_only() -> None:
    def rule(prop: str, value: Any) -> list[Problem]:
        return [Problem(prop, f"bad {value}")]

    assert check_known("p", 3, rule) == [Problem("p", "bad 3")]
    assert check_known("p", UNKNOWN, rule) == []
    assert check_known("p", [1, Unknown()], rule) == []


def test_a_grace_period_must_be_shorter_than_a_valid_rotation() -> None:
    assert [p.property for p in check_grace_period("g", 30, 30, "r")] == ["g"]
    assert check_grace_period("g", 7, 30, "r") == []
    assert check_grace_period("g", 70, 0, "r") == []        # an invalid rotationDays is reported on its own
    assert check_grace_period("g", UNKNOWN, 30, "r") == []


# ---------------------------------------------------------------- comparisons

def test_changed_treats_unset_and_empty_alike_and_unknown_as_a_change() -> None:
    assert not changed(None, "") and not changed({}, None) and not changed("a", "a")
    assert changed("a", "b") and changed("a", UNKNOWN) and changed(None, Unknown()) and changed(UNKNOWN, UNKNOWN)


def test_ids_compare_without_letter_case_and_roles_as_sets() -> None:
    assert id_key(TENANT.upper()) == TENANT
    assert id_key(UNKNOWN) == UNKNOWN and id_key(5) == 5 and id_key(None) is None
    assert roles_key((WRITE, READ, WRITE)) == [READ, WRITE]
    assert roles_key([WRITE, UNKNOWN]) == [WRITE, UNKNOWN]
    assert roles_key("not a list") == "not a list"


# ---------------------------------------------------------------- the rotation clock and plan

def test_rotation_is_due_from_the_moment_the_key_is_that_old() -> None:
    created = NOW - dt.timedelta(days=90)
    assert rotation_due(iso(created), 90, now=NOW)
    assert not rotation_due(iso(created), 90, now=NOW - dt.timedelta(seconds=1))
    assert rotation_due(iso(created), 1)                     # the default now: the current time
    assert not rotation_due(iso(dt.datetime.now(dt.timezone.utc)), 1)


@pytest.mark.parametrize(("value", "text"), [(90.0, "90"), (7, "7"), (1.5, "1.5"), (True, "True"), ("x", "x"),
                                             (1234567.0, "1234567")])
def test_days_are_shown_as_the_user_wrote_them(value: Any, text: str) -> None:
    assert days_text(value) == text


def _olds(*, created: dt.datetime, previous: bool = False, **extra: Any) -> dict[str, Any]:
    return {"publicKey": KEY, "createdAt": iso(created), **({"previousPublicKey": TENANT} if previous else {}), **extra}


def test_the_plan_says_why_a_gone_current_key_is_replaced() -> None:
    assert plan({"publicKey": ""}, {"graceDays": 7}, now=NOW) == RotationPlan(
        rotate=True, reasons=("its current key is gone (revoked outside Pulumi): the update will make a new one",))


def test_the_plan_says_why_a_due_key_rotates() -> None:
    created = NOW - dt.timedelta(days=91)
    decided = plan(_olds(created=created), {"rotationDays": 90.0, "graceDays": 7}, now=NOW)
    assert decided == RotationPlan(rotate=True, reasons=(
        f"its current key is 91 days old (createdAt {iso(created)}), rotationDays 90: the update will rotate it",))
    assert decided.acts


def test_the_plan_revokes_a_previous_key_whose_grace_is_over() -> None:
    decided = plan(_olds(created=NOW - dt.timedelta(days=8), previous=True), {"rotationDays": 90, "graceDays": 7.0},
                   now=NOW)
    assert decided == RotationPlan(revoke_previous=True, reasons=(
        "the previous key's grace period (7 days from the current key's createdAt) is over: the update will revoke "
        "it",))
    assert decided.acts


def test_the_plan_cuts_a_grace_period_short_for_a_keepers_rotation() -> None:
    olds = _olds(created=NOW - dt.timedelta(days=1), previous=True, keepers={"v": "1"})
    decided = plan(olds, {"keepers": {"v": "2"}, "graceDays": 7}, now=NOW)
    assert decided == RotationPlan(revoke_previous=True, cut_short=True, rotate=True, reasons=(
        "keepers changed: the update will rotate it",
        "the previous key, still in its grace period, will be revoked before the rotation (a resource holds two keys "
        "at most)"))


def test_the_plan_does_nothing_while_nothing_is_due() -> None:
    decided = plan(_olds(created=NOW - dt.timedelta(days=1), previous=True), {"rotationDays": 90, "graceDays": 7},
                   now=NOW)
    assert decided == RotationPlan() and not decided.acts
    unknown_grace = plan(_olds(created=NOW, previous=True, keepers={"v": "1"}),
                         {"keepers": {"v": "2"}, "graceDays": UNKNOWN}, now=NOW)
    assert unknown_grace.rotate and not unknown_grace.revoke_previous


# ---------------------------------------------------------------- values

@pytest.mark.parametrize(("text", "when"), [
    ("2026-11-30T12:00:00Z", NOW),
    ("2026-11-30T12:00:00z", None),
    ("2026-11-30T14:00:00+02:00", NOW),
    ("2026-11-30T12:00:00", NOW),                       # naive: UTC
    ("not a time", None),
    (None, None),
])
def test_parse_time(text: Any, when: dt.datetime | None) -> None:
    parsed = parse_time(text)
    assert parsed == when
    if parsed is not None:
        assert parsed.utcoffset() is not None


def test_a_naive_time_is_taken_as_utc() -> None:
    parsed = parse_time("2026-11-30T12:00:00")
    assert parsed is not None and parsed.tzinfo is dt.timezone.utc


def test_format_time_writes_utc_with_a_z() -> None:
    later = dt.datetime(2026, 11, 30, 14, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_time(later) == "2026-11-30T12:00:00.123456Z"
    assert format_time(later, "seconds") == "2026-11-30T12:00:00Z"
    assert format_time(later, "milliseconds") == "2026-11-30T12:00:00.123Z"


def test_unknown_values_are_found_anywhere_in_a_value() -> None:
    assert is_unknown(Unknown()) and is_unknown(UNKNOWN)
    assert is_unknown({"a": {"b": UNKNOWN}}) and is_unknown([1, (2, Unknown())])
    assert not is_unknown({"a": "b"}) and not is_unknown([1, "x"]) and not is_unknown("x") and not is_unknown(None)
