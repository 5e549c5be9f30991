"""Helpers for the emulator's own tests: raw HTTP through ``requests`` and ``auth.hmac_authorization``
(never the project's client), with every path built from the route table."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorProcess

R = routes.DEFAULT_ROUTES


@dataclass
class Api:
    """Raw calls against one emulator."""

    emu: EmulatorProcess
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def base_url(self) -> str:
        return self.emu.base_url

    def exchange(self, authorization: str | None, headers: dict[str, str] | None = None,
                 data: bytes = b"") -> requests.Response:
        """POST the access-token route with this Authorization header value (or none)."""
        h = dict(headers or {})
        if authorization is not None:
            h["Authorization"] = authorization
        return self.session.post(self.base_url + R[routes.ACCESS_TOKEN].path, headers=h, data=data, timeout=10)

    def token(self, public_key: str, private_key: str) -> str:
        """A bearer token minted by an HMAC exchange with this key."""
        resp = self.exchange(hmac_authorization(public_key, private_key))
        assert resp.status_code == 200, resp.text
        return str(resp.json()["accessToken"])

    def admin_token(self) -> str:
        """A token for the bootstrap account key (role account-admin)."""
        return self.token(self.emu.public_key, self.emu.private_key)

    def call(self, name: str, token: str | None, *, json: Any = None, data: bytes | str | None = None,
             headers: dict[str, str] | None = None, **params: str) -> requests.Response:
        """Call route ``name`` with a bearer token (or without one when ``token`` is None)."""
        route = R[name]
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return self.session.request(route.method, self.base_url + route.format(**params), json=json, data=data,
                                    headers=h, timeout=10)

    def create_tenant(self, token: str, name: str = "tenant", **address: str) -> dict[str, Any]:
        resp = self.call(routes.CREATE_TENANT, token, json={"name": name, **address})
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()
        return data

    def create_key(self, token: str, tenant_id: str, roles: list[str], name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"roles": roles}
        if name is not None:
            body["name"] = name
        resp = self.call(routes.CREATE_KEY, token, json=body, tenantId=tenant_id)
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()
        return data


def assert_error(resp: requests.Response, status: int, code: str | None = None, field: str | None = None,
                 *, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The response is an error of the documented shape; returns its body."""
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    body: dict[str, Any] = resp.json()
    assert set(body) <= {"error", "message", "field"} and {"error", "message"} <= set(body), body
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code, body
    if field is not None:
        assert body.get("field") == field, body
        assert field.split(".")[0] in body["message"], body
    for secret in secrets:
        assert secret not in resp.text
    return body


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` if it does not within ``timeout`` seconds.

    A bound on waiting for something the test caused, never a measurement: nothing is asserted about how long
    it took."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout} s")
        time.sleep(0.02)


def send_raw(api: Api, method: str, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    """Send one bodiless HTTP/1.1 request on a new socket and return the socket, without reading the answer."""
    url = urlsplit(api.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Content-Length: 0",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def answered(sock: socket.socket) -> bool:
    """Whether anything (an answer or a hang-up) has arrived on ``sock``, without waiting."""
    sock.setblocking(False)
    try:
        sock.recv(1, socket.MSG_PEEK)  # data, or b"" for a hang-up
    except BlockingIOError:
        return False
    except ConnectionResetError:
        pass
    finally:
        sock.setblocking(True)
    return True
