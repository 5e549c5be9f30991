"""The input rules (pulumi_imburse.validation) that Check, the declarative config and the emulator share."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pulumi_imburse.validation import (
    NAME_MAX_LENGTH,
    PENDING_NAME,
    ROTATION_DAYS_MAX,
    check_bool,
    check_guid,
    check_keepers,
    check_key_name,
    check_name,
    check_rotation_days,
    is_guid,
    name_text_problems,
    normalize_guid,
)

pytestmark = pytest.mark.unit

CASES = st.sampled_from([str.lower, str.upper, lambda s: "".join(
    c.upper() if i % 2 else c for i, c in enumerate(s))])


@given(st.uuids(), CASES)
def test_a_guid_in_any_letter_case_is_valid_and_normalises_to_the_services_form(value: uuid.UUID, case: object) -> None:
    text = case(str(value))  # type: ignore[operator]
    assert is_guid(text) and check_guid("tenantId", text) == []
    assert normalize_guid(text) == str(value)  # the service answers in lower case


@given(st.text(min_size=1, max_size=60))
def test_a_value_that_is_not_a_guid_is_refused_and_never_shown_when_asked(value: str) -> None:
    assume(not is_guid(value))
    (problem,) = check_guid("tenantId", value, show_value=False)
    assert problem.property == "tenantId" and "must be a GUID" in problem.reason
    # Nothing of the value but its length reaches the message: it is the message of any other non-GUID
    # string of that length ("a" or "1" may be in the message's own words, so no substring test).
    (neutral,) = check_guid("tenantId", "-" * len(value), show_value=False)
    assert problem.reason == neutral.reason
    assert f"a string of {len(value)} characters" in problem.reason


def test_a_value_that_is_not_a_guid_is_shown_by_default() -> None:
    assert "'acme-ltd'" in check_guid("adoptTenantId", "acme-ltd")[0].reason


@given(st.integers(min_value=1, max_value=ROTATION_DAYS_MAX))
def test_every_accepted_rotation_days_is_a_date_that_exists(days: int) -> None:
    assert check_rotation_days("rotationDays", days) == []
    assert check_rotation_days("rotationDays", float(days)) == []  # the engine sends numbers as doubles
    # A key made now can be aged that many days without leaving the calendar (the Diff computes this).
    assert dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days) < dt.datetime.max.replace(tzinfo=dt.timezone.utc)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=ROTATION_DAYS_MAX + 1),
                 st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: not f.is_integer()
                                                                       or not 1 <= f <= ROTATION_DAYS_MAX),
                 st.text(max_size=5), st.booleans()))
def test_rotation_days_out_of_range_is_refused_naming_the_property_and_the_range(value: object) -> None:
    (problem,) = check_rotation_days("rotationDays", value)
    assert problem.property == "rotationDays"
    assert "positive whole number of days" in problem.reason and f"at most {ROTATION_DAYS_MAX}" in problem.reason


def test_rotation_days_of_millions_is_refused() -> None:
    # About 2.9 million days is past the year 9999: every Diff would fail with OverflowError.
    assert check_rotation_days("rotationDays", 2_932_897) != []
    assert check_rotation_days("rotationDays", math.inf) != []
    assert check_rotation_days("rotationDays", None) == []


@given(st.text(min_size=1, max_size=NAME_MAX_LENGTH).filter(lambda n: n.strip() and not name_text_problems("n", n)))
def test_a_key_name_of_up_to_100_characters_is_valid_unless_it_is_a_provisional_name(name: str) -> None:
    assert (check_key_name("name", name) == []) == (PENDING_NAME.fullmatch(name) is None)


@given(st.binary(min_size=16, max_size=16))
def test_provisional_names_are_reserved(raw: bytes) -> None:
    (problem,) = check_key_name("name", f"pulumi-pending-{raw.hex()}")
    assert problem.property == "name" and "reserved" in problem.reason
    assert check_key_name("name", f"pulumi-pending-{raw.hex()}-mine") == []  # only the exact form


@pytest.mark.parametrize("value", ["false", "true", 0, 1, "no", [], {}])
def test_a_flag_must_be_a_boolean(value: object) -> None:
    (problem,) = check_bool("tenants.acme.protect", value)
    assert problem.reason.startswith("tenants.acme.protect must be true or false, got ")


def test_a_flag_may_be_true_false_or_absent() -> None:
    assert check_bool("protect", True) == check_bool("protect", False) == check_bool("protect", None) == []


def test_keepers_are_a_map_of_strings() -> None:
    assert check_keepers("keepers", {"epoch": "1"}) == check_keepers("keepers", None) == []
    assert [p.reason for p in check_keepers("keepers", {"epoch": 1})] == ["keepers['epoch'] must be a string, got int"]
    assert check_keepers("keepers", ["a"])[0].reason == "keepers must be a map of strings, got list"


@given(st.uuids())
def test_only_the_hyphenated_form_of_a_guid_is_one(value: uuid.UUID) -> None:
    # Python's UUID() reads these too, but the API's ids are only ever the 36-character form.
    for other in (value.hex, "{" + str(value) + "}", value.urn, str(value)[:-1]):
        assert not is_guid(other)
    assert is_guid(str(value))


@pytest.mark.parametrize("value", ["not-a-guid-but-thirty-six-characters", "88fdb12a-14dc-419c-b74c-422e2c25cfeg",
                                   36, None, ["88fdb12a-14dc-419c-b74c-422e2c25cfe7"]])
def test_values_that_only_look_like_guids_are_not(value: object) -> None:
    assert not is_guid(value)


@pytest.mark.parametrize("name", ["a\nb", "a\x00", "\tci", "ci\x7f", "ci\x85", "ci\u202ex", "\u202aci", "ci\u2066",
                                  "ci\u2069", " ci", "ci ", "ci\u00a0"])
def test_names_refuse_control_and_bidi_characters_and_surrounding_spaces(name: str) -> None:
    problems = check_name("name", name)
    assert problems and all(p.property == "name" and ("name must not contain" in p.reason
                                                      or "must not begin or end with spaces" in p.reason)
                            for p in problems)
    assert check_key_name("keys[0].name", name)[0].reason.startswith("keys[0].name must not")


@pytest.mark.parametrize("name", ["ci", "Acme Ltd (EU)", "Zürich — 東京", "a b", "x\u200dy"])
def test_plain_names_pass_and_the_emulator_takes_any_text(name: str) -> None:
    assert check_name("name", name) == []
    assert check_name("name", "a\nb", plain=False) == []
