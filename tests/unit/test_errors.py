"""The error types (pulumi_imburse.errors): what each one promises a caller, and that no secret gets through."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_imburse.errors import (
    REDACTED,
    ImburseAPIError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TokenExchangeError,
    TransportError,
    ValidationError,
    error_class_for_status,
    redact,
)

pytestmark = pytest.mark.unit

BASE64 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", min_size=16,
                 max_size=64)


def test_a_failed_token_exchange_is_not_an_unknown_outcome() -> None:
    # Callers reconcile an OutcomeUnknownError by reading (and maybe revoking); a failed exchange sent
    # nothing else, so it must not be caught as one.
    assert not issubclass(TokenExchangeError, OutcomeUnknownError)
    assert issubclass(TokenExchangeError, TransportError)


@pytest.mark.parametrize(("status", "cls"), [(400, ValidationError), (404, NotFoundError), (422, ValidationError),
                                             (429, RateLimitedError), (500, ServerError), (504, ServerError),
                                             (418, ImburseAPIError)])
def test_error_class_for_status(status: int, cls: type[ImburseAPIError]) -> None:
    assert error_class_for_status(status) is cls


@pytest.mark.parametrize("clone", [copy.copy, lambda e: pickle.loads(pickle.dumps(e))])
def test_copies_keep_every_field_retry_after_included(clone: object) -> None:
    err = RateLimitedError("slow down", status=429, method="GET", path="/v1/account/tenants")
    err.retry_after = 12.0
    again = clone(err)  # type: ignore[operator]
    assert type(again) is RateLimitedError and again is not err
    assert (again.message, again.status, again.method, again.path, again.retry_after) == (
        "slow down", 429, "GET", "/v1/account/tenants", 12.0)
    assert str(again) == str(err) == "GET /v1/account/tenants: HTTP 429: slow down"


@given(st.text(max_size=200), st.lists(BASE64, min_size=1, max_size=3), st.text(max_size=50))
def test_redact_removes_every_secret(prefix: str, secrets: list[str], suffix: str) -> None:
    text = prefix + "".join(f" {s} " for s in secrets) + suffix + secrets[0]
    out = redact(text, [*secrets, None, ""])
    for s in secrets:
        assert s not in out
    assert REDACTED in out


def test_redact_leaves_short_values_and_other_text_alone() -> None:
    assert redact("tenant t-1 key abc", ["abc", None]) == "tenant t-1 key abc"
    assert redact("no secrets here", ["c2VjcmV0c2VjcmV0"]) == "no secrets here"
