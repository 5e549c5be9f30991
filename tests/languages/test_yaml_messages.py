"""What a Pulumi YAML user is told, through the real CLI, the YAML language host and the plugin (issue 15, item 6).

- An unchanged preview shows no change, not even ``+ previousPublicKey: [unknown]`` for a RotatingTenantKey
  without a previous key (the plugin returns unset outputs as null, which the YAML host takes as known).
- A TenantKey due for rotation says why it is replaced (its age, createdAt and rotationDays) and the CLI marks
  ``rotationDays`` as the property forcing the replacement, not a regenerated ``name``.
- A preview says what the up *will* do; the up says what it did.
- Messages name properties as YAML does (``rotationDays``, ``adoptPublicKey``), numbers as written (``0``).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import Output, changes, quiet

ROT: dict[str, Any] = {"type": "imburse:index:RotatingTenantKey", "properties": {
    "tenantId": "${tenantId}", "roles": ["tenant-app-read"], "rotationDays": 90, "graceDays": 7}}
TK: dict[str, Any] = {"type": "imburse:index:TenantKey", "properties": {
    "tenantId": "${tenantId}", "roles": ["tenant-app-read"], "rotationDays": 90}}


def write_project(where: Path, **extra: Any) -> Path:
    """A YAML project with a RotatingTenantKey ``rot`` and a TenantKey ``tk`` (and ``extra`` resources)."""
    where.mkdir(exist_ok=True)
    project = {"name": "yaml-messages", "runtime": "yaml", "config": {"tenantId": {"type": "string"}},
               "resources": {"rot": ROT, "tk": TK, **extra},
               "outputs": {"publicKey": "${rot.publicKey}", "previousPublicKey": "${rot.previousPublicKey}",
                           "tkPublicKey": "${tk.publicKey}"}}
    # A copy (through JSON) shares no list or dict, so the file has no YAML alias (Pulumi YAML refuses them).
    (where / "Pulumi.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(project)), sort_keys=False))
    return where


def step_diff(events: list[auto.EngineEvent], name: str) -> tuple[list[str], dict[str, str]]:
    """The planned step of resource ``name``: the properties the CLI shows as changed, and their kinds."""
    for event in events:
        pre = event.resource_pre_event
        if pre is not None and pre.metadata.urn.endswith(f"::{name}") and pre.metadata.op.value != "refresh":
            detailed = {k: str(getattr(v.diff_kind, "value", v.diff_kind))
                        for k, v in (pre.metadata.detailed_diff or {}).items()}
            return list(pre.metadata.diffs or []), detailed
    raise AssertionError(f"no step for {name}")


def test_a_yaml_user_is_told_what_will_happen_why_and_in_yaml_names(
        emulator: EmulatorProcess, existing_tenant: str, tmp_path: Path) -> None:
    tenant = existing_tenant
    with emulated_stack(write_project(tmp_path / "project"), emulator=emulator, config={"tenantId": tenant}) as s:
        up = s.stack.up(on_output=quiet)
        first, tk = up.outputs["publicKey"].value, up.outputs["tkPublicKey"].value

        # An unchanged preview: no resource and no output changes.
        seen = Output()
        assert changes(s.stack.preview(on_output=seen)) == {}
        assert "[unknown]" not in seen.text and "previousPublicKey" not in seen.text, seen.text

        # Both keys 91 days old: the preview says why each changes, in the future tense.
        emulator.age_key(tenant, first, 91)
        emulator.age_key(tenant, tk, 91)
        seen, events = Output(), []
        assert changes(s.stack.preview(on_output=seen, on_event=events.append, refresh=True)) == {
            "update": 1, "replace": 1}
        assert f"TenantKey tk: its key {tk} is 91 days old (createdAt " in seen.text, seen.text
        assert "rotationDays 90: the update will replace it (a new key, then this one revoked)" in seen.text
        assert step_diff(events, "tk") == (["rotationDays"], {"rotationDays": "update-replace"})
        assert "RotatingTenantKey rot: its current key is 91 days old (createdAt " in seen.text
        assert "rotationDays 90: the update will rotate it" in seen.text
        assert "made a new current key" not in seen.text

        seen = Output()
        assert changes(s.stack.up(on_output=seen, refresh=True)) == {"update": 1, "replace": 1}
        second = s.stack.outputs()["publicKey"].value
        assert f"RotatingTenantKey rot: made a new current key {second}; the previous key {first} keeps working " \
               "until its grace period ends (" in seen.text, seen.text

        # The grace period over: the preview says the previous key will be revoked, the up that it was.
        emulator.age_key(tenant, second, 8)
        seen = Output()
        assert changes(s.stack.preview(on_output=seen, refresh=True)) == {"update": 1}
        assert "is over: the update will revoke it" in seen.text, seen.text
        assert "is revoked" not in seen.text and "revoked the previous key" not in seen.text
        seen = Output()
        assert changes(s.stack.up(on_output=seen, refresh=True)) == {"update": 1}
        assert f"RotatingTenantKey rot: revoked the previous key {first}: its grace period ended (" in seen.text

        # A bad number is shown as written, and named as YAML names it.
        write_project(s.work_dir, bad={"type": "imburse:index:RotatingTenantKey", "properties": {
            **ROT["properties"], "rotationDays": 0}})
        seen = Output()
        with pytest.raises(auto.CommandError) as err:
            s.stack.preview(on_output=seen)
        text = f"{err.value}\n{seen.text}"
        assert "rotationDays must be a positive whole number of days, at most 36500 (100 years), got 0\n" in text
        assert "0.0" not in text and "rotation_days" not in text

        # An error raised at create (a key to adopt that does not exist) names adoptPublicKey, not adopt_public_key.
        write_project(s.work_dir, adopted={"type": "imburse:index:TenantKey", "properties": {
            **TK["properties"], "adoptPublicKey": str(uuid.uuid4())}})
        seen = Output()
        with pytest.raises(auto.CommandError) as err:
            s.stack.up(on_output=seen)
        text = f"{err.value}\n{seen.text}"
        assert "cannot adopt key" in text and "Check tenantId and adoptPublicKey, or remove adoptPublicKey" in text
        assert "adopt_public_key" not in text and "tenant_id" not in text
