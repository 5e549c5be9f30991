"""Malformed and hostile input gets a 4xx naming what is wrong, never a 5xx, and never costs unbounded memory.

Each row of :data:`CASES` once answered 5xx (issue 10, item 10): an HMAC timestamp of Unicode digits or of
5,000 digits (unauthenticated), lone surrogates in names, field names and roles, 100k-deep JSON (also on the
unauthenticated ``/_emulator/faults``), ``/_emulator/clock`` with ``Infinity``/``NaN``/huge numbers (which
then broke every exchange). After each row the emulator still serves a token exchange and a key create.

Bodies are bounded: a declared ``Content-Length`` over the limit is refused with 413 before any of the body
is read, and a chunked body is counted while it streams and refused once it passes the limit, so a 256 MiB
unauthenticated body never reaches memory (measured: the emulator's peak resident set, ``VmHWM``).
"""

from __future__ import annotations

import select
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization, new_nonce
from pulumi_imburse.emulator.process import EmulatorProcess

from .helpers import Api, R, assert_error

DEEP = 100_000
FITS = 20_000
MiB = 1024 * 1024
HOSTILE_BODY = 256 * MiB
MEMORY_SLACK = 32 * MiB
"""How much the emulator's peak memory may grow while refusing a 256 MiB body (the limit is 64 KiB)."""


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Case:
    """One hostile request and the 4xx it must get."""

    id: str
    send: Callable[[Api, str, str], requests.Response]  # (api, admin token, tenant id)
    status: int
    code: str | None = None
    field: str | None = None


def _exchange_with(authorization: Callable[[Api], str]) -> Callable[[Api, str, str], requests.Response]:
    return lambda api, _admin, _tid: api.exchange(authorization(api))


def _raw(route: str, body: bytes, *, auth: bool = True) -> Callable[[Api, str, str], requests.Response]:
    def send(api: Api, admin: str, tid: str) -> requests.Response:
        return api.call(route, admin if auth else None, data=body, headers={"Content-Type": "application/json"},
                        tenantId=tid)
    return send


def _control(method: str, path: str, body: bytes) -> Callable[[Api, str, str], requests.Response]:
    def send(api: Api, _admin: str, _tid: str) -> requests.Response:
        return api.session.request(method, api.base_url + path, data=body, timeout=30,
                                   headers={"Content-Type": "application/json"})
    return send


def _hmac(timestamp: str, signature: str = "c2ln") -> Callable[[Api], str]:
    return lambda api: f"Hmac {api.emu.public_key}:{new_nonce()}:{timestamp}:{signature}"


def _non_ascii_signature(api: Api) -> str:
    header = hmac_authorization(api.emu.public_key, api.emu.private_key)
    return header[:-2] + "\xe9="  # a known key, a valid timestamp, a signature with a non-ASCII character


