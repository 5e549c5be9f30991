"""Helpers for the StackRunner tests: a toy world (store + state) and runners over the test programs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi_imburse.testing import StackRunner

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
PASSPHRASE = "correct horse battery staple"
TOKEN = "s3cr3t-token-value"
THING = "pulumi-python:dynamic/toy:Thing"


def urn(name: str, project: str = "things", qualified_type: str = THING) -> str:
    """The URN the engine gives a top-level resource of the test programs."""
    return f"urn:pulumi:dev::{project}::{qualified_type}::{name}"


class Toy:
    """One test's world: the toy provider's store and the stack's state file, in a temporary directory."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = tmp / "store.json"
        self.state = tmp / "state.json"

    def runner(self, things: Iterable[Mapping[str, Any]] = (), *, program: str = "things",
               config: Mapping[str, Any] | None = None, secret_config: Mapping[str, Any] | None = None,
               passphrase: str | None = PASSPHRASE, env: Mapping[str, str] | None = None) -> StackRunner:
        """A runner for ``programs/<program>`` whose ``toy:things`` config is ``things``."""
        return StackRunner(
            PROGRAMS / program, stack_name="dev", state_file=self.state,
            config={"toy:store": str(self.store), "toy:things": list(things), **(config or {})},
            secret_config=secret_config, passphrase=passphrase, env=env, python_path=[HERE],
        )

    def data(self) -> dict[str, Any]:
        """The store's content."""
        if not self.store.exists():
            return {"things": {}, "calls": []}
        data: dict[str, Any] = json.loads(self.store.read_text(encoding="utf-8"))
        return data

    def writes(self) -> list[tuple[str, str]]:
        """``(op, name)`` of every create/update/delete the provider made, in order."""
        return [(c["op"], c["name"]) for c in self.data()["calls"] if c["op"] in ("create", "update", "delete")]

    def write_log(self) -> list[tuple[str, str, str]]:
        """``(op, name, id)`` of every create/update/delete, in order."""
        return [(c["op"], c["name"], c["id"]) for c in self.data()["calls"]
                if c["op"] in ("create", "update", "delete")]

    def things(self) -> dict[str, dict[str, Any]]:
        """The things that exist in the toy cloud, by id."""
        things: dict[str, dict[str, Any]] = self.data()["things"]
        return things

    def names(self) -> list[str]:
        """Names of the things that exist, sorted."""
        return sorted(t["name"] for t in self.things().values())
