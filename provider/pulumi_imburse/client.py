"""A small, thread-safe client for the Imburse key-management API.

>>> client = ImburseClient(base_url, public_key, private_key)        # doctest: +SKIP
>>> tenant = client.create_tenant("Acme", Address(country="GB"))     # doctest: +SKIP
>>> key = client.create_key(tenant.tenant_id, ["tenant-app-read"])   # doctest: +SKIP

- One :class:`requests.Session` owns connection reuse; retries and backoff live in its adapter
  (:mod:`pulumi_imburse.transport`).
- One bearer token per client, obtained by one HMAC exchange however many threads ask at once,
  renewed shortly before it expires (:func:`token_refresh_at`) and once more if the service answers 401.
  An exchange that fails fails every caller that was waiting for it (:class:`~pulumi_imburse.errors.
  TokenExchangeError`): they do not each repeat it.
- Every call is one operation with one time budget (:meth:`ImburseClient.operation`), token exchange
  included; errors name the URL and how long was spent.
- Every client of the process to one account shares that account's limiter
  (:func:`~pulumi_imburse.transport.shared_limiter`): in-flight bound, ``Retry-After`` pauses, adaptive pace.
- Every failure is a typed :mod:`pulumi_imburse.errors` exception. No exception, log line or
  ``repr`` holds the private key, the bearer token or the ``Authorization`` header.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from . import routes as r
from .auth import hmac_authorization
from .config import Credentials, max_concurrent_requests, without_userinfo
from .errors import (
    AuthenticationError,
    ImburseAPIError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    TokenExchangeError,
    TransportError,
    ValidationError,
    error_class_for_status,
    redact,
)
from .models import ADDRESS_FIELDS, AccessToken, Address, ApiKey, Tenant
from .roles import normalize_roles
from .transport import (
    IDEMPOTENT_METHODS,
    NOT_ACTED_ON_STATUSES,
    POOL_MAXSIZE,
    RETRY_STATUSES,
    Budget,
    BudgetSpent,
    RateLimiter,
    RetryBudgetSpent,
    RetryPolicy,
    current_budget,
    imburse_adapter,
    operation_budget,
    repeat,
    shared_limiter,
)
from .validation import Problem, check_address, check_guid, check_name, check_tenant_roles
from .version import __version__

__all__ = ["ImburseClient", "token_refresh_at"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
"""(connect, read) timeout of one attempt, in seconds."""

_OUTCOME_UNKNOWN_STATUSES = frozenset({502, 504})
_MAY_HAVE_ACTED = "it may or may not have been carried out"

REFRESH_SHARE: Final = 0.25
"""A token is never renewed with more than this share of its lifetime left (see :func:`token_refresh_at`)."""


def token_refresh_at(obtained_at: float, expires_at: float, margin: float) -> float:
    """When to renew a token received at ``obtained_at`` that expires at ``expires_at`` (epoch seconds).

    ``margin`` seconds before it expires, but never with more than :data:`REFRESH_SHARE` of its lifetime
    left, so a token that lives no longer than the margin is still used for most of its life instead of
    being renewed on every call. A token that looks expired on arrival (this machine's clock is ahead of
    the service's) is used until the service refuses it (one 401, then one renewal).
    """
    lifetime = expires_at - obtained_at
    if not lifetime > 0:
        return math.inf
    return expires_at - min(max(margin, 0.0), lifetime * REFRESH_SHARE)


def _exchange_retryable(exc: Exception) -> bool:
    # Repeating an exchange is harmless (it only mints a token), so an unknown outcome or a server error
    # is tried again, signed afresh. Refusals (429/503) and unreachable hosts were already retried by the
    # transport within their own bounds.
    if isinstance(exc, OutcomeUnknownError):
        return True
    return isinstance(exc, ServerError) and exc.status in RETRY_STATUSES - NOT_ACTED_ON_STATUSES


def _raise_problems(problems: list[Problem], method: str, path: str) -> None:
    if problems:
        raise ValidationError("; ".join(p.reason for p in problems), method=method, path=path)


class _TokenCache:
    """The client's bearer token: one HMAC exchange at a time, shared by every thread.

    A failed exchange is handed to every caller that was already waiting for it, instead of each of them
    repeating it; a caller that arrives after the failure tries again.
    """

    def __init__(self, refresh_margin: float, *, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[AccessToken, float] | None = None
        """The token and when to renew it."""
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._finished = 0
        """Exchanges finished, with a token or a failure."""
        self._failure: ImburseAPIError | None = None
        """How the latest exchange failed, if it did."""

    def current(self) -> AccessToken | None:
        """The token, unless it is due for renewal."""
        entry = self._entry
        if entry is None:
            return None
        tok, refresh_at = entry
        return tok if self._clock() < refresh_at else None

    def get(self, fetch: Callable[[], AccessToken]) -> AccessToken:
        """The cached token, or one new token from ``fetch`` however many threads ask at once."""
        tok = self.current()
        if tok is not None:
            return tok
        seen = self._finished
        with self._lock:
            tok = self.current()
            if tok is not None:
                return tok
            if self._finished != seen and self._failure is not None:
                # The exchange this caller queued behind failed a moment ago: share its failure.
                raise copy.copy(self._failure)
            self._failure = None
            try:
                tok = fetch()
            except ImburseAPIError as exc:
                self._failure = exc
                raise
            finally:
                self._finished += 1
            self._entry = (tok, token_refresh_at(self._clock(), tok.expires_at, self._refresh_margin))
            return tok

    def invalidate(self, stale: AccessToken) -> None:
        """Forget ``stale`` unless another thread already replaced it."""
        with self._lock:
            if self._entry is not None and self._entry[0] is stale:
                self._entry = None


class ImburseClient:
    """Client of one Imburse account (or tenant) API key.

    :param base_url: e.g. ``https://sandbox-api.imbursepayments.com`` or the emulator's URL.
    :param public_key: the API key's public key.
    :param private_key: the API key's private key (base64). Kept in memory only; never logged,
        never in ``repr``; the client refuses to be pickled.
    :param account_id: sent as ``x-account-id`` when given.
    :param timeout: ``(connect, read)`` seconds for one attempt (cut to the time budget left).
    :param retry: the transport's retry policy, time budgets included (each call is one operation of at
        most ``retry.max_elapsed`` seconds; see :meth:`operation`).
    :param routes: the route table (``routes.LEGACY_ROUTES`` for the 2019 API generation).
    :param token_refresh_margin: renew the bearer token this many seconds before it expires (at most a
        quarter of its lifetime: :func:`token_refresh_at`).
    :param limiter: the account's request limiter; default: the process's for this base URL and account
        (``account_id``, else ``public_key``), bounding requests in flight to ``IMBURSE_MAX_CONCURRENT_REQUESTS``
        (:func:`~pulumi_imburse.config.max_concurrent_requests`; a bad value raises
        :class:`~pulumi_imburse.errors.ConfigurationError` naming it).
    """

    def __init__(
        self,
        base_url: str,
        public_key: str,
        private_key: str,
        *,
        account_id: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        routes: r.RouteTable = r.DEFAULT_ROUTES,
        token_refresh_margin: float = 30.0,
        pool_maxsize: int = POOL_MAXSIZE,
        limiter: RateLimiter | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url.rstrip("/")
        self.public_key = public_key
        self.__private_key = private_key
        self.account_id = account_id
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.routes = routes
        missing = [name for name in _ROUTE_NAMES if name not in routes]
        if missing:
            raise ValueError(f"route table lacks {', '.join(missing)}")
        self._tokens = _TokenCache(token_refresh_margin)
        self.token_exchanges = 0
        """How many HMAC exchanges this client has made (one per token)."""
        self._session = requests.Session()
        # No per-request environment lookups (trust_env): requests would read ~/.netrc on every call and
        # replace our Authorization header with Basic auth from a matching or `default` entry, and scan
        # os.environ for proxies each time (~0.4 ms of CPU per call). Both are taken once, here.
        self._session.trust_env = False
        self._session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._session.verify = ca_bundle
        self.limiter = limiter or shared_limiter(self.base_url, account_id or public_key, max_concurrent_requests())
        adapter = imburse_adapter(self.retry, pool_maxsize=pool_maxsize, limiter=self.limiter)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        user_agent = f"pulumi-imburse/{__version__} requests/{requests.__version__}"
        self._session.headers.update({"Accept": "application/json", "User-Agent": user_agent})

    @classmethod
    def from_credentials(cls, creds: Credentials, **kwargs: Any) -> ImburseClient:
        """A client for resolved :class:`~pulumi_imburse.config.Credentials`.

        Raises :class:`~pulumi_imburse.errors.ConfigurationError`, naming the config key and the environment
        variable, if a credential is missing or a setting is malformed (:meth:`Credentials.check`), before any
        request.
        """
        public_key, private_key = creds.validated()
        return cls(creds.base_url, public_key, private_key, account_id=creds.account_id, **kwargs)

    def __repr__(self) -> str:
        return f"ImburseClient(base_url={without_userinfo(self.base_url)!r}, public_key={self.public_key!r})"

    def __reduce__(self) -> Any:
        raise TypeError("ImburseClient holds credentials and cannot be pickled; build one at run time")

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    def __enter__(self) -> ImburseClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- time budget

    @contextlib.contextmanager
    def operation(self, seconds: float | None = None) -> Iterator[Budget]:
        """Run the enclosed calls as one operation with one time budget (default ``retry.max_elapsed``).

        Every call is already an operation of its own; this groups several (e.g. a create and the reads
        that reconcile it) so that together they take at most ``seconds``. Nested operations never outlive
        the outer one. The budget belongs to the current thread.
        """
        with operation_budget(self.retry.max_elapsed if seconds is None else seconds) as budget:
            yield budget

    # ---------------------------------------------------------------- authentication

    def access_token(self) -> AccessToken:
        """The current bearer token, exchanging an HMAC signature for a new one when needed."""
        with self.operation():
            return self._tokens.get(self._exchange)

    def _exchange(self) -> AccessToken:
        route = self.routes[r.ACCESS_TOKEN]
        attempts = 0

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            # Each attempt signs afresh: a new nonce and timestamp (a nonce is accepted once).
            header = hmac_authorization(self.public_key, self.__private_key, b"")
            return self._send(route, route.path, {"Authorization": header}, None, allow_reauth=False)

        try:
            data = repeat(attempt, policy=self.retry, retryable=_exchange_retryable)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"{exc.message} (the account key was not accepted: check imburse:publicKey and "
                "imburse:privateKey, and that this machine's clock is right: signatures older than "
                "5 minutes are rejected)",
                status=exc.status, method=exc.method, path=exc.path,
            ) from None
        except (TransportError, OutcomeUnknownError, ServerError) as exc:
            # Nothing but the exchange was sent: whatever needed the token was not carried out.
            tries = f" ({attempts} exchanges tried)" if attempts > 1 else ""
            cause = exc.message.removesuffix(f"; {_MAY_HAVE_ACTED}")
            raise TokenExchangeError(
                f"could not obtain a bearer token from {without_userinfo(self.base_url + route.path)}{tries}: "
                f"{cause}; the request that needed it was not sent",
                status=exc.status, method=exc.method, path=exc.path,
            ) from None
        self.token_exchanges += 1
        try:
            token = str(data["accessToken"])
            expires_at = int(data["expires"]) / 1000.0
        except (KeyError, TypeError, ValueError):
            raise ImburseAPIError("malformed access-token response", method=route.method, path=route.path) from None
        log.debug("obtained a bearer token valid for %.0f s", expires_at - time.time())
        return AccessToken(token, expires_at)

    # ---------------------------------------------------------------- HTTP

    def _call(self, name: str, *, params: Mapping[str, str] | None = None, body: Any = None,
              tenant_id: str | None = None) -> Any:
        route = self.routes[name]
        path = route.format(**(params or {}))
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        with self.operation():
            return self._call_in_budget(route, path, data, tenant_id)

    def _call_in_budget(self, route: r.Route, path: str, data: str | None, tenant_id: str | None) -> Any:
        reauthenticated = False
        while True:
            tok = self.access_token()
            headers = {"Authorization": f"Bearer {tok.token}"}
            if data is not None:
                headers["Content-Type"] = "application/json"
            if self.account_id:
                headers["x-account-id"] = self.account_id
            if tenant_id:
                headers["x-tenant-id"] = tenant_id
            try:
                return self._send(route, path, headers, data, allow_reauth=not reauthenticated)
            except _Reauthenticate:
                # 401 on a bearer call: the token expired or was revoked. Renew once, then give up.
                self._tokens.invalidate(tok)
                reauthenticated = True

    def _send(self, route: r.Route, path: str, headers: dict[str, str], data: str | None, *,
              allow_reauth: bool) -> Any:
        method = route.method
        url = self.base_url + path
        shown = without_userinfo(self.base_url)
        try:
            resp = self._session.request(method, url, data=data, headers=headers, timeout=self.timeout)
        except BudgetSpent as exc:
            raise TransportError(f"{exc}: {shown} was not called", method=method, path=path) from None
        except requests.exceptions.ConnectTimeout:
            raise TransportError(f"could not connect to {shown}: connect timeout{_spent()}",
                                 method=method, path=path) from None
        except requests.exceptions.ReadTimeout:
            if method in IDEMPOTENT_METHODS:
                raise TransportError(f"no response from {shown} in time{_spent()}", method=method,
                                     path=path) from None
            raise OutcomeUnknownError(f"no response from {shown} in time{_spent()} after sending the request; "
                                      f"{_MAY_HAVE_ACTED}", method=method, path=path) from None
        except requests.exceptions.ConnectionError as exc:
            reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else exc
            sent = isinstance(reason, ProtocolError) or (isinstance(exc.args[0] if exc.args else None, ProtocolError))
            if sent and method not in IDEMPOTENT_METHODS and not isinstance(reason, NewConnectionError):
                raise OutcomeUnknownError(f"the connection to {shown} was lost after sending the request; "
                                          f"{_MAY_HAVE_ACTED}", method=method, path=path) from None
            raise TransportError(f"could not reach {shown}: {_describe(reason)}{_spent()}",
                                 method=method, path=path) from None
        except requests.exceptions.RetryError as exc:
            reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
            if not isinstance(reason, RetryBudgetSpent):
                raise TransportError(f"request to {shown} failed: {exc.__class__.__name__}{_spent()}",
                                     method=method, path=path) from None
            err = error_class_for_status(reason.status)(
                f"{shown} answered HTTP {reason.status} and the time budget ran out waiting for this account's turn "
                f"to send the request again{_spent()}", status=reason.status, method=method, path=path)
            if isinstance(err, RateLimitedError):
                err.retry_after = reason.retry_after
            raise err from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"request to {shown} failed: {exc.__class__.__name__}{_spent()}",
                                 method=method, path=path) from None

        log.debug("%s %s -> %s", method, path, resp.status_code)
        if resp.status_code < 400:
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                raise ImburseAPIError("the response is not JSON", status=resp.status_code,
                                      method=method, path=path) from None
        if resp.status_code == 401 and allow_reauth and route.auth == "bearer":
            raise _Reauthenticate
        message = redact(_server_message(resp), (self.__private_key, headers.get("Authorization")))
        if method not in IDEMPOTENT_METHODS and resp.status_code in _OUTCOME_UNKNOWN_STATUSES:
            raise OutcomeUnknownError(f"{message}; {_MAY_HAVE_ACTED}",
                                      status=resp.status_code, method=method, path=path)
        cls = error_class_for_status(resp.status_code)
        err = cls(message, status=resp.status_code, method=method, path=path)
        if isinstance(err, RateLimitedError):
            err.retry_after = _float_or_none(resp.headers.get("Retry-After"))
        raise err

    # ---------------------------------------------------------------- tenants

    def create_tenant(self, name: str, address: Address | Mapping[str, str] | None = None) -> Tenant:
        """Create a tenant in the account."""
        body = _tenant_body(name, address, self.routes[r.CREATE_TENANT])
        return Tenant.from_api(self._call(r.CREATE_TENANT, body=body))

    def list_tenants(self) -> list[Tenant]:
        """Every tenant of the account."""
        return [Tenant.from_api(t) for t in _items(self._call(r.LIST_TENANTS))]

    def get_tenant(self, tenant_id: str) -> Tenant:
        """One tenant; :class:`~pulumi_imburse.errors.NotFoundError` when it does not exist."""
        self._check_tenant_id(tenant_id, r.GET_TENANT)
        return Tenant.from_api(self._call(r.GET_TENANT, params={"tenantId": tenant_id}, tenant_id=tenant_id))

    def update_tenant(self, tenant_id: str, name: str, address: Address | Mapping[str, str] | None = None) -> Tenant:
        """Replace a tenant's name and address."""
        self._check_tenant_id(tenant_id, r.UPDATE_TENANT)
        body = _tenant_body(name, address, self.routes[r.UPDATE_TENANT])
        return Tenant.from_api(self._call(r.UPDATE_TENANT, params={"tenantId": tenant_id}, body=body,
                                          tenant_id=tenant_id))

    def delete_tenant(self, tenant_id: str) -> None:
        """Delete a tenant (and with it every key it holds)."""
        self._check_tenant_id(tenant_id, r.DELETE_TENANT)
        self._call(r.DELETE_TENANT, params={"tenantId": tenant_id}, tenant_id=tenant_id)

    # ---------------------------------------------------------------- tenant keys

    def create_key(self, tenant_id: str, roles: Sequence[str], name: str | None = None) -> ApiKey:
        """Create a tenant API key. The result is the only time its ``private_key`` is known."""
        body = _key_body(tenant_id, roles, name, self.routes[r.CREATE_KEY])
        return ApiKey.from_api(self._call(r.CREATE_KEY, params={"tenantId": tenant_id}, body=body,
                                          tenant_id=tenant_id))

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        """Every key of a tenant (without private keys)."""
        self._check_tenant_id(tenant_id, r.LIST_KEYS)
        data = self._call(r.LIST_KEYS, params={"tenantId": tenant_id}, tenant_id=tenant_id)
        return [ApiKey.from_api(k) for k in _items(data)]

    def get_key(self, tenant_id: str, public_key: str) -> ApiKey:
        """One key (without its private key); :class:`~pulumi_imburse.errors.NotFoundError` if revoked."""
        self._check_tenant_id(tenant_id, r.GET_KEY)
        return ApiKey.from_api(self._call(r.GET_KEY, params={"tenantId": tenant_id, "publicKey": public_key},
                                          tenant_id=tenant_id))

    def update_key(self, tenant_id: str, public_key: str, roles: Sequence[str], name: str | None = None) -> ApiKey:
        """Change a key's roles (and name) in place."""
        body = _key_body(tenant_id, roles, name, self.routes[r.UPDATE_KEY])
        return ApiKey.from_api(self._call(r.UPDATE_KEY, params={"tenantId": tenant_id, "publicKey": public_key},
                                          body=body, tenant_id=tenant_id))

    def delete_key(self, tenant_id: str, public_key: str) -> None:
        """Revoke a key at once. Cannot be undone."""
        self._check_tenant_id(tenant_id, r.DELETE_KEY)
        self._call(r.DELETE_KEY, params={"tenantId": tenant_id, "publicKey": public_key}, tenant_id=tenant_id)

    def _check_tenant_id(self, tenant_id: str, name: str) -> None:
        route = self.routes[name]
        _raise_problems(check_guid("tenantId", tenant_id), route.method, route.path)


