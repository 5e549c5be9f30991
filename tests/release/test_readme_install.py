"""The README's Install commands that use dist/'s files, run as written (tests/docs lists them with this file as
the reason: its sandbox is a copy of the checkout without ignored files, so without dist/). Each runs in bash,
from the directory the README assumes (a clone's root after ``make dist``), with its own ``PULUMI_HOME`` and
virtualenv."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ..docs.test_readme_commands import commands
from ..engine import REPO
from .conftest import PLUGIN_ARCHIVE, TOOLS_BIN, VERSION, make_venv, outside_path
from .support import assert_frozen_plugin_in

PLUGIN_FILE = f"pulumi plugin install resource imburse v{VERSION} --file dist/{PLUGIN_ARCHIVE}"
PIP_WHEELS = (f"pip install dist/pulumi_imburse-{VERSION}-py3-none-any.whl",
              f"pip install dist/pulumi_imburse_sdk-{VERSION}-py3-none-any.whl")
POLICY_PACK = (f"cd dist && tar xzf imburse-guardrails-v{VERSION}.tar.gz && cd imburse-guardrails && "
               "python3 -m venv venv && venv/bin/pip install -r requirements.txt --find-links ..")
RUN_HERE = (PLUGIN_FILE, *PIP_WHEELS, POLICY_PACK)
"""The commands this file runs: tests/docs/test_readme_commands.py's NOT_RUN names this file for each."""


def readme_command(text: str) -> str:
    """``text`` as README.md writes it (the test fails when the README no longer has it)."""
    found = {c.text for c in commands("README.md")}
    assert text in found, f"README.md no longer has `{text}`"
    return text


def bash(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, f"`{command}` failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def test_the_readme_names_the_files_make_dist_builds(dist: Path) -> None:
    install = (REPO / "README.md").read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"(?:dist/|`)((?:pulumi|imburse)[\w.-]*\.(?:whl|tar\.gz|tgz))", install))
    assert {f"pulumi_imburse-{VERSION}-py3-none-any.whl", PLUGIN_ARCHIVE, f"pulumi-imburse-imburse-{VERSION}.tgz",
            f"imburse-guardrails-v{VERSION}.tar.gz"} <= named
    assert not {f for f in named if not (dist / f).is_file()}, "the README names files make dist does not build"
    assert not set(re.findall(r"\bv?(\d+\.\d+\.\d+)\b", install)) - {VERSION, "3.269.0"}  # no stale version


def test_plugin_install_from_the_archive_file(dist: Path, tmp_path: Path) -> None:
    env = {"PATH": outside_path(), "HOME": str(tmp_path), "PULUMI_HOME": str(tmp_path / "home"),
           "PULUMI_SKIP_UPDATE_CHECK": "true"}
    assert shutil.which("pulumi", path=env["PATH"]) == str(TOOLS_BIN / "pulumi")
    bash(readme_command(PLUGIN_FILE), REPO, env)
    assert_frozen_plugin_in(tmp_path / "home")


def test_pip_install_of_the_wheels(dist: Path, tmp_path: Path) -> None:
    venv_bin = make_venv(tmp_path / "venv")
    env = {"PATH": outside_path(venv_bin), "HOME": str(tmp_path)}
    for command in PIP_WHEELS:
        bash(readme_command(command), REPO, env)
    show = bash(f"{venv_bin / 'pip'} show pulumi-imburse pulumi_imburse_sdk", REPO, env)
    assert show.count(f"Location: {tmp_path / 'venv'}") == 2 and "Editable" not in show
    assert f"Version: {VERSION}" in show


def test_policy_pack_installs_from_the_release_files(dist: Path, tmp_path: Path) -> None:
    (tmp_path / "dist").mkdir()
    for name in (f"imburse-guardrails-v{VERSION}.tar.gz", f"pulumi_imburse-{VERSION}-py3-none-any.whl"):
        shutil.copyfile(dist / name, tmp_path / "dist" / name)
    env = {"PATH": outside_path(), "HOME": str(tmp_path)}
    bash(readme_command(POLICY_PACK), tmp_path, env)
    pack = tmp_path / "dist" / "imburse-guardrails"
    assert (pack / "requirements.txt").read_text().splitlines()[-1] == f"pulumi-imburse=={VERSION}"
    where = bash("venv/bin/python -c 'import pulumi_imburse, pulumi_policy; print(pulumi_imburse.__file__)'",
                 pack, env)
    assert Path(where.strip()).is_relative_to(pack / "venv")
    assert (pack / "analyzer").stat().st_mode & 0o111  # the executable analyzer of `--policy-pack <dir>/analyzer`
