"""Every install path from dist/'s files alone, through the real CLI against the emulator of the wheel's
``[emulator]`` extra: a fresh project directory outside the checkout per language, only dist/ files (and
registries) installed, the plugin from the release archive (downloaded by the engine itself, or installed with
``pulumi plugin install --server``). Each is a project directory with its own ``Pulumi.yaml``, run with plain
``pulumi up``/``preview``/``destroy`` through the real CLI and the real language host (.tools/bin) as a user runs it,
goes through :func:`support.lifecycle` and then shows that nothing it used lives in the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin import schema

from ..engine import REPO
from .conftest import PLUGIN_ARCHIVE, VERSION, checksum
from .support import Project, assert_plugin_from_release, lifecycle, pulumi_operate

PROGRAMS = Path(__file__).parent / "programs"
PROJECT = "imburse-dist"


def client(emu: EmulatorProcess) -> ImburseClient:
    return ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id)


def write_project(project: Project, runtime: str, **extra: object) -> None:
    (project.dir / "Pulumi.yaml").write_text(yaml.safe_dump({"name": PROJECT, "runtime": runtime, **extra},
                                                            sort_keys=False))


def assert_installed_outside(venv_bin: Path, package: str) -> None:
    """``pip show -f``: the package's files are in the venv made from dist/, not the checkout."""
    show = subprocess.run([str(venv_bin / "python"), "-m", "pip", "show", "-f", package], capture_output=True,
                          text=True, timeout=60, check=True).stdout
    location = Path(re.search(r"^Location: (.+)$", show, re.M).group(1)).resolve()  # type: ignore[union-attr]
    assert location.is_relative_to(venv_bin.parent.resolve()) and not location.is_relative_to(REPO.resolve())
    assert "Editable project location" not in show


def python_project(project: Project, program: str) -> None:
    """``Pulumi.yaml`` (runtime python) and ``programs/python/<program>.py`` as ``__main__.py``."""
    write_project(project, "python")
    shutil.copyfile(PROGRAMS / "python" / f"{program}.py", project.dir / "__main__.py")


def test_python_dynamic_resources_from_the_wheel(wheel_venv: Path, wheel_emulator: EmulatorProcess,
                                                 tmp_path: Path) -> None:
    # The venv made from the wheel, activated: the language host and the dynamic-provider launcher run its python.
    project = Project(tmp_path, wheel_emulator, venv=wheel_venv)
    python_project(project, "dynamic")
    with client(wheel_emulator) as api:
        lifecycle(project, pulumi_operate(project), api)
    assert_installed_outside(wheel_venv, "pulumi-imburse")
    assert [p for p in project.plugins() if p["name"] == "imburse"] == []  # dynamic resources need no plugin
    # The wheel's pulumi-plugin.json says so: the host guesses no plugin "imburse" from the package name, so the
    # engine neither loads the venv's pulumi-resource-imburse ("using ... from $PATH") nor looks for one.
    assert "pulumi-resource-imburse" not in "".join(project.transcript)


def test_python_sdk_wheel_and_the_plugin_the_engine_downloads(sdk_venv: Path, wheel_emulator: EmulatorProcess,
                                                              release_url: str, tmp_path: Path) -> None:
    project = Project(tmp_path, wheel_emulator, venv=sdk_venv, release_url=release_url)
    python_project(project, "sdk")
    assert project.plugins() == []  # nothing installed: the engine downloads the SDK's plugin by itself
    with client(wheel_emulator) as api:
        lifecycle(project, pulumi_operate(project), api)
    assert_installed_outside(sdk_venv, "pulumi_imburse_sdk")
    assert_plugin_from_release(project)


