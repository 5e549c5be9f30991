"""What each input rule says, word for word: the property it names and the allowed values (the messages a
user reads in a failed preview), for the rules whose domain tests/unit/test_validation.py does not cover."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pulumi_imburse import validation
from pulumi_imburse.models import ADDRESS_FIELDS
from pulumi_imburse.roles import TENANT_ROLES
from pulumi_imburse.validation import (
    GUID_EXAMPLE,
    NAME_MAX_LENGTH,
    Problem,
    check_address,
    check_bool,
    check_grace_days,
    check_guid,
    check_keepers,
    check_key_name,
    check_name,
    check_rotation_days,
    check_tenant_roles,
    check_text,
    check_unknown,
    describe,
)

pytestmark = pytest.mark.unit

ROLES = ", ".join(TENANT_ROLES)
FIELDS = ", ".join(ADDRESS_FIELDS)

CASES: list[tuple[Callable[[], list[Problem]], list[Problem]]] = [
    (lambda: check_name("name", None), []),
    (lambda: check_name("name", None, required=True), [Problem("name", "name is required")]),
    (lambda: check_name("name", 7), [Problem("name", "name must be a string, got int")]),
    (lambda: check_name("name", " \t"), [Problem("name", "name must not be empty")]),
    (lambda: check_name("name", "n" * NAME_MAX_LENGTH), []),
    (lambda: check_name("name", "n" * (NAME_MAX_LENGTH + 1)),
     [Problem("name", f"name must be at most {NAME_MAX_LENGTH} characters, got {NAME_MAX_LENGTH + 1}")]),
    (lambda: check_tenant_roles("roles", ["tenant-app-read"]), []),
    (lambda: check_tenant_roles("roles", ("tenant-app-read", "tenant-admin")), []),
    (lambda: check_tenant_roles("roles", []),
     [Problem("roles", f"roles must be a non-empty list of tenant roles; allowed: {ROLES}")]),
    (lambda: check_tenant_roles("roles", "tenant-app-read"),
     [Problem("roles", f"roles must be a non-empty list of tenant roles; allowed: {ROLES}")]),
    (lambda: check_tenant_roles("roles", ["tenant-app-read", 3]),
     [Problem("roles", f"roles[1] must be a string; allowed: {ROLES}")]),
    (lambda: check_tenant_roles("roles", ["account-admin"]),
     [Problem("roles", f"roles[0] 'account-admin' is an account role and cannot be given to a tenant key; "
                       f"allowed: {ROLES}")]),
    (lambda: check_tenant_roles("roles", ["tenant-app-read", "tenant-ap-read", "x"]),
     [Problem("roles", f"roles[1] 'tenant-ap-read' is not a tenant role; allowed: {ROLES}"),
      Problem("roles", f"roles[2] 'x' is not a tenant role; allowed: {ROLES}")]),
    (lambda: check_address("address", None), []),
    (lambda: check_address("address", {"country": "GB", "locality": None}), []),
    (lambda: check_address("address", "GB"), [Problem("address", f"address must be an object with keys {FIELDS}")]),
    (lambda: check_address("address", {"town": "Leeds", "country": 44}),
     [Problem("address.town", f"address.town is not an address field; allowed: {FIELDS}"),
      Problem("address.country", "address.country must be a string")]),
    (lambda: check_unknown({"name": 1, "role": 2, "keepers": 3}, ("name", "keepers", "roles")),
     [Problem("role", "role is not a property of this resource; allowed: keepers, name, roles")]),
    (lambda: check_unknown({}, ()), []),
    (lambda: check_text("locality", None), []),
    (lambda: check_text("locality", "Leeds"), []),
    (lambda: check_text("locality", 1.5), [Problem("locality", "locality must be a string, got float")]),
]


@pytest.mark.parametrize(("rule", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_rule_names_the_property_and_the_allowed_values(
        rule: Callable[[], list[Problem]], expected: list[Problem]) -> None:
    assert rule() == expected


HIDDEN = "(not shown: inputs may be secrets)"
EXAMPLE = GUID_EXAMPLE  # the GUID the messages show

MORE_CASES: list[tuple[Callable[[], list[Problem]], list[Problem]]] = [
    (lambda: check_guid("tenantId", None), [Problem("tenantId", f"tenantId is required: a GUID such as {EXAMPLE}")]),
    (lambda: check_guid("tenantId", ""), [Problem("tenantId", f"tenantId is required: a GUID such as {EXAMPLE}")]),
    (lambda: check_guid("tenantId", 7, show_value=False),
     [Problem("tenantId", f"tenantId must be a GUID such as {GUID_EXAMPLE}, got a value of type int {HIDDEN}")]),
    (lambda: check_key_name("name", "pulumi-pending-" + "0" * 32),
     [Problem("name", "name: names of the form pulumi-pending-<32 hex digits> are reserved for keys being created; "
                      "choose another name")]),
    (lambda: check_rotation_days("rotationDays", "90"),
     [Problem("rotationDays", "rotationDays must be a positive whole number of days, at most 36500 (100 years), "
                              "got the string '90'")]),
    (lambda: check_rotation_days("rotationDays", [90]),
     [Problem("rotationDays", "rotationDays must be a positive whole number of days, at most 36500 (100 years), "
                              "got [90]")]),
    (lambda: check_keepers("keepers", ["epoch"]), [Problem("keepers", "keepers must be a map of strings, got list")]),
    (lambda: check_keepers("keepers", {"epoch": 2, "ok": "1"}),
     [Problem("keepers", "keepers['epoch'] must be a string, got int")]),
    (lambda: check_bool("protect", "false"),
     [Problem("protect", "protect must be true or false, got the string 'false'")]),
    (lambda: check_bool("protect", 1), [Problem("protect", "protect must be true or false, got 1")]),
]


@pytest.mark.parametrize(("rule", "problems"), MORE_CASES)
def test_more_rules_word_for_word(rule: Callable[[], list[Problem]], problems: list[Problem]) -> None:
    assert rule() == problems


@pytest.mark.parametrize(("value", "said"), [(5, "a value of type int"), (None, "a value of type NoneType"),
                                             ("secret", "a string of 6 characters")])
def test_a_value_is_described_without_its_content(value: object, said: str) -> None:
    assert describe(value) == f"{said} {HIDDEN}"


GRACE = "a whole number of days from 0 to 36500 (100 years)"


@pytest.mark.parametrize(("value", "problems"), [
    (0, []),  # no grace: the old key goes at the next update
    (36500, []),
    (-1, [Problem("graceDays", f"graceDays must be {GRACE}, got -1")]),
    (36501, [Problem("graceDays", f"graceDays must be {GRACE}, got 36501")]),
    (None, [Problem("graceDays", f"graceDays is required: {GRACE}")]),
    ("7", [Problem("graceDays", f"graceDays must be {GRACE}, got the string '7'")]),
])
def test_grace_days_from_none_to_a_century(value: object, problems: list[Problem]) -> None:
    assert check_grace_days("graceDays", value) == problems


@pytest.mark.parametrize(("value", "text"), [(0.0, "0"), (-1.0, "-1"), (3_000_000.0, "3000000"), (1.5, "1.5"),
                                             (7, "7"), (float("inf"), "inf"), (float("nan"), "nan")])
def test_numbers_are_shown_as_the_user_wrote_them(value: float, text: str) -> None:
    # The engine sends every number as a float: a 0 written in YAML arrives as 0.0.
    assert validation.number_text(value) == text
    if value != 7:  # every other value is out of range for rotationDays
        assert validation.check_rotation_days("rotationDays", value)[0].reason.endswith(f", got {text}")
