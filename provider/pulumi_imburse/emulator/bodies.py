"""Request bodies: a size limit enforced while the body streams in, and the one JSON parser every route uses.

:class:`BodyLimit` is ASGI middleware in front of every route (API and ``/_emulator/*``), so it runs before
any authentication:

- a declared ``Content-Length`` over :data:`MAX_BODY_BYTES` is answered 413 at once, without reading a byte
  of the body (a client that sent ``Expect: 100-continue`` never sends it);
- otherwise the body is read chunk by chunk and the bytes are counted as they arrive (a chunked body has no
  length to trust); past the limit the request is answered 413 and the connection closed;
- a body within the limit is handed to the app whole, so a handler never waits on the client again: a request
  fully received is acted on even if the client then hangs up (as a real service would).

Memory per request is bounded by the limit, whatever the client sends.

:func:`parse_json` turns a body into a JSON value, or raises :class:`~.models.BadRequest` saying what is wrong
(naming the property where there is one): not UTF-8, nested deeper than :data:`MAX_JSON_DEPTH`, ``NaN`` /
``Infinity`` / a number too large for a float or with more than :data:`MAX_INT_DIGITS` digits, or text that
is not valid Unicode (a lone surrogate written as ``\\ud800``, in a value or a property name).
"""

from __future__ import annotations

import json
from typing import Final, NoReturn

from .extra import missing_extra

try:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from .models import BadRequest

MAX_BODY_BYTES: Final = 64 * 1024
"""The largest request body accepted (bytes). The API's largest valid body is well under 2 KiB."""

MAX_JSON_DEPTH: Final = 32
"""The deepest nesting of arrays and objects accepted (the API's bodies nest 2 deep)."""

MAX_INT_DIGITS: Final = 32
"""The most digits an integer in a body may have."""

DRAIN_BYTES: Final = 1024 * 1024
"""After a streamed body passes the limit, up to this much more is read and dropped before the 413 is sent,
so a client that sent a little too much reads the answer instead of a connection reset."""

async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"error": "PayloadTooLarge",
                       "message": f"the request body is larger than the limit of {limit} bytes"}).encode("ascii")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` header as a number (``None`` when absent; the HTTP parser rejects bad ones)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.strip()
            # More digits than the limit has means larger than the limit, without converting a huge number.
            if text.isdigit():
                return int(text) if len(text) <= 18 else 10**18
    return None


class BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` (413) while streaming, and buffer the rest whole."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client hung up before its request was complete: nothing to act on or answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._drain(receive, message)
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only ``http.disconnect`` is left to wait for

        await self.app(scope, replay, send)

    @staticmethod
    async def _drain(receive: Receive, message: Message) -> None:
        dropped = 0
        while message.get("more_body", False) and dropped <= DRAIN_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return
            dropped += len(message.get("body", b""))


# ---------------------------------------------------------------------------------------------- JSON


def _bad(message: str, field: str | None = None) -> NoReturn:
    raise BadRequest(message, field=field)


class _NotFinite:
    """Stands in for ``NaN``/``Infinity``/an overflowing or over-long number while parsing, so the value
    check can name the property that holds it."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text[:40]
        self.reason = reason


def _constant(name: str) -> _NotFinite:
    return _NotFinite(name, "is not a JSON number; numbers must be finite")


def _float(text: str) -> float | _NotFinite:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _NotFinite(text, "is too large a number")
    return value


def _int(text: str) -> int | _NotFinite:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return _NotFinite(text, f"has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _too_deep(text: str) -> bool:
    """Whether arrays/objects nest deeper than :data:`MAX_JSON_DEPTH` (a scan, no recursion)."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    """``text`` with lone surrogates escaped (``\\ud800``), safe to put in an error message."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_values(value: object) -> None:
    """Raise :class:`BadRequest` naming the first string (value or property name) that is not valid Unicode,
    or the first number that is not finite, too large or too long."""
    stack: list[tuple[object, str, str | None]] = [(value, "", None)]
    while stack:
        item, path, top = stack.pop()
        where = path or "the body"
        if isinstance(item, _NotFinite):
            _bad(f"{where} must be a finite number: {item.text} {item.reason}", top)
        elif isinstance(item, str):
            if not _is_unicode(item):
                _bad(f"{where} is not valid Unicode text: it holds a lone surrogate ({_shown(item)[:60]})", top)
        elif isinstance(item, dict):
            for key in item:
                if not _is_unicode(key):
                    shown = _shown(key)[:60]
                    inside = f" in {path}" if path else ""
                    _bad(f"the property name {shown}{inside} is not valid Unicode text: it holds a lone surrogate",
                         top or shown)
            stack.extend((child, f"{path}.{key}" if path else key, top or key)
                         for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", top) for i, child in reversed(list(enumerate(item))))


def parse_json(raw: bytes) -> object:
    """``raw`` as a JSON value; :class:`~.models.BadRequest` (400) saying what is wrong otherwise."""
    if not raw.strip():
        _bad("the request body must be a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _bad("the request body is not valid JSON: it is not UTF-8 text")
    if _too_deep(text):
        _bad(f"the request body nests arrays or objects more than {MAX_JSON_DEPTH} deep")
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except ValueError:
        _bad("the request body is not valid JSON")
    except RecursionError:  # not reached within MAX_JSON_DEPTH; a last guard, never a 500
        _bad(f"the request body nests arrays or objects more than {MAX_JSON_DEPTH} deep")
    _check_values(value)
    return value
