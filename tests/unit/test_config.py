"""Resolving the provider settings (pulumi_imburse.config): stack config, then IMBURSE_*, then the default."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from pulumi_imburse.config import (
    ACCOUNT_ID,
    BASE_URL,
    PRIVATE_KEY,
    PUBLIC_KEY,
    SANDBOX_URL,
    SETTINGS,
    base_url_failure,
    base_url_problem,
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


@pytest.mark.parametrize(("config", "message"), [
    ({"imburse:privateKey": "c2VjcmV0"},
     "missing Imburse credentials: set stack config imburse:publicKey or environment variable IMBURSE_PUBLIC_KEY"),
    ({"imburse:publicKey": "p"},
     "missing Imburse credentials: set stack config imburse:privateKey (with --secret) or environment variable "
     "IMBURSE_PRIVATE_KEY"),
    ({},
     "missing Imburse credentials: set stack config imburse:publicKey or environment variable IMBURSE_PUBLIC_KEY; "
     "set stack config imburse:privateKey (with --secret) or environment variable IMBURSE_PRIVATE_KEY"),
])
def test_missing_credentials_message_word_for_word(config: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve(config, {}).require()
    assert str(err.value) == message


def test_every_malformed_setting_is_named_in_one_message() -> None:
    creds = resolve({"imburse:baseUrl": "sandbox-api.imbursepayments.com", "imburse:privateKey": "not base64!"}, {})
    with pytest.raises(ConfigurationError) as err:
        creds.check()
    assert str(err.value) == (
        "stack config imburse:baseUrl must be an https:// URL such as https://sandbox-api.imbursepayments.com (or "
        "http:// to this machine, 127.0.0.1, ::1 or localhost, for the emulator), "
        "got 'sandbox-api.imbursepayments.com'; "
        "stack config imburse:privateKey (or environment variable IMBURSE_PRIVATE_KEY) is not valid base64 (its "
        "value is not shown): set the account API key's private key exactly as Imburse gave it")


@pytest.mark.parametrize("private_key", ["c2VjcmV0 c2VjcmV0", "c2VjcmV0\nc2VjcmV0", "c2Vj*cmV0"])
def test_a_private_key_with_characters_base64_does_not_have_is_refused(private_key: str) -> None:
    # A lenient decoder would drop the stray characters and sign with a different key.
    with pytest.raises(ConfigurationError, match="imburse:privateKey"):
        resolve({"imburse:privateKey": private_key}, {}).check()


@pytest.mark.parametrize(("base_url", "shown"), [
    ("ftp://user:hunter22@example.com", "ftp://***@example.com"),
    ("ftp://user:p@ss@example.com/x", "ftp://***@example.com/x"),   # an '@' in the password
    ("ftp://a@b@c@example.com", "ftp://***@example.com"),
])
def test_a_base_url_is_shown_without_its_userinfo(base_url: str, shown: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve({"imburse:baseUrl": base_url}, {}).check()
    assert str(err.value).endswith(f", got {shown!r}")


@given(st.text(alphabet="abcXYZ/-_.", max_size=20), st.integers(min_value=0, max_value=3))
@example("PREFIX", 1)
def test_only_trailing_slashes_are_taken_off_the_base_url(path: str, slashes: int) -> None:
    assume(not path.endswith("/"))
    base = f"https://imburse.example/{path}"
    assert resolve({"imburse:baseUrl": base + "/" * slashes}, {}).base_url == base.rstrip("/")


@pytest.mark.parametrize("url", ["https://sandbox-api.imbursepayments.com", "https://10.0.0.1", "http://127.0.0.1:8080",
                                 "http://127.9.9.9", "http://[::1]:9000/", "http://localhost", "http://LOCALHOST.:1"])
def test_https_and_loopback_http_base_urls_are_accepted(url: str) -> None:
    assert base_url_problem(url, "stack config imburse:baseUrl") is None


@pytest.mark.parametrize(("url", "says"), [
    ("file:///etc/passwd", "must be an https:// URL"),
    ("http://metadata.invalid/", "plain http:// is refused for 'metadata.invalid'"),
    ("http://10.0.0.1", "plain http:// is refused"),
    ("http://127.0.0.1.invalid", "plain http:// is refused"),
    ("https://user:hunter22@imburse.invalid", "must not carry a user or password"),
    ("http://user@127.0.0.1", "must not carry a user or password"),
    ("https://", "must be an https:// URL"),
])
def test_other_base_urls_are_refused_naming_where_they_came_from(url: str, says: str) -> None:
    problem = base_url_failure({}, {"IMBURSE_BASE_URL": url})
    assert problem is not None and problem.startswith("environment variable IMBURSE_BASE_URL ") and says in problem
    assert "hunter22" not in problem
    explicit = base_url_failure({"imburse:baseUrl": url}, {}, config_label="explicit provider 'p' input baseUrl")
    assert explicit is not None and explicit.startswith("explicit provider 'p' input baseUrl ")
