"""A file-backed toy dynamic provider for the StackRunner tests.

The "cloud" is a JSON file named by the stack config ``toy:store`` (the provider reads it in ``configure()``,
which is how it also proves it received the whole stack config). Every provider call is appended to the
file's ``calls`` list, so tests can assert exactly what the provider host did and in which order.

Imported as a top-level module (``toy_provider``) by the test programs and by the provider host: the
runner puts this directory on their ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

INPUTS = ("name", "value", "size", "keeper", "token")
_LOCK = threading.Lock()  # the host serves calls on 4 threads


def read_store(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The store's content (``things`` by id, ``calls`` in order); empty when it does not exist yet."""
    p = Path(path)
    if not p.exists():
        return {"things": {}, "calls": []}
    data: dict[str, Any] = json.loads(p.read_text(encoding="utf-8"))
    return data


def write_store(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Replace the store atomically."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".store.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, p)


class ThingProvider(ResourceProvider):
    """CRUD over the store. ``keeper`` changes force a replacement; ``size < 0`` fails Check."""

    store: str = ""

    def configure(self, req: ConfigureRequest) -> None:
        self.store = str(req.config.get("toy:store") or "")
        token = req.config.get("toy:token")
        self._record("configure", "", "", keys=sorted(req.config._props),
                     token_len=len(token) if isinstance(token, str) else None,
                     other=req.config.get("other:key"))

    def _record(self, op: str, name: str, id_: str, **extra: Any) -> None:
        if not self.store:
            raise RuntimeError("toy:store is not configured")
        with _LOCK:
            data = read_store(self.store)
            data["calls"].append({"op": op, "name": name, "id": id_, **extra})
            write_store(self.store, data)

    def _write(self, op: str, name: str, id_: str, thing: dict[str, Any] | None) -> None:
        with _LOCK:
            data = read_store(self.store)
            if thing is None:
                data["things"].pop(id_, None)
            else:
                data["things"][id_] = thing
            data["calls"].append({"op": op, "name": name, "id": id_})
            write_store(self.store, data)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        size = news.get("size")
        if isinstance(size, (int, float)) and size < 0:
            failures.append(CheckFailure("size", "must not be negative"))
        if news.get("value") == "":
            failures.append(CheckFailure("", "a thing needs a value"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in INPUTS if olds.get(k) != news.get(k)]
        replaces = [k for k in changed if k == "keeper"]
        return DiffResult(changes=bool(changed), replaces=replaces)

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("value") == "boom":
            raise RuntimeError("the toy cloud refused to create a thing called boom")
        id_ = f"thing-{uuid.uuid4().hex[:10]}"
        thing = {k: props.get(k) for k in INPUTS}
        print(f"toy: creating {props.get('name')} as {id_}", flush=True)
        self._write("create", str(props.get("name")), id_, thing)
        return CreateResult(id_, {**thing, "secretToken": f"generated-{id_}"})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        thing = read_store(self.store)["things"].get(id_)
        self._record("read", str(props.get("name") or ""), id_)
        if thing is None:
            return ReadResult("", {})
        outs = {**thing, "secretToken": f"generated-{id_}"}
        return ReadResult(id_, outs, {k: thing.get(k) for k in INPUTS})

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        thing = {k: news.get(k) for k in INPUTS}
        self._write("update", str(news.get("name")), id_, thing)
        return UpdateResult({**thing, "secretToken": f"generated-{id_}"})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._write("delete", str(props.get("name")), id_, None)


class Thing(Resource, module="toy", name="Thing"):
    """A toy resource: type token ``pulumi-python:dynamic/toy:Thing``."""

    value: pulumi.Output[Any]
    keeper: pulumi.Output[str]
    secretToken: pulumi.Output[str]

    def __init__(self, name: str, *, value: Any, size: Any = 1, keeper: Any = "k1", token: Any = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ThingProvider(), name, {
            "name": name, "value": value, "size": size, "keeper": keeper, "token": token, "secretToken": None,
        }, opts)


class Group(pulumi.ComponentResource):
    """A component holding two things."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("toy:index:Group", name, None, opts)
        self.first = Thing(f"{name}-first", value="one", opts=pulumi.ResourceOptions(parent=self))
        self.second = Thing(f"{name}-second", value=self.first.value.apply(lambda v: f"{v}+two"),
                            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"second": self.second.value})
