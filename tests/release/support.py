"""The user's side of the release-file tests: a project directory outside the checkout, the real CLI in it, and the
lifecycle every language goes through (up of a tenant and two keys, a no-change preview, a roles update in place,
destroy)."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from ..engine import REPO
from .conftest import PLUGIN_ARCHIVE, TOOLS_BIN, VERSION, outside_path

STACK = "dist"
READ, APP_READ = "tenant-transaction-read", "tenant-app-read"


class Project:
    """A project directory of a user with only dist/'s files: its own backend, ``PULUMI_HOME`` and PATH."""

    def __init__(self, root: Path, emulator: EmulatorProcess, *, path_first: tuple[Path, ...] = (),
                 venv: Path | None = None, release_url: str | None = None) -> None:
        """``venv``: the bin/ of the user's virtualenv, activated (first on PATH, ``VIRTUAL_ENV``) as the Python
        language host of .tools/bin needs: it runs the ``python`` on PATH and ignores ``virtualenv:``."""
        assert not root.resolve().is_relative_to(REPO.resolve())
        self.dir = root / "project"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.home = root / "pulumi-home"
        self.home.mkdir(exist_ok=True)
        (root / "state").mkdir(exist_ok=True)
        self.transcript: list[str] = []
        """The output of every command run in the project, in order."""
        first = (venv, *path_first) if venv is not None else path_first
        self.env = {
            "PATH": outside_path(*first, plugin_on_path=venv is not None),
            "HOME": os.environ.get("HOME", str(root)),
            "PULUMI_HOME": str(self.home),
            "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "dist-test",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "IMBURSE_BASE_URL": emulator.base_url,
            "IMBURSE_PUBLIC_KEY": emulator.public_key,
            "IMBURSE_PRIVATE_KEY": emulator.private_key,
        }
        if venv is not None:
            self.env["VIRTUAL_ENV"] = str(venv.parent)
        for name in ("GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "npm_config_cache", "PIP_CACHE_DIR", "TMPDIR"):
            if name in os.environ:
                self.env[name] = os.environ[name]
        if release_url is not None:
            # The schema's github://api.github.com/pulumi-imburse (whose source URL names the repository too),
            # pointed at the local release server.
            self.env["PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES"] = (
                rf"^github://api\.github\.com/pulumi-imburse(/pulumi-imburse)?$={release_url}")

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(list(args), cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        self.transcript.append(done.stdout + done.stderr)
        if check:
            assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        return done

    def pulumi(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run(str(TOOLS_BIN / "pulumi"), *args, "--non-interactive", timeout=timeout, check=check)

    def last_changes(self) -> dict[str, int]:
        """The resource changes of the stack's last update (``pulumi stack history``), ``same`` left out."""
        history = json.loads(self.pulumi("stack", "history", "--json", "--stack", STACK).stdout)
        return {k: v for k, v in history[0]["resourceChanges"].items() if v and k != "same"}

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.pulumi("stack", "output", "--json", "--stack", STACK).stdout)
        return out

    def plugins(self) -> list[dict[str, Any]]:
        """``pulumi plugin ls --json``: the plugins installed under this ``PULUMI_HOME``."""
        listed: list[dict[str, Any]] = json.loads(self.pulumi("plugin", "ls", "--json").stdout or "[]")
        return listed


def pulumi_operate(project: Project) -> Callable[[str], dict[str, int]]:
    """The ``operate`` of :func:`lifecycle` as a user runs it: plain ``pulumi up``/``preview``/``destroy`` in the
    project directory (its ``Pulumi.yaml``, the real language host), the change counts read back from the CLI."""
    def operate(op: str) -> dict[str, int]:
        if op == "preview":
            preview = json.loads(project.pulumi("preview", "--json", "--stack", STACK).stdout)
            return {k: v for k, v in preview["changeSummary"].items() if v and k != "same"}
        project.pulumi(op, "--yes", "--skip-preview", "--stack", STACK)
        return project.last_changes()
    return operate


def lifecycle(project: Project, operate: Callable[[str], dict[str, int]], api: ImburseClient, *,
              creates: int = 4) -> None:
    """Up of a tenant and two keys (``ci`` with the roles of config ``ciRoles``, ``ops``), a preview with no
    change, ``ciRoles`` widened (the same key updated in place), destroy; the emulator's state checked at each
    step. ``operate(op)`` runs ``up``, ``preview`` or ``destroy`` and returns the change counts."""
    project.pulumi("stack", "init", STACK)
    project.pulumi("config", "set", "ciRoles", READ, "--stack", STACK)

    assert operate("up") == {"create": creates}  # the stack, the tenant, two keys (and no provider counted)
    outputs = project.outputs()
    tenant_id, ci = outputs["tenantId"], outputs["ciPublicKey"]
    live = {k.public_key: k for k in api.list_keys(tenant_id)}
    assert set(live) == {ci, outputs["opsPublicKey"]}
    assert list(live[ci].roles) == [READ]

    assert operate("preview") == {}

    project.pulumi("config", "set", "ciRoles", f"{READ},{APP_READ}", "--stack", STACK)
    assert operate("up") == {"update": 1}
    assert project.outputs()["ciPublicKey"] == ci  # the same key
    assert sorted(api.get_key(tenant_id, ci).roles) == [APP_READ, READ]

    assert operate("destroy") == {"delete": creates}
    assert tenant_id not in {t.tenant_id for t in api.list_tenants()}


def assert_plugin_from_release(project: Project) -> None:
    """The imburse plugin that ran is the release archive's, installed under the project's ``PULUMI_HOME`` (listed
    by ``pulumi plugin ls``, which lists that directory; the project's PATH holds no plugin)."""
    [plugin] = [p for p in project.plugins() if p["name"] == "imburse"]
    assert plugin["kind"] == "resource" and plugin["version"] == VERSION
    assert_frozen_plugin_in(project.home)


def assert_frozen_plugin_in(home: Path) -> None:
    """``home``/plugins/resource-imburse-v<version> holds the archive's executable (the same bytes) and its
    ``_internal/``, and is not in the checkout."""
    installed = home / "plugins" / f"resource-imburse-v{VERSION}"
    assert not installed.resolve().is_relative_to(REPO.resolve())
    assert (installed / "_internal").is_dir()
    with tarfile.open(REPO / "dist" / PLUGIN_ARCHIVE) as archive:
        member = archive.extractfile("./pulumi-resource-imburse")
        assert member is not None
        assert (installed / "pulumi-resource-imburse").read_bytes() == member.read()
