"""A local, Imburse-compatible emulator of the key-management API (the project's embedded default).

Layout (moto-style):

- :mod:`.models`: state and rules over SQLite, no HTTP (:class:`~.models.Backend`).
- :mod:`.responses`: HTTP mapping (Starlette request -> backend -> JSON response, error bodies).
- :mod:`.urls`: the app factory; mounts one handler per route of :data:`pulumi_imburse.routes.DEFAULT_ROUTES`
  plus the test-only ``/_emulator/*`` controls.
- :mod:`.faults`: fault injection (latency, errors, commit-then-504) and request statistics.
- :mod:`.openapi`: the OpenAPI document, generated from the route table.
- :mod:`.server` / :mod:`.__main__`: the ``imburse-emulator serve`` console script.
- :mod:`.process`: :class:`~.process.EmulatorProcess`, a context manager that runs the console script.

Only :mod:`.process` is importable without the ``emulator`` extra (Starlette, uvicorn, PyJWT).
"""

from __future__ import annotations

__all__ = ["EmulatorProcess"]


def __getattr__(name: str) -> object:
    # Lazy, so ``import pulumi_imburse.emulator`` does not pull in the server stack.
    if name == "EmulatorProcess":
        from .process import EmulatorProcess

        return EmulatorProcess
    raise AttributeError(name)