CASES = [
    Case("hmac-timestamp-unicode-digit", _exchange_with(_hmac("\xb2")), 401, "MalformedAuthorization"),
    Case("hmac-timestamp-5000-digits", _exchange_with(_hmac("9" * 5000)), 401, "MalformedAuthorization"),
    Case("hmac-signature-not-ascii", _exchange_with(_non_ascii_signature), 401),
    Case("surrogate-in-tenant-name", _raw(routes.CREATE_TENANT, b'{"name": "\\ud800"}'), 400, field="name"),
    Case("surrogate-in-tenant-field-name", _raw(routes.CREATE_TENANT, b'{"name": "ok", "\\udc00x": "1"}'), 400),
    Case("surrogate-in-key-name", _raw(routes.CREATE_KEY, b'{"roles": ["tenant-admin"], "name": "a\\udfff"}'),
         400, field="name"),
    Case("surrogate-in-key-field-name", _raw(routes.CREATE_KEY, b'{"roles": ["tenant-admin"], "\\ud83d": 1}'), 400),
    Case("surrogate-in-role", _raw(routes.CREATE_KEY, b'{"roles": ["\\ud800"]}'), 400, field="roles"),
    Case("surrogate-as-utf8-bytes", _raw(routes.CREATE_TENANT, b'{"name": "\xed\xa0\x80"}'), 400),
    # 100k deep is 200 KB: over the body limit (413). 20k deep fits the limit: the depth bound refuses it (400).
    Case("deep-json-100k-create-tenant", _raw(routes.CREATE_TENANT, _deep(DEEP)), 413, "PayloadTooLarge"),
    Case("deep-json-100k-token-route", _raw(routes.ACCESS_TOKEN, _deep(DEEP), auth=False), 413, "PayloadTooLarge"),
    Case("deep-json-100k-faults-control", _control("POST", "/_emulator/faults", _deep(DEEP)), 413,
         "PayloadTooLarge"),
    Case("deep-json-20k-create-tenant", _raw(routes.CREATE_TENANT, _deep(FITS)), 400, "ValidationError"),
    Case("deep-json-20k-faults-control", _control("POST", "/_emulator/faults", _deep(FITS)), 400, "ValidationError"),
    Case("deep-json-20k-in-a-property", _control("POST", "/_emulator/faults", b'{"seed": ' + _deep(FITS) + b"}"),
         400, "ValidationError"),
    Case("deep-json-20k-account-keys", _control("POST", "/_emulator/account-keys", _deep(FITS)), 400),
    Case("clock-infinity", _control("POST", "/_emulator/clock", b'{"advanceSeconds": Infinity}'), 400,
         field="advanceSeconds"),
    Case("clock-nan", _control("POST", "/_emulator/clock", b'{"advanceSeconds": NaN}'), 400, field="advanceSeconds"),
    Case("clock-1e400", _control("POST", "/_emulator/clock", b'{"advanceSeconds": 1e400}'), 400,
         field="advanceSeconds"),
    Case("clock-1e308", _control("POST", "/_emulator/clock", b'{"advanceSeconds": 1e308}'), 400,
         field="advanceSeconds"),
    Case("faults-seed-5000-digits", _control("POST", "/_emulator/faults", b'{"seed": ' + b"9" * 5000 + b"}"), 400,
         field="seed"),
    Case("key-name-5000-digit-number", _raw(routes.CREATE_KEY, b'{"roles": ["tenant-admin"], "name": 1' + b"0" * 5000
                                            + b"}"), 400, field="name"),
]


def _still_serves(api: Api) -> None:
    """A token exchange and a key create still work (the emulator's state was not broken)."""
    admin = api.admin_token()
    tenant = api.create_tenant(admin, f"after-{uuid.uuid4()}")
    api.create_key(admin, tenant["tenantId"], ["tenant-admin"], "after")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_gets_a_4xx_naming_it(api: Api, admin: str, tenant: dict[str, Any], case: Case) -> None:
    resp = case.send(api, admin, tenant["tenantId"])
    body = assert_error(resp, case.status, case.code, case.field)
    assert "\\ud" not in body.get("field", "") or body["field"].isascii()
    _still_serves(api)


def test_clock_cannot_be_pushed_past_its_bound(api: Api, emulator: EmulatorProcess) -> None:
    """Many legal advances add up to a bounded offset: the one that would pass it is refused."""
    for _ in range(200):
        resp = api.session.post(api.base_url + "/_emulator/clock", json={"advanceSeconds": 1e8}, timeout=10)
        if resp.status_code != 200:
            break
    assert_error(resp, 400, field="advanceSeconds")
    emulator.reset_clock()
    _still_serves(api)


def test_a_key_cannot_be_aged_past_its_bound(api: Api, admin: str, tenant: dict[str, Any],
                                             emulator: EmulatorProcess) -> None:
    key = api.create_key(admin, tenant["tenantId"], ["tenant-app-read"], "old")
    body = {"tenantId": tenant["tenantId"], "publicKey": key["publicKey"], "days": 36500}
    statuses = [api.session.post(api.base_url + "/_emulator/keys/age", json=body, timeout=10).status_code
                for _ in range(30)]
    assert statuses[0] == 200 and 400 in statuses, statuses
    listed = api.call(routes.LIST_KEYS, admin, tenantId=tenant["tenantId"])
    assert listed.status_code == 200 and key["publicKey"] in {k["publicKey"] for k in listed.json()}


