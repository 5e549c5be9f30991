"""The plugin's schema: generated from the core's facts, committed, and saying what forces a replacement."""

from __future__ import annotations

import json

import pytest

from pulumi_imburse import config as settings
from pulumi_imburse import rotating_key, tenant, tenant_key
from pulumi_imburse.plugin import schema
from pulumi_imburse.roles import TENANT_ROLES

pytestmark = pytest.mark.unit


def test_committed_schema_is_the_generated_one() -> None:
    assert schema.SCHEMA_PATH.read_text() == schema.render(), (
        "provider/pulumi_imburse/plugin/schema.json is stale: run python -m pulumi_imburse.plugin.schema")


def test_check_mode_fails_on_a_stale_file(tmp_path) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n")
    assert schema.main(["--check", "--out", str(stale)]) == 1
    assert schema.main(["--out", str(stale)]) == 0
    assert schema.main(["--check", "--out", str(stale)]) == 0


def test_names_tokens_and_languages() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    assert doc["name"] == "imburse"
    assert set(doc["resources"]) == {"imburse:index:Tenant", "imburse:index:TenantKey",
                                     "imburse:index:RotatingTenantKey"}
    assert doc["language"]["python"]["packageName"] == "pulumi_imburse_sdk"  # never the core's pulumi_imburse
    assert set(doc["language"]) == {"csharp", "go", "nodejs", "python"}


def test_provider_config_is_the_settings_table_and_the_private_key_is_secret() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    names = [*(s.name for s in settings.SETTINGS), "destination"]  # the string settings, then the keys' default
    assert list(doc["config"]["variables"]) == names == list(doc["provider"]["inputProperties"])
    for s in settings.SETTINGS:
        entry = doc["provider"]["inputProperties"][s.name]
        assert entry.get("secret", False) is s.secret
        assert s.env in entry["description"]
    assert doc["provider"]["inputProperties"]["privateKey"]["secret"] is True
    assert "privateKey" not in doc["provider"]["properties"]  # never an output of the provider resource
    # No schema default: a default in the SDKs would shadow the IMBURSE_* variables the plugin falls back to.
    assert all("default" not in v for v in doc["provider"]["inputProperties"].values())


def test_the_private_key_outputs_are_secret() -> None:
    resources = json.loads(schema.SCHEMA_PATH.read_text())["resources"]
    assert [p for p, v in resources["imburse:index:TenantKey"]["properties"].items() if v.get("secret")] == [
        "privateKey"]
    rotating = resources["imburse:index:RotatingTenantKey"]["properties"]
    assert [p for p, v in rotating.items() if v.get("secret")] == ["privateKey", "previousPrivateKey"]


def test_roles_are_the_tenant_role_enum() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    enum = doc["types"]["imburse:index:TenantRole"]["enum"]
    assert [e["value"] for e in enum] == list(TENANT_ROLES)
    roles = doc["resources"]["imburse:index:TenantKey"]["inputProperties"]["roles"]
    assert roles["items"] == {"$ref": "#/types/imburse:index:TenantRole"}


def test_wire_names_are_the_cores() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    key = doc["resources"]["imburse:index:TenantKey"]
    assert set(key["inputProperties"]) == set(tenant_key.INPUTS) - {"namePrefix"}
    assert set(key["properties"]) == set(tenant_key.OUTPUTS) - set(tenant_key.CREATE_ONLY)
    rot = doc["resources"]["imburse:index:RotatingTenantKey"]
    assert set(rot["inputProperties"]) == set(rotating_key.INPUTS) - {"namePrefix"}
    assert set(rot["properties"]) == set(rotating_key.OUTPUTS)
    assert rot["requiredInputs"] == ["tenantId", "roles", "graceDays"]  # RotatingTenantKeyArgs' required ones
    assert not {*rotating_key.PREVIOUS, "keepers", "rotationDays"} & set(rot["required"])
    ten = doc["resources"]["imburse:index:Tenant"]
    assert set(ten["inputProperties"]) == {*tenant.INPUTS, *tenant.CREATE_ONLY}
    assert set(ten["properties"]) == set(tenant.OUTPUTS) - set(tenant.CREATE_ONLY)


WHAT_A_CHANGE_DOES = ("replace", "in place", "changes nothing", "never replaces")


def _properties(doc: dict) -> list[tuple[str, str, dict]]:
    found = [("provider", k, v) for k, v in doc["provider"]["inputProperties"].items()]
    for token, res in doc["resources"].items():
        for section in ("inputProperties", "properties"):
            found += [(f"{token}.{section}", k, v) for k, v in res[section].items()]
    found += [(t, k, v) for t, typ in doc["types"].items() for k, v in typ.get("properties", {}).items()]
    return found


def test_every_property_says_what_a_change_of_it_does() -> None:
    doc = json.loads(schema.SCHEMA_PATH.read_text())
    for where, name, prop in _properties(doc):
        text = prop["description"].lower()
        assert any(w in text for w in WHAT_A_CHANGE_DOES), (where, name, prop["description"])
        assert "``" not in text and ":class:" not in text, (where, name)  # no Python markup leaks


def test_replacing_inputs_say_so() -> None:
    resources = json.loads(schema.SCHEMA_PATH.read_text())["resources"]
    key = resources["imburse:index:TenantKey"]
    for name in tenant_key.REPLACE_ON:
        assert "replaces" in key["inputProperties"][name]["description"]
    assert "in place" in key["inputProperties"]["roles"]["description"].lower()
    rot = resources["imburse:index:RotatingTenantKey"]
    for name in rotating_key.REPLACE_ON:
        assert "replaces" in rot["inputProperties"][name]["description"]
    for name in (*rotating_key.ROTATE_ON, "rotationDays"):
        text = rot["inputProperties"][name]["description"]
        assert "rotates" in text and "in place" in text, (name, text)
    # Python names never reach the language-neutral schema.
    assert "adopt_public_key" not in json.dumps(key) and "tenant_id" not in json.dumps(key)


def test_the_plugin_prints_its_schema_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    from pulumi_imburse.plugin import server

    server.main(["--schema"])
    assert json.loads(capsys.readouterr().out) == json.loads(schema.SCHEMA_PATH.read_text())
    server.main(["--version"])
    assert capsys.readouterr().out.strip() == schema.version()
