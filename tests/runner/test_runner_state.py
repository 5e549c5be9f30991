"""Unit tests (no subprocesses) for the state file, the engine's secret rules and the step helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.testing import (
    PassphraseError,
    ProjectError,
    ResourceChanges,
    ResourceState,
    StackRunner,
    StateError,
)
from pulumi_imburse.testing.runner import Project, _go_value, _process_ignore_changes
from pulumi_imburse.testing.state import (
    SECRET_SIG,
    SIG_KEY,
    StackState,
    StateFile,
    annotate_secrets,
    contains_secrets,
    dependency_order,
    make_secret,
    resolve_passphrase,
    strip_secrets,
)


def secret(value: Any) -> Any:
    return make_secret(value)


def test_strip_and_annotate_follow_the_engine() -> None:
    ins = {"a": secret("x"), "obj": {"inner": secret(1), "plain": 2}, "arr": [1, secret(2)], "b": "y"}
    assert strip_secrets(ins) == {"a": "x", "obj": {"inner": 1, "plain": 2}, "arr": [1, 2], "b": "y"}

    outs = {"a": "x", "obj": {"inner": 1, "plain": 2}, "arr": [2, 1], "b": "y", "extra": "z"}
    annotate_secrets(outs, ins)

    # Objects are recursed into, an array holding a secret becomes secret whole, others are untouched.
    assert outs == {"a": secret("x"), "obj": {"inner": secret(1), "plain": 2}, "arr": secret([2, 1]),
                    "b": "y", "extra": "z"}
    assert contains_secrets(outs) and not contains_secrets({"b": [1, {"c": 2}]})


def test_state_round_trip_encrypts_every_secret(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    res = ResourceState(urn="urn:pulumi:dev::p::t::a", type="t", custom=True, id="1",
                        inputs={"k": secret({"deep": "s3cret"}), "n": 3}, outputs={"list": [secret("s3cret")]},
                        protect=True, additional_secret_outputs=["x"], delete_before_replace=False)
    StateFile(path, lambda: "pw").save(StackState("p", "dev", [res]))

    text = path.read_text(encoding="utf-8")
    assert "s3cret" not in text
    assert text.count('"ciphertext"') == 2

    loaded = StateFile(path, lambda: "pw").load("p", "dev")
    assert loaded.resources == [res]

    with pytest.raises(PassphraseError, match="incorrect passphrase"):
        StateFile(path, lambda: "nope").load("p", "dev")
    with pytest.raises(StateError, match="not 'p'/'prod'"):
        StateFile(path, lambda: "pw").load("p", "prod")

    data = json.loads(text)
    data["resources"][0]["inputs"]["k"] = {SIG_KEY: SECRET_SIG, "value": "plain"}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StateError, match="not encrypted"):
        StateFile(path, lambda: "pw").load("p", "dev")


def test_passphrase_resolution(tmp_path: Path) -> None:
    assert resolve_passphrase("arg", {"PULUMI_CONFIG_PASSPHRASE": "env"}) == "arg"
    assert resolve_passphrase(None, {"PULUMI_CONFIG_PASSPHRASE": ""}) == ""
    (tmp_path / "pp").write_text("from-file\n", encoding="utf-8")
    assert resolve_passphrase(None, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "pp")}) == "from-file"
    with pytest.raises(PassphraseError, match="passphrase=") as err:
        resolve_passphrase(None, {})
    assert "PULUMI_CONFIG_PASSPHRASE" in str(err.value)


def test_dependency_order_puts_dependencies_and_parents_first() -> None:
    def res(name: str, *deps: str, parent: str = "") -> ResourceState:
        return ResourceState(urn=name, type="t", custom=True, dependencies=list(deps), parent=parent)

    ordered = dependency_order([res("c", "b"), res("b", parent="a"), res("a"), res("d")])
    assert [r.urn for r in ordered] == ["a", "b", "c", "d"]


def test_ignore_changes_resets_paths_to_old_values() -> None:
    warnings: list[str] = []
    new = {"a": 2, "obj": {"x": 2, "y": 2}, "gone": 1, "list": [2]}
    old = {"a": 1, "obj": {"x": 1}, "list": [1]}
    result = _process_ignore_changes(new, old, ["a", "obj.x", "obj.y", "gone", "list[0]"], warnings.append)
    assert result == {"a": 1, "obj": {"x": 1}, "list": [2]}
    assert new["a"] == 2  # not mutated
    assert warnings and "list[0]" in warnings[0]


def test_check_failure_values_print_like_the_engine() -> None:
    assert _go_value(-1) == "-1"
    assert _go_value(-1.0) == "-1"
    assert _go_value("abc") == "abc"
    assert _go_value(None) == "<nil>"
    assert _go_value(True) == "true"
    assert _go_value(secret("hidden")) == "[secret]"
    assert _go_value({"a": secret("hidden")}) == '{"a": "[secret]"}'


def test_resource_changes_reads_missing_ops_as_zero() -> None:
    changes = ResourceChanges({"create": 2})
    assert changes["update"] == 0 and changes == {"create": 2}


def test_stack_config_merges_the_stack_file_and_arguments(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: proj\nruntime: python\n", encoding="utf-8")
    (tmp_path / "__main__.py").write_text("", encoding="utf-8")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  proj:fromFile: a\n  bare: 1\n  obj:\n    k: [1, 2]\n  imburse:privateKey:\n"
        "    secure: AAABAKEY\n  ns:over: file\n", encoding="utf-8")
    runner = StackRunner(tmp_path, config={"ns:over": "arg", "n": 5}, secret_config={"imburse:privateKey": "pk"})

    config = runner._stack_config(Project.load(tmp_path))

    assert config == {
        "proj:fromFile": ("a", False), "proj:bare": ("1", False), "proj:obj": ('{"k": [1, 2]}', False),
        "ns:over": ("arg", False), "proj:n": ("5", False), "imburse:privateKey": ("pk", True),
    }
    with pytest.raises(ProjectError, match="encrypted by the Pulumi CLI"):
        StackRunner(tmp_path)._stack_config(Project.load(tmp_path))
