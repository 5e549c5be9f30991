"""Provider settings: the one table of config keys, environment variables and defaults.

Credentials are resolved at run time, in this order: stack config ``imburse:<key>`` (as the engine
passes it to the provider's ``configure()``), then the ``IMBURSE_*`` environment variable, then the
default, without surrounding whitespace. They are never stored in a pickled object.
:meth:`Credentials.require` and :meth:`Credentials.check` fail with a
:class:`~pulumi_imburse.errors.ConfigurationError` naming the config key and the variable.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import ConfigurationError

NAMESPACE: Final = "imburse"
SANDBOX_URL: Final = "https://sandbox-api.imbursepayments.com"


@dataclass(frozen=True)
class Setting:
    """One provider setting: its stack-config key, environment variable, default and what it is."""

    name: str
    env: str
    default: str | None = None
    secret: bool = False
    description: str = ""
    """What the setting is (the plugin's schema shows it for the provider's config and inputs)."""

    @property
    def config_key(self) -> str:
        """The full stack-config key, e.g. ``imburse:baseUrl``."""
        return f"{NAMESPACE}:{self.name}"


BASE_URL: Final = Setting("baseUrl", "IMBURSE_BASE_URL", SANDBOX_URL, description="The Imburse API's base URL.")
PUBLIC_KEY: Final = Setting("publicKey", "IMBURSE_PUBLIC_KEY",
                            description="The account API key's public key (required for any API call).")
PRIVATE_KEY: Final = Setting("privateKey", "IMBURSE_PRIVATE_KEY", secret=True,
                             description="The account API key's private key (required; a secret: set it with "
                                         "``pulumi config set --secret``).")
ACCOUNT_ID: Final = Setting("accountId", "IMBURSE_ACCOUNT_ID",
                            description="The account id, sent as ``x-account-id`` (optional).")

VAULT_TOKEN: Final = Setting("vaultToken", "VAULT_TOKEN", secret=True,
                             description="The Vault token for keys whose ``destination`` is ``vault-kv2`` (a secret; "
                                         "without it, AppRole through ``VAULT_ROLE_ID`` and ``VAULT_SECRET_ID``).")

SETTINGS: Final[tuple[Setting, ...]] = (BASE_URL, PUBLIC_KEY, PRIVATE_KEY, ACCOUNT_ID, VAULT_TOKEN)
DESTINATION_KEY: Final = f"{NAMESPACE}:destination"
"""The stack-config key (an object) of the provider-wide default destination of the keys' private keys
(:mod:`pulumi_imburse.stores.destination`); not a string setting, so not in :data:`SETTINGS`."""

MAX_CONCURRENT_REQUESTS: Final = Setting(
    "maxConcurrentRequests", "IMBURSE_MAX_CONCURRENT_REQUESTS", "16",
    description="The most requests the provider process has on the wire to one account at once, whatever the "
                "engine's --parallel (environment variable only: one limit for the whole process).")
"""A process setting, not a provider input (not in :data:`SETTINGS`): every provider instance of the process
shares one limiter per account (:func:`pulumi_imburse.transport.shared_limiter`). 16 is the most in flight the
emulator saw from the plugin at ``--parallel`` 16 and 32 (benchmarks/README.md), so it does not slow an
unthrottled ``up`` on such a machine, and it stops ``--parallel 64`` from putting 64 requests on a service that
asks to slow down."""

MAX_CONCURRENT_REQUESTS_LIMIT: Final = 1024


def max_concurrent_requests(environ: Mapping[str, str] | None = None) -> int:
    """``IMBURSE_MAX_CONCURRENT_REQUESTS`` (default 16): a whole number from 1 to 1024, else
    :class:`ConfigurationError` naming the variable and the value."""
    environ = os.environ if environ is None else environ
    setting = MAX_CONCURRENT_REQUESTS
    raw = (environ.get(setting.env) or "").strip() or str(setting.default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONCURRENT_REQUESTS_LIMIT:
        raise ConfigurationError(f"environment variable {setting.env} must be a whole number from 1 to "
                                 f"{MAX_CONCURRENT_REQUESTS_LIMIT}, got {raw[:40]!r}")
    return value


@dataclass(frozen=True)
class Credentials:
    """Resolved connection settings. ``repr`` never shows the private key."""

    base_url: str
    public_key: str | None
    private_key: str | None = field(repr=False)
    account_id: str | None = None
    base_url_from: str = field(default="", compare=False)
    """Where ``base_url`` came from, as messages name it (e.g. ``stack config imburse:baseUrl``); empty: the
    default."""

    def require(self) -> tuple[str, str]:
        """``(public_key, private_key)``, or :class:`ConfigurationError` naming both ways to set each."""
        missing = [s for s, v in ((PUBLIC_KEY, self.public_key), (PRIVATE_KEY, self.private_key)) if not v]
        if missing:
            raise ConfigurationError(
                "missing Imburse credentials: "
                + "; ".join(f"set stack config {s.config_key}"
                            f"{' (with --secret)' if s.secret else ''} or environment variable {s.env}"
                            for s in missing)
            )
        assert self.public_key is not None and self.private_key is not None
        return self.public_key, self.private_key

    def validated(self) -> tuple[str, str]:
        """:meth:`require` then :meth:`check`: ``(public_key, private_key)`` of settings fit to build a client."""
        keys = self.require()
        self.check()
        return keys

    def check(self) -> None:
        """Raise :class:`ConfigurationError` naming the config key and the variable of a malformed setting:
        a base URL that is not an ``http(s)://host`` URL, a private key that is not base64. Values are never
        shown, except a base URL without any ``user:password@`` part."""
        problems = []
        url_problem = base_url_problem(self.base_url, self.base_url_from or _where(BASE_URL))
        if url_problem:
            problems.append(url_problem)
        if self.private_key is not None:
            try:
                base64.b64decode(self.private_key, validate=True)
            except (binascii.Error, ValueError):
                problems.append(f"{_where(PRIVATE_KEY)} is not valid base64 (its value is not shown): set the "
                                "account API key's private key exactly as Imburse gave it")
        if problems:
            raise ConfigurationError("; ".join(problems))


LOOPBACK_NAMES: Final = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, an address in 127.0.0.0/8, or ``::1``."""
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(url: str, where: str) -> str | None:
    """Why ``url`` cannot be the API's base URL, as a sentence starting with ``where`` (the input it came from),
    or ``None``: it must be ``https://host``, or ``http://`` to a loopback host (the local emulator), with no
    ``user:password@`` part. The URL is shown without any userinfo."""
    shown = without_userinfo(url, mark="***@")
    rule = (f"must be an https:// URL such as {SANDBOX_URL} (or http:// to this machine, 127.0.0.1, ::1 or "
            "localhost, for the emulator)")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{where} {rule}, got {shown!r}"
    if parts.scheme not in ("http", "https") or not host:
        return f"{where} {rule}, got {shown!r}"
    if "@" in parts.netloc:
        return f"{where} must not carry a user or password (user:password@), got {shown!r}"
    if parts.scheme == "http" and not is_loopback(host):
        return f"{where} {rule}; plain http:// is refused for {host!r}, got {shown!r}"
    return None


