"""Fixtures of the release-file tests: dist/ (built once per session by ``make dist``), a local release server, a
virtualenv made from the wheel alone (outside the checkout) and the emulator started from it.

Nothing a test here installs or runs comes from the checkout but dist/'s files and the Pulumi CLI of .tools/bin
(the user's own Pulumi install); each test works in its own temporary directory, with an empty ``PULUMI_HOME``.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.version import __version__

from ..engine import REPO

VERSION = __version__
PLUGIN_ARCHIVE = f"pulumi-resource-imburse-v{VERSION}-linux-amd64.tar.gz"
TOOLS_BIN = REPO / ".tools" / "bin"


@pytest.fixture(scope="session")
def dist() -> Path:
    """dist/, made (or found up to date) by ``make dist``; every file matches SHA256SUMS."""
    make = subprocess.run(["make", "--no-print-directory", "dist"], cwd=REPO, capture_output=True, text=True,
                          timeout=1800, check=False)
    assert make.returncode == 0, f"make dist failed:\n{make.stdout[-3000:]}{make.stderr[-3000:]}"
    out = REPO / "dist"
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    return out


def checksum(dist: Path, name: str) -> str:
    """The SHA-256 of ``name`` as SHA256SUMS gives it."""
    sums = dict(reversed(line.split(maxsplit=1)) for line in (dist / "SHA256SUMS").read_text().splitlines())
    return sums[name]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def release_url(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:PORT/releases/download/v<version>``: dist/'s files in a GitHub release's layout, served on
    loopback for the session (what ``github://api.github.com/pulumi-imburse`` resolves to once released)."""
    root = tmp_path_factory.mktemp("release-server")
    release = root / "releases" / "download" / f"v{VERSION}"
    release.mkdir(parents=True)
    for f in dist.iterdir():
        if f.is_file():
            shutil.copyfile(f, release / f.name)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/releases/download/v{VERSION}"
    finally:
        server.shutdown()
        server.server_close()


def make_venv(path: Path, *requirements: str) -> Path:
    """A virtualenv at ``path`` with ``requirements`` pip-installed (dist/ files and the registry); its bin/."""
    venv.create(path, with_pip=True)
    bin_dir = path / "bin"
    if not requirements:
        return bin_dir
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          *requirements], capture_output=True, text=True, timeout=900, check=False, cwd=path)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return bin_dir


@pytest.fixture(scope="session")
def wheel_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a virtualenv outside the checkout holding ``pulumi-imburse[emulator]`` from dist/'s wheel, the rest
    from PyPI (the dynamic resources' user: it has the plugin's console script, and no SDK)."""
    root = tmp_path_factory.mktemp("wheel-venv")
    return make_venv(root / "venv", f"{dist / f'pulumi_imburse-{VERSION}-py3-none-any.whl'}[emulator]")


@pytest.fixture(scope="session")
def sdk_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a virtualenv outside the checkout holding only the Python SDK's wheel from dist/ (and ``pulumi`` from
    PyPI): the native resources' user, whose plugin the engine downloads."""
    root = tmp_path_factory.mktemp("sdk-venv")
    return make_venv(root / "venv", str(dist / f"pulumi_imburse_sdk-{VERSION}-py3-none-any.whl"))


class WheelEmulator(EmulatorProcess):
    """The emulator run by the ``imburse-emulator`` console script of the wheel's virtualenv."""

    def __init__(self, bin_dir: Path) -> None:
        super().__init__()
        self.bin_dir = bin_dir

    def command(self) -> list[str]:
        return [str(self.bin_dir / "imburse-emulator"), *super().command()[3:]]  # [python, -m, module] replaced


@pytest.fixture(scope="session")
def wheel_emulator(wheel_venv: Path) -> Iterator[EmulatorProcess]:
    with WheelEmulator(wheel_venv) as emu:
        yield emu


def outside_path(*first: Path, plugin_on_path: bool = False) -> str:
    """A PATH for the user's shell: ``first``, the Pulumi CLI's directory, then the system's, nothing of the
    checkout (no virtualenv of it, so no Python of ours, and no ``pulumi-resource-imburse`` unless
    ``plugin_on_path``: a virtualenv of ``first`` made from the wheel has its console script)."""
    system = [p for p in os.environ.get("PATH", "").split(os.pathsep)
              if p and not Path(p).resolve().is_relative_to(REPO.resolve()) and Path(p).resolve() != TOOLS_BIN.resolve()
              and not Path(p).resolve().is_relative_to(Path(sys.prefix).resolve())]
    path = os.pathsep.join([*map(str, first), str(TOOLS_BIN), *system])
    assert plugin_on_path or shutil.which("pulumi-resource-imburse", path=path) is None, "the plugin is on PATH"
    return path