def test_typescript_from_the_npm_tarball(dist: Path, wheel_emulator: EmulatorProcess, release_url: str,
                                         tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm must be on PATH"
    project = Project(tmp_path, wheel_emulator, release_url=release_url)
    write_project(project, "nodejs")
    (project.dir / "package.json").write_text(json.dumps({"name": PROJECT, "private": True, "main": "index.ts"}))
    for f in ("index.ts", "tsconfig.json"):
        shutil.copyfile(PROGRAMS / "typescript" / f, project.dir / f)
    # The tarball, and the oldest @pulumi/pulumi it claims (schema.SDK_PULUMI_FLOOR) from the registry.
    project.run(npm, "install", "--no-audit", "--no-fund", str(dist / f"pulumi-imburse-imburse-{VERSION}.tgz"),
                f"@pulumi/pulumi@{schema.SDK_PULUMI_FLOOR}", "typescript@5", "@types/node@20")
    installed = json.loads(project.run(npm, "ls", "--json", "--long", "--depth=0").stdout)
    sdk = installed["dependencies"]["@pulumi-imburse/imburse"]
    assert sdk["version"] == VERSION
    assert Path(sdk["path"]).resolve().is_relative_to(project.dir.resolve())
    assert installed["dependencies"]["@pulumi/pulumi"]["version"] == schema.SDK_PULUMI_FLOOR
    assert not (project.dir / "node_modules" / "@pulumi-imburse" / "imburse" / "index.ts").exists()  # compiled JS
    # Every pulumi.runtime function the SDK calls exists in that @pulumi/pulumi.
    sdk_js = "\n".join(p.read_text() for p in Path(sdk["path"]).rglob("*.js"))
    used = sorted(set(re.findall(r"pulumi\.runtime\.(\w+)\(", sdk_js)))
    assert "existsResource" in used
    check = (f"const r = require('@pulumi/pulumi').runtime; const missing = {json.dumps(used)}"
             ".filter(f => typeof r[f] !== 'function');"
             "if (missing.length) { console.error(missing); process.exit(1); }")
    project.run(node, "-e", check)
    project.run(str(project.dir / "node_modules" / ".bin" / "tsc"), "-p", ".")  # the .d.ts type-check too

    with client(wheel_emulator) as api:
        lifecycle(project, pulumi_operate(project), api)  # index.ts run by the Node.js host (ts-node)
    assert_plugin_from_release(project)


def test_go_from_the_sdk_module(dist: Path, wheel_emulator: EmulatorProcess, release_url: str,
                                tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go, "the Go toolchain must be on PATH"
    project = Project(tmp_path, wheel_emulator, path_first=(Path(go).parent,), release_url=release_url)
    write_project(project, "go")
    shutil.copyfile(PROGRAMS / "go" / "main.go", project.dir / "main.go")
    # `go get` as once the repository is public, from dist/'s module proxy layout first (the tag sdk/v<version>).
    upstream = subprocess.run([go, "env", "GOPROXY"], capture_output=True, text=True, check=True).stdout.strip()
    project.env |= {"GOPROXY": f"file://{dist / 'goproxy'},{upstream}", "GONOSUMDB": "github.com/pulumi-imburse",
                    "GOFLAGS": "-mod=mod"}
    for name in ("GOMODCACHE", "GOCACHE", "GOPATH"):
        project.env.setdefault(name, subprocess.run([go, "env", name], capture_output=True, text=True,
                                                    check=True).stdout.strip())
    project.run(go, "mod", "init", "example.com/imburse-dist")
    project.run(go, "get", f"github.com/pulumi-imburse/pulumi-imburse/sdk@v{VERSION}")
    project.run(go, "mod", "tidy")
    module = json.loads(project.run(go, "list", "-m", "-json", "github.com/pulumi-imburse/pulumi-imburse/sdk").stdout)
    assert module["Version"] == f"v{VERSION}" and "Replace" not in module
    assert not Path(module["Dir"]).resolve().is_relative_to(REPO.resolve())

    with client(wheel_emulator) as api:
        lifecycle(project, pulumi_operate(project), api)  # the Go host builds the program (go build) each run
    assert_plugin_from_release(project)


YAML_PROGRAM = {
    "config": {"ciRoles": {"type": "string"}},
    "resources": {
        "acme": {"type": "imburse:index:Tenant",
                 "properties": {"name": "Acme Payments Ltd (dist, YAML)", "address": {"country": "GB"}}},
        "ci": {"type": "imburse:index:TenantKey",
               "properties": {"tenantId": "${acme.tenantId}", "roles": {"fn::split": [",", "${ciRoles}"]}}},
        "ops": {"type": "imburse:index:TenantKey",
                "properties": {"tenantId": "${acme.tenantId}", "roles": ["tenant-app-read"]}},
    },
    "outputs": {"tenantId": "${acme.tenantId}", "ciPublicKey": "${ci.publicKey}",
                "opsPublicKey": "${ops.publicKey}"},
}


def test_pulumi_yaml_with_the_plugin_installed_from_the_release(dist: Path, wheel_emulator: EmulatorProcess,
                                                                release_url: str, tmp_path: Path) -> None:
    project = Project(tmp_path, wheel_emulator)
    write_project(project, "yaml", **YAML_PROGRAM)
    project.pulumi("plugin", "install", "resource", "imburse", f"v{VERSION}", "--server", release_url,
                   "--checksum", checksum(dist, PLUGIN_ARCHIVE))

    with client(wheel_emulator) as api:
        lifecycle(project, pulumi_operate(project), api)
    assert_plugin_from_release(project)
    assert os.environ.get("PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES") is None
