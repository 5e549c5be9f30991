"""A fault-injecting HTTP proxy on loopback, between a secret store's client and a real store server (moto_server,
a Vault dev server): store down, refusals (403, throttling, 5xx), connections reset, answers lost after the server
committed, and calls that never get an answer.

Point the store at :attr:`FaultProxy.url` instead of the server's address; everything is forwarded unchanged
(method, path, headers, body) until a test asks for a fault:

    with FaultProxy(moto_endpoint) as proxy:
        proxy.inject(AWS_THROTTLED, times=2, target="secretsmanager.PutSecretValue")
        proxy.inject(LoseAnswer(), method="POST", path=r"^/v1/secret/data/")
        with proxy.down():  # connections refused until the block ends
            ...
        proxy.count(target="secretsmanager.PutSecretValue")

It never makes the server more permissive than it is: a fault only refuses (an error status, at least 400, that the
server never saw), drops (a reset, or no answer at all), or withholds an answer the server gave. The requests it saw
are recorded (:attr:`FaultProxy.seen`: method, path, ``X-Amz-Target`` and what was done), never their bodies or
headers (a store's requests carry private keys and tokens); a predicate (``when=``) sees the body while it decides.

Used by tests/stores and by stack-level tests that put a store behind it.

moto_server as AWS: :func:`moto_server_command` runs moto_server with one fix where moto 5.2 differs from AWS in a
way a key's rotation meets. Moving ``AWSCURRENT`` with ``UpdateSecretVersionStage`` does not update moto's own idea
of the current version, so the next ``PutSecretValue`` labels the version that *was* current ``AWSPREVIOUS`` and
leaves ``AWSCURRENT`` on the one it was moved to as well: two current versions, and a withdrawn (revoked) key
previous, where AWS has one current version and the moved-from one previous. The fix makes moto track the move.
(The other difference, moto accepting writes to a secret scheduled for deletion, is answered by the proxy:
:func:`refuse_writes_to_deleted_secrets`.)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import select
import socket
import struct
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

UPSTREAM_TIMEOUT_S: Final = 60.0
STALL_LIMIT_S: Final = 120.0
"""Longest a :class:`Stall` holds a request (the client's own timeout is expected to end it far sooner)."""
HOP_BY_HOP: Final = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                               "trailers", "transfer-encoding", "upgrade", "content-length"})


@dataclass(frozen=True)
class Request:
    """One request as a rule's predicate sees it (the body included; it is not kept)."""

    method: str
    path: str
    target: str
    """The ``X-Amz-Target`` header (AWS JSON protocols: ``secretsmanager.PutSecretValue``), or ``""``."""
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    def json(self) -> Any:
        """The body as JSON (``None`` if it is not)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass(frozen=True)
class Seen:
    """One request the proxy received: what it was and what the proxy did with it."""

    method: str
    path: str
    target: str
    fault: str
    """``""`` (forwarded and answered), or the fault's name: ``respond 403``, ``reset``, ``lose-answer``, ``stall``."""
    forwarded: bool
    """The server received it (a lost answer's request was forwarded too)."""
    status: int | None = None
    """The status the server (or a :class:`Respond` fault) answered; ``None`` if there was none."""

    @property
    def operation(self) -> str:
        """The AWS operation (``PutSecretValue``), else ``METHOD /path`` without the query."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        return f"{self.method} {self.path.split('?', 1)[0]}"


class Fault:
    """What the proxy does instead of forwarding and answering."""

    name: str = "fault"


@dataclass(frozen=True)
class Respond(Fault):
    """Answer ``status`` with ``body`` without forwarding: a refusal the server never saw (status 400 or above)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status < 400:
            raise ValueError("a fault only refuses: give a status of 400 or more")

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"respond {self.status}"


@dataclass(frozen=True)
class Reset(Fault):
    """Close the connection with a TCP reset without forwarding (the client sees "connection reset")."""

    name: str = "reset"


@dataclass(frozen=True)
class LoseAnswer(Fault):
    """Forward, let the server carry the request out and answer, then close the connection without answering."""

    name: str = "lose-answer"


@dataclass(frozen=True)
class Stall(Fault):
    """Forward nothing and answer nothing until the client gives up (its timeout) or the proxy stops."""

    name: str = "stall"