_ROUTE_NAMES = (r.ACCESS_TOKEN, r.CREATE_TENANT, r.LIST_TENANTS, r.GET_TENANT, r.UPDATE_TENANT, r.DELETE_TENANT,
                r.CREATE_KEY, r.LIST_KEYS, r.GET_KEY, r.UPDATE_KEY, r.DELETE_KEY)


class _Reauthenticate(Exception):
    """Internal signal: a bearer call got 401 and may be retried once with a new token."""


def _tenant_body(name: str, address: Address | Mapping[str, str] | None, route: r.Route) -> dict[str, Any]:
    addr = address.to_api() if isinstance(address, Address) else dict(address or {})
    _raise_problems(check_name("name", name, required=True) + check_address("address", addr),
                    route.method, route.path)
    body: dict[str, Any] = {"name": name}
    body.update({k: addr.get(k) or "" for k in ADDRESS_FIELDS})
    return body


def _key_body(tenant_id: str, roles: Sequence[str], name: str | None, route: r.Route) -> dict[str, Any]:
    _raise_problems(check_guid("tenantId", tenant_id) + check_tenant_roles("roles", list(roles))
                    + check_name("name", name), route.method, route.path)
    body: dict[str, Any] = {"roles": normalize_roles(list(roles))}
    if name is not None:
        body["name"] = name
    return body


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for k in ("items", "data", "keys", "tenants"):
            if isinstance(data.get(k), list):
                return list(data[k])
    return []


def _server_message(resp: requests.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        text = resp.text.strip()
        return text[:300] if text else resp.reason or "error"
    if isinstance(data, dict):
        for k in ("message", "detail", "title", "error"):
            if isinstance(data.get(k), str) and data[k]:
                return str(data[k])
    return resp.reason or "error"


def _spent() -> str:
    budget = current_budget()
    return "" if budget is None else f" ({budget.elapsed():.1f} s into a {budget.seconds:g} s budget)"


def _describe(reason: object) -> str:
    text = str(reason)
    # urllib3 puts the connection (its repr, or "HTTPConnection(host=..., port=...)") first; keep the human part.
    if ": " in text and (text.startswith("<") or text.startswith(("HTTPConnection(", "HTTPSConnection("))):
        return text.split(": ", 1)[1]
    return text


def _float_or_none(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None
