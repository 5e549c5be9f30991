"""Run the emulator: bind, serve with uvicorn, write the credentials file once listening, then say so.

The socket is bound here (``--port 0`` picks a free port) and handed to uvicorn, so the real port is
known before the credentials file is written; then one line on stderr names the URL (see
:func:`startup_line`). SIGTERM and SIGINT stop the server gracefully (exit 0).
Logging is quiet: warnings and errors only, no access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType
from typing import Any

from .extra import missing_extra

try:
    import uvicorn
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from ..routes import DEFAULT_ROUTES, RouteTable
from .models import DEFAULT_TOKEN_TTL, Backend, KeyCredentials, RateLimit
from .urls import create_app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: any free port), with ``SO_REUSEADDR``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # Nagle's algorithm and delayed ACKs add ~40 ms to every response written in two parts.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def base_url(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def write_credentials(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file in the same directory, then rename), mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def startup_line(url: str, db: str | Path, credentials_file: str | Path) -> str:
    """The one line printed once listening: where it serves, its db and credentials file (never a secret)."""
    return f"imburse-emulator: serving {url} (db {db}, credentials {credentials_file})"


def credentials_document(url: str, creds: KeyCredentials) -> dict[str, str]:
    """``{"baseUrl", "accountId", "publicKey", "privateKey"}``."""
    return {"baseUrl": url, "accountId": creds.account_id, "publicKey": creds.public_key,
            "privateKey": creds.private_key}


class _Server(uvicorn.Server):
    """uvicorn's server, except that a captured SIGTERM/SIGINT ends in a clean exit, not a re-raise."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        def stop(sig: int, frame: FrameType | None) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


async def _serve(server: _Server, sock: socket.socket, on_listening: Callable[[], None]) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task  # startup failed: re-raise
            return
        await asyncio.sleep(0.005)
    on_listening()
    await task


def serve(*, host: str = "127.0.0.1", port: int = 0, db: str | Path, credentials_file: str | Path,
          latency_ms: float = 0.0, token_ttl: int = DEFAULT_TOKEN_TTL, routes: RouteTable = DEFAULT_ROUTES,
          log_level: str = "warning", rate_limit: RateLimit | None = None) -> int:
    """Serve until SIGTERM/SIGINT; write the credentials file once listening. Returns the exit status."""
    backend = Backend(db, token_ttl=token_ttl)
    try:
        creds = backend.bootstrap()
        app = create_app(backend, routes=routes, latency_ms=latency_ms, rate_limit=rate_limit)
        sock = bind_socket(host, port)
        url = base_url(host, sock.getsockname()[1])
        config = uvicorn.Config(app, log_level=log_level, access_log=False, log_config=None,
                                server_header=False, lifespan="off", timeout_graceful_shutdown=5)
        server = _Server(config)

        def on_listening() -> None:
            write_credentials(credentials_file, credentials_document(url, creds))
            print(startup_line(url, db, credentials_file), file=sys.stderr, flush=True)

        # uvicorn's own loop choice ("auto": uvloop when installed), as Server.run would make it.
        get_factory = getattr(config, "get_loop_factory", None)
        factory = (get_factory() if get_factory else None) or asyncio.new_event_loop
        loop = factory()
        try:
            loop.run_until_complete(_serve(server, sock, on_listening))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
        return 0
    finally:
        backend.close()