# ---------------------------------------------------------------------------------------------- body size


def _peak_rss(pid: int | None) -> int:
    """The process's peak resident set size in bytes (``VmHWM``)."""
    assert pid is not None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _connect(api: Api) -> socket.socket:
    url = urlsplit(api.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def _status_of(sock: socket.socket) -> int | None:
    """The status of the response on ``sock``, or None when the connection was reset before one arrived."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    if not data.startswith(b"HTTP/1.1 "):
        return None
    return int(data.split()[1])


def _stream(sock: socket.socket, head: bytes, total: int, *, chunked: bool) -> int:
    """Send ``head`` then up to ``total`` body bytes, stopping as soon as the server answers, hangs up or stops
    reading for 10 s. Returns the number of body bytes sent."""
    sock.sendall(head)
    block = b"x" * (64 * 1024)
    piece = memoryview((b"%x\r\n" % len(block)) + block + b"\r\n" if chunked else block)
    sent = offset = 0
    while sent < total:
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable or not writable:
            return sent  # an answer (or a hang-up) is waiting, or the server stopped reading
        try:
            offset += sock.send(piece[offset:])
        except (BrokenPipeError, ConnectionResetError):
            return sent
        if offset == len(piece):
            sent, offset = sent + len(block), 0
    if chunked:
        sock.sendall(b"0\r\n\r\n")
    return sent


def _head(api: Api, route: str, extra: str) -> bytes:
    url = urlsplit(api.base_url)
    return (f"{R[route].method} {R[route].path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: application/json\r\n{extra}\r\n").encode("ascii")


def test_a_declared_oversized_body_is_refused_before_it_is_read(api: Api, emulator: EmulatorProcess) -> None:
    with _connect(api) as sock:
        sock.sendall(_head(api, routes.ACCESS_TOKEN, f"Content-Length: {HOSTILE_BODY}\r\n"))
        assert _status_of(sock) == 413  # answered from the header alone: no body byte was sent
    with _connect(api) as sock:  # the same for a control route (no authentication at all)
        sock.sendall(f"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: {HOSTILE_BODY}\r\n\r\n"
                     .encode("ascii"))
        assert _status_of(sock) == 413
    _still_serves(api)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_256_mib_unauthenticated_body_costs_bounded_memory(chunked: bool) -> None:
    """A client streams 256 MiB to the token route without credentials; the server stops reading early.

    A fresh emulator each time: its peak memory (a high-water mark) then measures this request alone.
    """
    with EmulatorProcess() as emu:
        api = Api(emu)
        _still_serves(api)  # warm: the first requests' own allocations are not counted
        before = _peak_rss(emu.pid)
        extra = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {HOSTILE_BODY}\r\n"
        with _connect(api) as sock:
            sent = _stream(sock, _head(api, routes.ACCESS_TOKEN, extra), HOSTILE_BODY, chunked=chunked)
            status = _status_of(sock)
        grown = _peak_rss(emu.pid) - before
        assert grown < MEMORY_SLACK, f"peak memory grew by {grown / MiB:.1f} MiB for a body of {sent / MiB:.1f} MiB"
        assert sent < HOSTILE_BODY, "the server read the whole 256 MiB body"
        assert status in (413, None), status  # None: the server hung up before the client read its 413
        _still_serves(api)
        api.session.close()


def test_an_oversized_chunked_body_is_answered_413(api: Api) -> None:
    """Just over the limit, sent whole before reading: the answer is 413 (not a reset, not a 5xx)."""
    body = b'{"name": "' + b"x" * (70 * 1024) + b'"}'
    resp = api.call(routes.CREATE_TENANT, api.admin_token(), data=iter([body]),
                    headers={"Content-Type": "application/json"})
    assert_error(resp, 413, "PayloadTooLarge")
