"""Resolving the provider settings (pulumi_imburse.config): stack config, then IMBURSE_*, then the default."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_imburse.config import (
    ACCOUNT_ID,
    BASE_URL,
    PRIVATE_KEY,
    PUBLIC_KEY,
    SANDBOX_URL,
    SETTINGS,
    resolve,
)
from pulumi_imburse.errors import ConfigurationError

pytestmark = pytest.mark.unit

VALUE = st.one_of(st.none(), st.just(""), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:/.-", min_size=1,
                                                   max_size=30))


SOURCE = st.fixed_dictionaries({s.name: VALUE for s in SETTINGS})


@given(SOURCE, SOURCE)
def test_config_wins_then_the_environment_then_the_default(config: dict[str, str | None],
                                                           env: dict[str, str | None]) -> None:
    stack = {s.config_key: v for s in SETTINGS if (v := config[s.name]) is not None}
    environ = {s.env: v for s in SETTINGS if (v := env[s.name]) is not None}
    creds = resolve(stack, environ)

    def expected(name: str, default: str | None) -> str | None:
        return config[name] or env[name] or default

    assert creds.base_url == (expected(BASE_URL.name, SANDBOX_URL) or SANDBOX_URL).rstrip("/")
    assert creds.public_key == expected(PUBLIC_KEY.name, None)
    assert creds.private_key == expected(PRIVATE_KEY.name, None)
    assert creds.account_id == expected(ACCOUNT_ID.name, None)


def test_the_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMBURSE_PUBLIC_KEY", "from-env")
    assert resolve({}).public_key == "from-env"
    assert resolve({}, {}).public_key is None


def test_the_private_key_never_shows_in_repr() -> None:
    creds = resolve({"imburse:publicKey": "pub", "imburse:privateKey": "c2VjcmV0c2VjcmV0"}, {})
    assert "c2VjcmV0c2VjcmV0" not in repr(creds) and "pub" in repr(creds)


def test_missing_credentials_name_both_ways_to_set_each() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve({}, {}).require()
    text = str(err.value)
    for needle in ("imburse:publicKey", "IMBURSE_PUBLIC_KEY", "imburse:privateKey (with --secret)",
                   "IMBURSE_PRIVATE_KEY"):
        assert needle in text
    assert resolve({"imburse:publicKey": "p", "imburse:privateKey": "k"}, {}).require() == ("p", "k")
