"""Run the real ``imburse-emulator`` console script as a child process (for tests, the demo, benchmarks).

::

    with EmulatorProcess() as emu:
        client = ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id)
        emu.set_faults(errorRate=1, errorStatuses=[503])
        ...

Importable without the ``emulator`` extra (it only needs ``requests``); the child needs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from ..errors import ImburseError


class EmulatorError(ImburseError):
    """The emulator process failed to start, or a test control call failed."""


_CONTROL_TIMEOUT = 10.0


def _terminate_proc(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    return proc.returncode


class EmulatorProcess:
    """The emulator console script running in a child process, with its test-only controls.

    ``db`` and ``credentials_file`` default to files in a temporary directory removed by :meth:`close`
    (called on leaving the ``with`` block).
    ``port=0`` picks a free port on first start; :meth:`restart` reuses that port, so the credentials
    file is rewritten with the same contents. ``repr`` never shows the private key.
    """

    def __init__(self, db: str | Path | None = None, credentials_file: str | Path | None = None, *,
                 host: str = "127.0.0.1", port: int = 0, latency_ms: float | None = None,
                 token_ttl: int | None = None, routes: str = "default", startup_timeout: float = 30.0,
                 env: dict[str, str] | None = None, rate_limit: float | None = None,
                 rate_burst: int | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None or credentials_file is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="imburse-emulator-")
        tmp = Path(self._tmp.name) if self._tmp else Path()
        self.db = Path(db) if db is not None else tmp / "emulator.db"
        self.credentials_file = Path(credentials_file) if credentials_file is not None else tmp / "credentials.json"
        self.log_file = (tmp if self._tmp else self.db.parent) / f"{self.db.name}.log"
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.token_ttl = token_ttl
        self.routes = routes
        self.startup_timeout = startup_timeout
        self.env = env
        self.start_rate_limit = rate_limit
        self.start_rate_burst = rate_burst
        self._proc: subprocess.Popen[bytes] | None = None
        self._credentials: dict[str, str] | None = None
        self._http = requests.Session()

    def __repr__(self) -> str:
        url = (self._credentials or {}).get("baseUrl")
        state = f"running at {url}" if self.running and url else "running" if self.running else "stopped"
        return f"<EmulatorProcess {state} db={str(self.db)!r}>"

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> EmulatorProcess:
        if not self.running:
            self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id (``None`` before the first start)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line that starts the emulator."""
        cmd = [sys.executable, "-m", "pulumi_imburse.emulator", "serve", "--host", self.host,
               "--port", str(self.port), "--db", str(self.db), "--credentials-file", str(self.credentials_file),
               "--routes", self.routes]
        if self.latency_ms is not None:
            cmd += ["--latency-ms", str(self.latency_ms)]
        if self.token_ttl is not None:
            cmd += ["--token-ttl", str(self.token_ttl)]
        if self.start_rate_limit is not None:
            cmd += ["--rate-limit", str(self.start_rate_limit)]
            if self.start_rate_burst is not None:
                cmd += ["--rate-burst", str(self.start_rate_burst)]
        return cmd

    def start(self) -> EmulatorProcess:
        """Start the child and wait (bounded by ``startup_timeout``) until it has written its credentials."""
        if self.running:
            raise EmulatorError("the emulator is already running")
        with contextlib.suppress(FileNotFoundError):
            self.credentials_file.unlink()
        self._credentials = None
        env = {**os.environ, **(self.env or {})}
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,  # noqa: S603
                                          stderr=subprocess.STDOUT, env=env)
        weakref.finalize(self, _terminate_proc, self._proc)  # never leave an orphan behind
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.005
        while True:
            if self.credentials_file.exists():
                with contextlib.suppress(ValueError, OSError):
                    self._credentials = json.loads(self.credentials_file.read_text(encoding="utf-8"))
                    break
            if self._proc.poll() is not None:
                raise EmulatorError(f"the emulator exited with status {self._proc.returncode} before it was "
                                    f"ready:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self._terminate()
                raise EmulatorError(f"the emulator was not ready within {self.startup_timeout} s:\n"
                                    f"{self._log_tail()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        self.port = int(self.base_url.rsplit(":", 1)[1])
        return self

    def _log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        return ""

    def _terminate(self) -> int | None:
        if self._proc is None:
            return None
        return _terminate_proc(self._proc)

    def stop(self) -> int | None:
        """Stop the child with SIGTERM (SIGKILL after 10 s); returns its exit status. Keeps the files."""
        self._http.close()
        return self._terminate()

    def restart(self) -> EmulatorProcess:
        """Stop and start again on the same db, port and credentials file."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the child and remove the temporary directory, if one was made."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------ credentials

    @property
    def credentials(self) -> dict[str, str]:
        """The credentials file's contents: ``{"baseUrl", "accountId", "publicKey", "privateKey"}``."""
        if self._credentials is None:
            raise EmulatorError("the emulator has not been started")
        return dict(self._credentials)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running emulator."""
        return self.credentials["baseUrl"]

    @property
    def account_id(self) -> str:
        """The bootstrap account's id."""
        return self.credentials["accountId"]

    @property
    def public_key(self) -> str:
        """The bootstrap account API key's public key (role ``account-admin``)."""
        return self.credentials["publicKey"]

    @property
    def private_key(self) -> str:
        """The bootstrap account API key's private key (never shown by ``repr``)."""
        return self.credentials["privateKey"]

    # ------------------------------------------------------------------ test-only controls

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, self.base_url + path, json=body, timeout=_CONTROL_TIMEOUT)
        if response.status_code >= 400:
            raise EmulatorError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def set_faults(self, **config: Any) -> dict[str, Any]:
        """Replace the fault configuration (keys: ``latencyMs``, ``errorRate``, ``errorStatuses``,
        ``retryAfterSeconds``, ``ambiguousRate``, ``seed``); returns the configuration in force."""
        result: dict[str, Any] = self._control("POST", "/_emulator/faults", config)
        return result

    def clear_faults(self) -> dict[str, Any]:
        """Restore the default fault configuration (only the ``--latency-ms`` latency, no errors)."""
        return self.set_faults()

    def faults(self) -> dict[str, Any]:
        """The fault configuration in force."""
        result: dict[str, Any] = self._control("GET", "/_emulator/faults")
        return result

    def stats(self) -> dict[str, Any]:
        """API request counts by route template: ``{"requests": {"POST /v1/account/tenants": 3, ...}}``, and the
        rest of ``GET /_emulator/stats`` (``inFlight``, ``throttled``, ``window``, ``retries``...)."""
        result: dict[str, Any] = self._control("GET", "/_emulator/stats")
        return result

    def set_rate_limit(self, requests_per_second: float | None, burst: int | None = None) -> dict[str, Any]:
        """Limit every account to ``requests_per_second`` (a token bucket of ``burst``, default one second's
        worth; ``None``: no limit); every bucket starts full. Returns the limit in force."""
        body: dict[str, Any] = {"requestsPerSecond": requests_per_second}
        if burst is not None:
            body["burst"] = burst
        result: dict[str, Any] = self._control("POST", "/_emulator/rate-limit", body)
        return result

    def rate_limit(self) -> dict[str, Any]:
        """The per-account rate limit in force: ``{"requestsPerSecond", "burst"}`` (``None``: no limit)."""
        result: dict[str, Any] = self._control("GET", "/_emulator/rate-limit")
        return result

    def reset_stats(self) -> None:
        """Forget the request counts."""
        self._control("DELETE", "/_emulator/stats")

    def advance_clock(self, seconds: float) -> dict[str, float]:
        """Move the emulated token clock forward (expire bearer tokens without sleeping)."""
        result: dict[str, float] = self._control("POST", "/_emulator/clock", {"advanceSeconds": seconds})
        return result

    def reset_clock(self) -> dict[str, float]:
        """Put the emulated token clock back on the wall clock."""
        result: dict[str, float] = self._control("DELETE", "/_emulator/clock")
        return result

    def create_account_key(self, roles: list[str], *, name: str | None = None,
                           new_account: bool = False) -> dict[str, Any]:
        """A new account API key with ``roles`` (in a new account when ``new_account``).

        Returns ``{"accountId", "publicKey", "privateKey", "name", "roles"}``.
        """
        body: dict[str, Any] = {"roles": roles, "newAccount": new_account}
        if name is not None:
            body["name"] = name
        result: dict[str, Any] = self._control("POST", "/_emulator/account-keys", body)
        return result

    def age_key(self, tenant_id: str, public_key: str, days: float) -> dict[str, Any]:
        """Make a tenant key ``days`` older: its ``createdAt`` moves back (rotation tests without waiting).

        Returns the key as the API shows it (``createdAt`` included). Raises :class:`EmulatorError` for an
        unknown key (HTTP 404) or a bad argument (HTTP 400 naming it).
        """
        body = {"tenantId": tenant_id, "publicKey": public_key, "days": days}
        result: dict[str, Any] = self._control("POST", "/_emulator/keys/age", body)
        return result