def _where(setting: Setting) -> str:
    return f"stack config {setting.config_key} (or environment variable {setting.env})"


def without_userinfo(url: str, *, mark: str = "") -> str:
    """``url`` without any ``user:password@`` part (replaced by ``mark``, e.g. ``"***@"``): how every message shows
    a URL, so none ever carries a credential."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=mark + parts.netloc.rsplit("@", 1)[1]))


def _value(setting: Setting, config: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    return _sourced(setting, config, environ)[0]


def _sourced(setting: Setting, config: Mapping[str, Any], environ: Mapping[str, str], *,
             config_label: str | None = None) -> tuple[str | None, str]:
    """The setting's value and where it came from (``""``: the default)."""
    # Surrounding whitespace is never part of a value: a key pasted with its line end, `$(cat key.txt)`.
    for raw, where in ((config.get(setting.config_key), config_label or f"stack config {setting.config_key}"),
                       (environ.get(setting.env), f"environment variable {setting.env}")):
        if raw is not None and str(raw).strip() != "":
            return str(raw).strip(), where
    return setting.default, ""


def resolve(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None, *,
            config_label: str | None = None) -> Credentials:
    """Resolve every setting from stack config (``imburse:*``), then ``IMBURSE_*``, then defaults.

    ``config_label``: how messages name a base URL taken from ``config`` (default ``stack config
    imburse:baseUrl``; the plugin says ``explicit provider input baseUrl`` for an explicit provider's)."""
    config = config or {}
    environ = os.environ if environ is None else environ
    base_url, base_url_from = _sourced(BASE_URL, config, environ, config_label=config_label)
    return Credentials(
        base_url=(base_url or SANDBOX_URL).rstrip("/"),
        public_key=_value(PUBLIC_KEY, config, environ),
        private_key=_value(PRIVATE_KEY, config, environ),
        account_id=_value(ACCOUNT_ID, config, environ),
        base_url_from=base_url_from,
    )


def base_url_failure(config: Mapping[str, Any], environ: Mapping[str, str] | None = None, *,
                     config_label: str | None = None) -> str | None:
    """Check's verdict on the base URL these settings resolve to (see :func:`base_url_problem`), or ``None``."""
    creds = resolve(config, environ, config_label=config_label)
    return base_url_problem(creds.base_url, creds.base_url_from or "the default base URL")
