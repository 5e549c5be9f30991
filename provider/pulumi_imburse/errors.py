"""Typed errors for every way an Imburse call can fail, under one base class.

Each API error carries the HTTP ``status``, ``method``, ``path`` and the server's ``message``.
No error text ever holds a private key, a bearer token or an ``Authorization`` header: the client
passes server messages through :func:`redact` with the secrets it knows before raising.
"""

from __future__ import annotations

from collections.abc import Iterable


class ImburseError(Exception):
    """Base class of every error raised by ``pulumi_imburse``."""


class AdoptionError(ImburseError):
    """An ``adopt_*`` target (or an import) does not exist or differs from the declaration; nothing was changed."""


class ConfigurationError(ImburseError):
    """A required setting (credential, base URL) is missing or malformed."""


class ImburseAPIError(ImburseError):
    """The service answered a request with an error (or its outcome is unknown)."""

    status: int | None
    method: str
    path: str
    message: str

    def __init__(self, message: str, *, status: int | None = None, method: str = "", path: str = "") -> None:
        self.status = status
        self.method = method
        self.path = path
        self.message = message
        where = f"{method} {path}".strip()
        prefix = f"{where}: " if where else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{prefix}{code}{message}")

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: teach pickle and copy (the provider host pickles nothing, but users'
        # tools may; the client copies an error to hand one failure to several waiting threads). The
        # instance dict carries the extras a subclass sets, such as ``RateLimitedError.retry_after``.
        extras = {k: v for k, v in vars(self).items() if k not in _CORE_FIELDS}
        return (_rebuild, (type(self), self.message, self.status, self.method, self.path), extras or None)


_CORE_FIELDS = frozenset({"status", "method", "path", "message"})


def _rebuild(cls: type[ImburseAPIError], message: str, status: int | None, method: str, path: str) -> ImburseAPIError:
    return cls(message, status=status, method=method, path=path)


class AuthenticationError(ImburseAPIError):
    """401: the signature, key or bearer token was not accepted."""


class PermissionDeniedError(ImburseAPIError):
    """403: the key is valid but its roles or context do not allow the call."""


class NotFoundError(ImburseAPIError):
    """404: the tenant or key does not exist (or is not visible to this key)."""


class ConflictError(ImburseAPIError):
    """409: the request conflicts with the current state."""


class ValidationError(ImburseAPIError):
    """400/422: the request was malformed; ``message`` names the field."""


class RateLimitedError(ImburseAPIError):
    """429 after the retry budget was spent."""

    retry_after: float | None = None


class ServerError(ImburseAPIError):
    """5xx after the retry budget was spent (for a call that is safe to repeat)."""


class TransportError(ImburseAPIError):
    """The service could not be reached (connection refused, DNS, TLS), or did not answer in time, within the
    operation's time budget. The message names the URL."""


class TokenExchangeError(TransportError):
    """No bearer token could be obtained: the token endpoint could not be reached, did not answer in time or
    kept failing (5xx) within the operation's time budget.

    The request that needed the token was never sent, so nothing was created or changed: unlike
    :class:`OutcomeUnknownError` there is nothing to reconcile. (A rejected signature is an
    :class:`AuthenticationError` instead.) ``status`` is the last HTTP status, if there was an answer.
    """


class OutcomeUnknownError(ImburseAPIError):
    """A write may or may not have been carried out (read timeout, 502 or 504 after sending it).

    Repeating it blindly could act twice; callers reconcile by reading the service's state.
    """


_BY_STATUS: dict[int, type[ImburseAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def error_class_for_status(status: int) -> type[ImburseAPIError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return ImburseAPIError


REDACTED = "[REDACTED]"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret in ``secrets`` replaced by ``[REDACTED]``."""
    for s in secrets:
        if s and len(s) >= 8:
            text = text.replace(s, REDACTED)
    return text
