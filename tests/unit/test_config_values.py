"""Malformed provider settings (pulumi_imburse.config) fail as configuration errors naming the config key and the
environment variable, before any request; surrounding whitespace is never part of a value."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulumi_imburse.config import resolve
from pulumi_imburse.errors import ConfigurationError

pytestmark = pytest.mark.unit

PUBLIC = "3b0e6c1d-6f1a-4c8e-9a51-2d6f0f7f4e21"
WHITESPACE = st.text(alphabet=" \t\r\n", max_size=3)


@given(st.binary(min_size=1, max_size=64), WHITESPACE, WHITESPACE, st.booleans())
def test_a_private_key_with_surrounding_whitespace_is_the_key(raw: bytes, before: str, after: str,
                                                              from_env: bool) -> None:
    key = base64.b64encode(raw).decode()
    pasted = before + key + after  # e.g. `pulumi config set --secret imburse:privateKey < key.txt`
    config = {} if from_env else {"imburse:privateKey": pasted, "imburse:publicKey": PUBLIC}
    env = {"IMBURSE_PRIVATE_KEY": pasted, "IMBURSE_PUBLIC_KEY": PUBLIC} if from_env else {}
    creds = resolve(config, env)
    assert creds.require() == (PUBLIC, key)
    creds.check()


@pytest.mark.parametrize("private_key", ["not base64!", "c2VjcmV0=x", "é"])
def test_a_private_key_that_is_not_base64_names_the_setting_and_not_the_value(private_key: str) -> None:
    creds = resolve({"imburse:publicKey": PUBLIC, "imburse:privateKey": private_key}, {})
    with pytest.raises(ConfigurationError) as err:
        creds.check()
    text = str(err.value)
    assert "imburse:privateKey" in text and "IMBURSE_PRIVATE_KEY" in text and "not valid base64" in text
    assert private_key not in text


@pytest.mark.parametrize("base_url", ["localhost:8080", "127.0.0.1:8080/api", "sandbox-api.imbursepayments.com",
                                      "ftp://example.com", "https://", "http:///path"])
def test_a_base_url_that_is_not_an_http_url_names_the_setting(base_url: str) -> None:
    creds = resolve({"imburse:baseUrl": base_url}, {})
    with pytest.raises(ConfigurationError) as err:
        creds.check()
    text = str(err.value)
    assert text.startswith("stack config imburse:baseUrl must be an https:// URL")


def test_a_base_url_with_credentials_in_it_is_shown_without_them() -> None:
    creds = resolve({"imburse:baseUrl": "ftp://user:hunter22@example.com"}, {})
    with pytest.raises(ConfigurationError) as err:
        creds.check()
    assert "hunter22" not in str(err.value) and "example.com" in str(err.value)


@pytest.mark.parametrize("base_url", ["https://sandbox-api.imbursepayments.com", "http://127.0.0.1:8080",
                                      " https://api.imbursepayments.com/\n"])
def test_http_urls_are_accepted(base_url: str) -> None:
    creds = resolve({"imburse:baseUrl": base_url}, {})
    creds.check()
    assert creds.base_url == base_url.strip().rstrip("/")