def aws_error(code: str, message: str, status: int = 400) -> Respond:
    """An AWS JSON-protocol error answer, as Secrets Manager sends it."""
    return Respond(status, json.dumps({"__type": code, "message": message}).encode(),
                   {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault-proxy"})


def vault_error(status: int, *errors: str) -> Respond:
    """A Vault error answer: ``{"errors": [...]}``."""
    return Respond(status, json.dumps({"errors": list(errors)}).encode(), {"Content-Type": "application/json"})


AWS_THROTTLED: Final = aws_error("ThrottlingException", "Rate exceeded")
AWS_ACCESS_DENIED: Final = aws_error(
    "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
    "secretsmanager:PutSecretValue on resource: imburse/x because no identity-based policy allows the "
    "secretsmanager:PutSecretValue action")
AWS_UNRECOGNIZED_CLIENT: Final = aws_error("UnrecognizedClientException",
                                           "The security token included in the request is invalid.")
AWS_MARKED_FOR_DELETION: Final = aws_error(
    "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
"""What AWS answers a ``PutSecretValue`` to a secret scheduled for deletion (moto_server 5.2 accepts it)."""
VAULT_DENIED: Final = vault_error(403, "permission denied")
VAULT_SEALED: Final = vault_error(503, "Vault is sealed")
VAULT_RATE_LIMITED: Final = vault_error(429, "request path \"secret/data/imburse\": rate limit quota exceeded")


@dataclass
class Rule:
    """A fault for the next ``remaining`` matching requests (``None``: every one until :meth:`FaultProxy.clear`)."""

    fault: Fault
    remaining: int | None
    method: str | None = None
    path: re.Pattern[str] | None = None
    target: str | None = None
    when: Callable[[Request], bool] | None = None
    hits: int = 0

    def matches(self, request: Request) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.method is not None and request.method != self.method.upper():
            return False
        if self.target is not None and request.target != self.target:
            return False
        if self.path is not None and not self.path.search(request.path):
            return False
        return self.when is None or self.when(request)


class FaultProxy:
    """A threaded HTTP/1.1 proxy on ``127.0.0.1`` (a free port) in front of ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the fault proxy forwards to a loopback http:// server only, not {upstream!r}")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        self.port = 0
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._seen: list[Seen] = []
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: where the store's client goes."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._stopping.clear()
        self._listen(self.port)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """The store is down for the block: the port refuses connections (open ones are closed); back after it."""
        self._close()
        try:
            yield
        finally:
            self._listen(self.port)

    # ------------------------------------------------------------------ faults

    def inject(self, fault: Fault, *, times: int | None = 1, method: str | None = None, path: str | None = None,
               target: str | None = None, when: Callable[[Request], bool] | None = None) -> Rule:
        """``fault`` for the next ``times`` requests (``None``: all) matching ``method``, ``path`` (a regular
        expression searched in the path and query), ``target`` (``X-Amz-Target``) and ``when``. The first rule
        that matches a request (in the order injected) decides."""
        rule = Rule(fault, times, method, re.compile(path) if path is not None else None, target, when)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """No more faults: everything is forwarded."""
        with self._lock:
            self._rules.clear()

    # ------------------------------------------------------------------ what it saw

    @property
    def seen(self) -> list[Seen]:
        """The requests received so far, in order."""
        with self._lock:
            return list(self._seen)

    def forget(self) -> None:
        """Start counting afresh."""
        with self._lock:
            self._seen.clear()

    def count(self, *, target: str | None = None, method: str | None = None, path: str | None = None,
              forwarded: bool | None = None) -> int:
        """How many requests received match (``path``: a regular expression searched in the path)."""
        pattern = re.compile(path) if path is not None else None
        return sum(1 for s in self.seen
                   if (target is None or s.target == target) and (method is None or s.method == method.upper())
                   and (pattern is None or pattern.search(s.path))
                   and (forwarded is None or s.forwarded == forwarded))

    def operations(self) -> list[str]:
        """:attr:`Seen.operation` of every request received, in order."""
        return [s.operation for s in self.seen]

    # ------------------------------------------------------------------ internals

    def _take(self, request: Request) -> Fault | None:
        with self._lock:
            rules = list(self._rules)
        for rule in rules:  # predicates run outside the lock: one may call the server itself
            if rule.matches(request):
                with self._lock:
                    if rule.remaining is not None:
                        if rule.remaining <= 0:
                            continue
                        rule.remaining -= 1
                    rule.hits += 1
                return rule.fault
        return None

    def _record(self, request: Request, fault: Fault | None, forwarded: bool, status: int | None = None) -> None:
        with self._lock:
            self._seen.append(Seen(request.method, request.path, request.target, fault.name if fault else "",
                                   forwarded, status))

    def _listen(self, port: int) -> None:
        server = _Server(("127.0.0.1", port), _Handler)
        server.proxy = self
        self.port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fault-proxy-{self.port}", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._connections.add if alive else self._connections.discard)(conn)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.proxy._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in FaultProxy.seen; the stderr access log would only add noise

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        proxy = self.server.proxy
        request = Request(self.command, self.path, self.headers.get("X-Amz-Target", ""),
                          {k: v for k, v in self.headers.items()}, self._body())
        fault = proxy._take(request)
        if isinstance(fault, Respond):
            proxy._record(request, fault, forwarded=False, status=fault.status)
            self._answer(fault.status, fault.headers.items(), fault.body)
        elif isinstance(fault, Reset):
            proxy._record(request, fault, forwarded=False)
            self._drop(reset=True)
        elif isinstance(fault, Stall):
            proxy._record(request, fault, forwarded=False)
            self._stall()
        else:
            answer = self._forward(request)
            proxy._record(request, fault, forwarded=True, status=answer[0] if answer else None)
            if answer is None or isinstance(fault, LoseAnswer):
                self._drop(reset=False)
            else:
                status, headers, body = answer
                self._answer(status, headers, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_LIST = _handle

    def _forward(self, request: Request) -> tuple[int, list[tuple[str, str]], bytes] | None:
        proxy = self.server.proxy
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=UPSTREAM_TIMEOUT_S)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream.request(request.method, request.path, body=request.body or None, headers=headers)
            response = upstream.getresponse()
            body = response.read()
            return response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP], body
        except OSError:
            return None  # the server is unreachable: the client sees the connection dropped
        finally:
            upstream.close()

    def _answer(self, status: int, headers: Any, body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _drop(self, *, reset: bool) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            if reset:  # SO_LINGER 0: close sends RST
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

    def _stall(self) -> None:
        stopping = self.server.proxy._stopping
        waited = 0.0
        while waited < STALL_LIMIT_S and not stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            waited += 0.05
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        break  # the client hung up
                except OSError:
                    break
        self._drop(reset=False)


WRITES_AWS_REFUSES_WHEN_DELETED: Final = frozenset({"secretsmanager.PutSecretValue",
                                                   "secretsmanager.UpdateSecretVersionStage"})
"""Writes AWS refuses on a secret scheduled for deletion and moto_server 5.2 carries out."""


def refuse_writes_to_deleted_secrets(proxy: FaultProxy, deleted: Callable[[str], bool]) -> Rule:
    """Make moto_server answer as AWS does: a write (:data:`WRITES_AWS_REFUSES_WHEN_DELETED`) to a secret scheduled
    for deletion is refused with ``InvalidRequestException`` (moto 5.2 carries it out and leaves the secret
    deleted). ``deleted(secret_id)`` asks the server itself (e.g. ``describe_secret``'s ``DeletedDate``, straight
    to moto, not through the proxy)."""

    def write_to_deleted(request: Request) -> bool:
        body = request.json()
        return (request.target in WRITES_AWS_REFUSES_WHEN_DELETED and isinstance(body, dict)
                and bool(deleted(str(body.get("SecretId", "")))))

    return proxy.inject(AWS_MARKED_FOR_DELETION, times=None, when=write_to_deleted)


def moto_server_command(host: str, port: int) -> list[str]:
    """The command that runs moto_server on ``host:port`` with AWS's ``AWSCURRENT`` move (module docs); run it with
    the repository's root as the working directory (``tests`` is imported from there)."""
    return [sys.executable, "-m", "tests.support.store_faults", "moto_server", "-H", host, "-p", str(port)]


def _moto_moves_current_as_aws_does() -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage

    def update_secret_version_stage(self: Any, secret_id: str, version_stage: str, remove_from_version_id: str,
                                    move_to_version_id: str) -> tuple[str, str]:
        answer = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]


if __name__ == "__main__" and sys.argv[1:2] == ["moto_server"]:
    _moto_moves_current_as_aws_does()
    from moto.server import main

    main(sys.argv[2:])
