"""StackRunner lifecycle against the toy dynamic provider: create, same, update, replace, delete, refresh,
destroy, preview, import. Each `up` runs a real program subprocess and a real provider host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulumi_imburse.testing import StackRunner

from .support import TOKEN, Toy, urn


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


def test_up_creates_then_a_second_up_changes_nothing(toy: Toy) -> None:
    things = [{"name": "a", "value": "x"}, {"name": "b", "valueFrom": "a"}]
    runner = toy.runner(things, config={"toy:structured": {"list": [1, 2], "flag": True}, "other:key": "ov"},
                        secret_config={"toy:token": TOKEN})

    first = runner.up()

    # The stack resource counts, as in the CLI's summary.
    assert first.summary.resource_changes == {"create": 3}
    assert first.summary.resource_changes["update"] == 0
    assert toy.writes() == [("create", "a"), ("create", "b")]
    assert [s.op for s in first.steps] == ["create", "create", "create"]
    assert first.steps[0].urn == "urn:pulumi:dev::things::pulumi:pulumi:Stack::things-dev"
    assert {first.outputs["a_value"].value, first.outputs["b_value"].value} == {"x", "x+"}
    assert first.outputs["a_id"].value in toy.things()
    # Structured config reaches the program as the CLI passes it (JSON text -> get_object).
    assert first.outputs["structured"].value == {"list": [1, 2], "flag": True}
    assert first.outputs["structured"].secret is False
    # Configure got the whole stack config, namespaced keys, secrets unwrapped.
    configure = [c for c in toy.data()["calls"] if c["op"] == "configure"]
    assert len(configure) == 1
    assert configure[0]["keys"] == ["other:key", "toy:store", "toy:structured", "toy:things", "toy:token"]
    assert configure[0]["token_len"] == len(TOKEN)
    assert configure[0]["other"] == "ov"
    assert "toy: creating a as" in first.provider_log

    second = runner.up()

    assert second.summary.resource_changes == {"same": 3}
    assert toy.writes() == [("create", "a"), ("create", "b")]
    assert second.outputs["a_id"].value == first.outputs["a_id"].value


def test_update_then_replace_create_before_delete_then_delete(toy: Toy) -> None:
    base = [{"name": "a", "value": "x"}, {"name": "b", "valueFrom": "a"}, {"name": "c", "value": "c1"}]
    toy.runner(base).up()
    ids = {t["name"]: i for i, t in toy.things().items()}

    # An input change is an update; b's input derives from a's output, so it changes too.
    changed = [{"name": "a", "value": "y"}, *base[1:]]
    result = toy.runner(changed).up()
    assert result.summary.resource_changes == {"update": 2, "same": 2}
    assert toy.writes()[-2:] == [("update", "a"), ("update", "b")]
    assert result.outputs["b_value"].value == "y+"

    # A `replaces` diff: the new c is created before the old one is deleted (the engine's default).
    replaced = [*changed[:2], {"name": "c", "value": "c1", "keeper": "k2"}]
    result = toy.runner(replaced).up()
    assert result.summary.resource_changes == {"replace": 1, "same": 3}
    c_ops = [s.op for s in result.steps if s.urn == urn("c")]
    assert c_ops == ["create-replacement", "replace", "delete-replaced"]
    (create_op, _, new_id), (delete_op, _, old_id) = toy.write_log()[-2:]
    assert (create_op, delete_op, old_id) == ("create", "delete", ids["c"])
    assert new_id != old_id and result.outputs["c_id"].value == new_id

    # A resource no longer declared is deleted after the program finishes.
    result = toy.runner(replaced[:2]).up()
    assert result.summary.resource_changes == {"delete": 1, "same": 3}
    assert toy.writes()[-1] == ("delete", "c")
    assert toy.names() == ["a", "b"]
    assert "c_value" not in result.outputs
    assert [r.urn for r in toy.runner().resources() if r.urn == urn("c")] == []


def test_delete_before_replace_when_asked(toy: Toy) -> None:
    toy.runner([{"name": "a", "dbr": True}]).up()
    result = toy.runner([{"name": "a", "dbr": True, "keeper": "k2"}]).up()

    assert result.summary.resource_changes == {"replace": 1, "same": 1}
    assert [s.op for s in result.steps if s.urn == urn("a")] == ["delete-replaced", "replace", "create-replacement"]
    assert [op for op, _ in toy.writes()] == ["create", "delete", "create"]


def test_ignore_changes_and_retain_on_delete(toy: Toy) -> None:
    toy.runner([{"name": "a", "value": "x", "ignoreChanges": ["value"]}, {"name": "r", "retain": True}]).up()

    result = toy.runner([{"name": "a", "value": "changed", "ignoreChanges": ["value"]}]).up()

    # `value` is ignored: same. `r` is gone from the program: deleted from the stack but not from the cloud.
    assert result.summary.resource_changes == {"same": 2, "delete": 1}
    assert result.outputs["a_value"].value == "x"
    assert sorted(toy.writes()) == [("create", "a"), ("create", "r")]  # created in parallel
    assert toy.names() == ["a", "r"]


def test_refresh_drops_a_resource_deleted_out_of_band_and_up_recreates_it(toy: Toy) -> None:
    things = [{"name": "a", "value": "v"}, {"name": "b"}]
    toy.runner(things).up()
    data = toy.data()
    data["things"] = {i: {**t, "value": "drifted"} for i, t in data["things"].items() if t["name"] != "b"}
    toy.store.write_text(json.dumps(data), encoding="utf-8")

    refreshed = toy.runner(things).refresh()

    # b is gone (dropped from state); a drifted (its Read returns new inputs, its Diff reports a change).
    assert refreshed.summary.resource_changes == {"same": 1, "update": 1, "delete": 1}
    assert [s.op for s in refreshed.steps] == ["refresh"] * 3
    state = toy.runner().resources()
    assert [r.urn for r in state] == ["urn:pulumi:dev::things::pulumi:pulumi:Stack::things-dev", urn("a")]
    assert state[1].outputs["value"] == "drifted" and state[1].inputs["value"] == "drifted"
    assert sorted(toy.writes()) == [("create", "a"), ("create", "b")]  # refresh never writes

    result = toy.runner(things).up()
    assert result.summary.resource_changes == {"create": 1, "update": 1, "same": 1}
    assert toy.names() == ["a", "b"]
    assert {t["value"] for t in toy.things().values()} == {"v"}


def test_destroy_deletes_dependents_first_and_children_before_parents(toy: Toy) -> None:
    runner = toy.runner(program="component")
    up = runner.up()

    group = "urn:pulumi:dev::component::toy:index:Group::group"
    first = "urn:pulumi:dev::component::toy:index:Group$pulumi-python:dynamic/toy:Thing::group-first"
    assert [s.urn for s in up.steps][:3] == ["urn:pulumi:dev::component::pulumi:pulumi:Stack::component-dev",
                                             group, first]
    assert up.summary.resource_changes == {"create": 5}
    assert up.outputs["after"].value == "one+two+after"
    state = {r.urn: r for r in runner.resources()}
    assert state[first].parent == group
    assert state[group].outputs == {"second": "one+two"}

    result = runner.destroy()

    assert result.summary.resource_changes == {"delete": 5}
    assert [w for w in toy.writes() if w[0] == "delete"] == [
        ("delete", "after"), ("delete", "group-second"), ("delete", "group-first")]
    deleted = [s.urn for s in result.steps]
    assert deleted.index(first) < deleted.index(group) < deleted.index(
        "urn:pulumi:dev::component::pulumi:pulumi:Stack::component-dev")
    assert runner.resources() == [] and runner.outputs() == {}
    assert toy.things() == {}


def test_preview_calls_check_and_diff_only_and_writes_nothing(toy: Toy) -> None:
    fresh = toy.runner([{"name": "a"}, {"name": "b", "valueFrom": "a"}]).preview()
    assert fresh.change_summary == {"create": 3}
    assert not toy.state.exists()
    assert toy.writes() == []

    toy.runner([{"name": "a", "value": "x"}, {"name": "gone"}]).up()
    before = toy.state.read_bytes()
    writes = toy.writes()

    result = toy.runner([{"name": "a", "value": "y"}, {"name": "new"}]).preview()

    assert result.change_summary == {"update": 1, "create": 1, "delete": 1, "same": 1}
    assert toy.state.read_bytes() == before
    assert toy.writes() == writes
    assert sorted(toy.names()) == ["a", "gone"]


def test_import_reads_the_existing_resource_and_adopts_it(toy: Toy) -> None:
    # A thing that exists in the toy cloud but in no stack.
    thing = {"name": "seed", "value": "adopt-me", "size": 1, "keeper": "k1", "token": None}
    toy.store.write_text(json.dumps({"things": {"thing-existing": thing}, "calls": []}), encoding="utf-8")
    things = [{"name": "seed", "value": "adopt-me", "import": "thing-existing"}]

    result = toy.runner(things).up()

    assert result.summary.resource_changes == {"create": 1, "import": 1}
    assert result.outputs["seed_id"].value == "thing-existing"
    assert [c["op"] for c in toy.data()["calls"]] == ["configure", "read"]
    assert toy.runner(things).up().summary.resource_changes == {"same": 2}
    assert toy.writes() == []


def test_relative_state_file_lives_in_the_project(tmp_path: Path) -> None:
    runner = StackRunner(tmp_path, state_file="s.json")
    assert runner.state_path == tmp_path.resolve() / "s.json"
