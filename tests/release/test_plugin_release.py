"""The plugin archive of dist/ on its own: self-contained, installed by ``pulumi plugin install --server`` from a
release server (checksum enforced), and served to the engine without any Python."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from pulumi_imburse.plugin import schema

from .conftest import PLUGIN_ARCHIVE, TOOLS_BIN, VERSION, checksum
from .support import assert_frozen_plugin_in


def test_archive_holds_the_executable_at_its_root_and_serves_the_schema_with_no_python(
        dist: Path, tmp_path: Path) -> None:
    with tarfile.open(dist / PLUGIN_ARCHIVE) as archive:
        names = {m.name.removeprefix("./") for m in archive.getmembers()}
        assert "pulumi-resource-imburse" in names and "_internal" in names
        archive.extractall(tmp_path / "plugin", filter="tar")
    exe = tmp_path / "plugin" / "pulumi-resource-imburse"
    # A native executable with its own Python runtime, not a script naming an interpreter (a console script's
    # absolute #! line would run without python on PATH too).
    assert exe.read_bytes()[:4] == b"\x7fELF"
    assert any(re.fullmatch(r"_internal/libpython3\.\d+\.so[.\d]*", n) for n in names)
    path = str(TOOLS_BIN)  # the Pulumi CLI alone: no python, python3, no virtualenv
    assert shutil.which("python3", path=path) is None and shutil.which("python", path=path) is None
    env = {"PATH": path, "PULUMI_HOME": str(tmp_path / "home"), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "HOME": str(tmp_path)}
    version = subprocess.run([str(exe), "--version"], env=env, capture_output=True, text=True, timeout=60,
                             check=False)
    assert version.returncode == 0 and version.stdout.strip() == VERSION, version.stderr
    got = subprocess.run([str(TOOLS_BIN / "pulumi"), "package", "get-schema", str(exe)], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert got.returncode == 0, got.stderr
    served = json.loads(got.stdout)  # GetSchema over gRPC, as the engine asks for it
    assert served["version"] == VERSION
    assert served == json.loads(schema.SCHEMA_PATH.read_text())


def test_plugin_install_from_the_release_server_checks_the_checksum(
        dist: Path, release_url: str, tmp_path: Path) -> None:
    env = {"PATH": str(TOOLS_BIN), "PULUMI_HOME": str(tmp_path / "home"), "PULUMI_SKIP_UPDATE_CHECK": "true",
           "HOME": str(tmp_path)}

    def install(sha: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TOOLS_BIN / "pulumi"), "plugin", "install", "resource", "imburse", f"v{VERSION}",
                               "--server", release_url, "--checksum", sha, "--non-interactive"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)

    def installed() -> list[dict[str, str]]:
        ls = subprocess.run([str(TOOLS_BIN / "pulumi"), "plugin", "ls", "--json"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=True)
        return [p for p in json.loads(ls.stdout or "[]") if p["name"] == "imburse"]

    assert install("0" * 64).returncode != 0
    assert installed() == []  # a wrong checksum installs nothing

    done = install(checksum(dist, PLUGIN_ARCHIVE))
    assert done.returncode == 0, done.stderr
    [plugin] = installed()
    assert plugin["version"] == VERSION
    assert_frozen_plugin_in(tmp_path / "home")


def test_archive_carries_the_aws_models_the_stores_load_and_no_other(dist: Path) -> None:
    # The end-to-end proof is tests/release/test_store_release.py; this names what scripts/plugin.spec keeps of
    # botocore's data (every AWS service's model is 29 MB, 18.5 MB of archive): the files at the top of data/, the
    # store's service (secretsmanager) and those of boto3's credential chain.
    with tarfile.open(dist / PLUGIN_ARCHIVE) as archive:
        names = {m.name.removeprefix("./") for m in archive.getmembers() if m.isfile()}
    data = "_internal/botocore/data/"
    assert {f"{data}{f}" for f in ("endpoints.json", "partitions.json", "_retry.json",
                                   "sdk-default-configuration.json")} <= names
    models = {n.removeprefix(data).split("/")[0] for n in names if n.startswith(data) and n.count("/") > 4}
    needed = {"secretsmanager", "sts", "sso", "sso-oidc"}
    assert needed <= models <= needed | {"signin"}  # signin (`aws login`): only in recent botocore releases
    assert any(n.startswith(f"{data}secretsmanager/") and "/service-2.json" in n for n in names)
