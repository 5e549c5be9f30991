"""One version in one place (provider/pulumi_imburse/version.py), and one plugin download URL (the schema's):
every file that states them agrees."""

from __future__ import annotations

import importlib.metadata
import json
import sys

import pytest
import yaml

import pulumi_imburse
from pulumi_imburse import version
from pulumi_imburse.plugin import schema

from ..engine import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = pytest.mark.unit

V = version.__version__


def test_the_package_metadata_and_the_module_give_the_version_module_s() -> None:
    assert pulumi_imburse.__version__ == V
    assert importlib.metadata.version("pulumi-imburse") == V  # pyproject: dynamic, from version.py
    assert "version" not in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dynamic"]


def test_schema_sdks_and_policy_pack_state_the_same_version() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    assert doc["version"] == schema.version() == V
    node = json.loads((REPO / "sdk" / "nodejs" / "package.json").read_text())
    assert (node["version"], node["pulumi"]["version"]) == (V, V)
    python = tomllib.loads((REPO / "sdk" / "python" / "pyproject.toml").read_text())["project"]
    assert python["version"] == V
    for plugin_json in (REPO / "sdk" / "python" / "pulumi_imburse_sdk" / "pulumi-plugin.json",
                        REPO / "sdk" / "go" / "imburse" / "pulumi-plugin.json"):
        assert json.loads(plugin_json.read_text())["version"] == V, plugin_json
    assert yaml.safe_load((REPO / "policy" / "PulumiPolicy.yaml").read_text())["version"] == V


def test_every_sdk_carries_the_schema_s_plugin_download_url() -> None:
    url = json.loads(schema.SCHEMA_PATH.read_text())["pluginDownloadURL"]
    # github://<host>/<org>: the engine looks in the releases of <org>/pulumi-imburse
    assert url == "github://api.github.com/pulumi-imburse"
    node = json.loads((REPO / "sdk" / "nodejs" / "package.json").read_text())
    assert node["pulumi"]["server"] == url
    assert f'pluginDownloadURL: "{url}"' in (REPO / "sdk" / "nodejs" / "utilities.ts").read_text()
    for plugin_json in (REPO / "sdk" / "python" / "pulumi_imburse_sdk" / "pulumi-plugin.json",
                        REPO / "sdk" / "go" / "imburse" / "pulumi-plugin.json"):
        assert json.loads(plugin_json.read_text())["server"] == url, plugin_json
    go_utilities = (REPO / "sdk" / "go" / "imburse" / "internal" / "pulumiUtilities.go").read_text()
    assert f'pulumi.PluginDownloadURL("{url}")' in go_utilities


def test_the_sdks_require_the_pulumi_sdk_floor() -> None:
    node = json.loads((REPO / "sdk" / "nodejs" / "package.json").read_text())
    assert node["dependencies"]["@pulumi/pulumi"] == f"^{schema.SDK_PULUMI_FLOOR}"
    python = tomllib.loads((REPO / "sdk" / "python" / "pyproject.toml").read_text())["project"]
    assert f"pulumi>={schema.SDK_PULUMI_FLOOR},<4.0.0" in python["dependencies"]
