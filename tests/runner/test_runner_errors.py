"""Failures surface as StackRunnerError subclasses with the engine's messages, and state stays consistent."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulumi_imburse.testing import (
    CheckFailedError,
    ProgramError,
    ProjectError,
    ProtectedResourceError,
    ProviderError,
    StackRunner,
    StackRunnerError,
    UnsupportedResourceError,
)

from .support import PROGRAMS, Toy, urn


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


def test_protect_blocks_replace_and_delete(toy: Toy) -> None:
    toy.runner([{"name": "a", "protect": True}]).up()

    with pytest.raises(ProtectedResourceError) as replace:
        toy.runner([{"name": "a", "protect": True, "keeper": "k2"}]).up()
    assert str(replace.value) == (
        f'unable to replace resource "{urn("a")}"\nas it is currently marked for protection. To unprotect the '
        "resource, remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")

    with pytest.raises(ProtectedResourceError) as delete:
        toy.runner([]).up()
    assert str(delete.value).startswith(f'resource "{urn("a")}" cannot be deleted\nbecause it is protected.')
    assert f"`pulumi state unprotect '{urn('a')}'`" in str(delete.value)

    assert toy.writes() == [("create", "a")]
    assert [r.urn for r in toy.runner().resources() if r.custom] == [urn("a")]


def test_non_dynamic_resource_is_refused_clearly(toy: Toy) -> None:
    runner = StackRunner(PROGRAMS / "nondynamic", state_file=toy.state, passphrase="p")

    with pytest.raises(UnsupportedResourceError) as err:
        runner.up()

    message = str(err.value)
    assert "aws:s3/bucket:Bucket resource 'bucket'" in message
    assert "'aws'" in message and "only Python dynamic resources" in message


def test_check_failure_reports_property_and_reason(toy: Toy) -> None:
    with pytest.raises(CheckFailedError) as err:
        toy.runner([{"name": "a", "size": -1}]).up()
    assert str(err.value) == ("pulumi-python:dynamic/toy:Thing resource 'a': property size value {-1} has a "
                              "problem: must not be negative")
    assert err.value.failures == [("size", "must not be negative")]
    assert err.value.urn == urn("a")
    assert toy.writes() == []

    with pytest.raises(CheckFailedError, match=r"^pulumi-python:dynamic/toy:Thing resource 'b' has a problem: "
                                               r"a thing needs a value$"):
        toy.runner([{"name": "b", "value": ""}]).preview()


def test_program_failure_creates_what_it_reached_and_deletes_nothing(toy: Toy) -> None:
    toy.runner([{"name": "a"}, {"name": "b"}]).up()

    with pytest.raises(ProgramError, match="exploded on purpose") as err:
        toy.runner([{"name": "a"}, {"name": "c"}], config={"toy:explode": True}).up()

    # The engine does not delete anything when the program fails; completed steps are kept in state.
    assert toy.names() == ["a", "b", "c"]
    assert {r.urn for r in toy.runner().resources() if r.custom} == {urn("a"), urn("b"), urn("c")}
    assert "Program failed with an unhandled exception" in err.value.message


def test_provider_failure_names_the_operation_and_resource(toy: Toy) -> None:
    with pytest.raises(ProviderError) as err:
        toy.runner([{"name": "ok"}, {"name": "bad", "value": "boom", "dependsOn": ["ok"]}]).up()

    assert err.value.operation == "create" and err.value.urn == urn("bad")
    assert str(err.value) == (f"create of {urn('bad')} failed: RuntimeError: the toy cloud refused to create a "
                              "thing called boom")
    assert "Traceback" in err.value.details
    assert ("create", urn("ok")) in err.value.steps
    assert toy.names() == ["ok"]
    assert [r.urn for r in toy.runner().resources() if r.custom] == [urn("ok")]


def test_project_problems_are_project_errors(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"no Pulumi\.yaml"):
        StackRunner(tmp_path, passphrase="p").preview()
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: nodejs\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="runtime 'nodejs' is not supported"):
        StackRunner(tmp_path, passphrase="p").up()
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"__main__\.py"):
        StackRunner(tmp_path, passphrase="p").up()
    assert issubclass(ProjectError, StackRunnerError)
