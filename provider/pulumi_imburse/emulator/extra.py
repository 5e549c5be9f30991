"""What to tell someone whose installation lacks the ``emulator`` extra (Starlette, uvicorn, PyJWT).

Every emulator module that imports one of those packages does so as::

    try:
        import uvicorn
    except ModuleNotFoundError as e:
        raise missing_extra(e) from None

so a missing package fails with :class:`MissingExtraError` (a :class:`ModuleNotFoundError`) that says which
extra to install and how, instead of a bare ``No module named 'uvicorn'``. This module imports nothing
outside the standard library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

EXTRA: Final = "emulator"
DISTRIBUTION: Final = "pulumi-imburse"
PLACEHOLDER: Final = "/path/to/pulumi-imburse"
"""Where the repository is, when this installation is not a checkout of it."""


class MissingExtraError(ModuleNotFoundError):
    """A package of the ``emulator`` extra is not installed; the message says how to install it."""


def _checkout() -> Path | None:
    """The repository this package runs from (an editable install or a checkout on ``sys.path``), if any."""
    root = Path(__file__).resolve().parents[3]  # <repo>/provider/pulumi_imburse/emulator/extra.py
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if f'name = "{DISTRIBUTION}"' in pyproject else None


def install_command() -> str:
    """``pip install "<repository>[emulator]"``, with this checkout's path when there is one."""
    root = _checkout()
    return f'pip install "{root if root is not None else PLACEHOLDER}[{EXTRA}]"'


def missing_extra(error: ModuleNotFoundError) -> ModuleNotFoundError:
    """The error to raise for ``error``: a :class:`MissingExtraError` for a missing third-party package;
    ``error`` itself when a module of this project is missing (that is a broken installation, not an extra)."""
    name = error.name or ""
    if not name or name.split(".")[0] == "pulumi_imburse":
        return error
    return MissingExtraError(
        f"the Imburse emulator needs the Python package {name.split('.')[0]!r}, which the {EXTRA!r} extra "
        f"installs: {install_command()} ({DISTRIBUTION} is installed from its repository, not from PyPI)",
        name=name)
