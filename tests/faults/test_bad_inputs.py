"""Malformed inputs fail in Check, naming the property, with no API call, even while the API is failing.

The rows are ``BAD_INPUTS`` of ``tests/provider/test_protocol.py``, imported, not copied.
Here every API request would be refused (error rate 100%), so a Check that called the API would fail
differently; the emulator's request count proves no call was made at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pulumi_imburse import TenantKey
from pulumi_imburse.emulator.process import EmulatorProcess

from ..provider.harness import sdk_inputs, urn
from ..provider.test_protocol import BAD_INPUTS
from .support import Engine

GUID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorProcess, Engine]]:
    with EmulatorProcess() as emu:
        emu.set_faults(errorRate=1.0, errorStatuses=[503, 429, 502], retryAfterSeconds=0)
        with Engine(emu, tmp_path_factory.mktemp("host")) as eng:
            yield emu, eng


@pytest.mark.parametrize(("case", "override", "prop", "needle"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_check_with_no_api_call_while_the_api_fails(
        engine: tuple[EmulatorProcess, Engine], case: str, override: dict[str, Any], prop: str, needle: str) -> None:
    emu, eng = engine
    kw: dict[str, Any] = {"tenant_id": GUID, "roles": ["tenant-app-read"]}
    kw.update({k: v for k, v in override.items() if not k.startswith("wire:")})
    inputs = sdk_inputs(lambda: TenantKey("ci", **kw))
    inputs.update({k[len("wire:"):]: v for k, v in override.items() if k.startswith("wire:")})
    emu.reset_stats()
    _, failures = eng.host.check(urn("TenantKey", "ci"), {}, inputs)
    assert any(p == prop and needle in reason for p, reason in failures), (case, failures)
    assert emu.stats()["requests"] == {}


def test_bad_inputs_leave_the_host_healthy(engine: tuple[EmulatorProcess, Engine]) -> None:
    _, eng = engine
    assert "Traceback" not in eng.host.log
    _, failures = eng.host.check(urn("TenantKey", "ok"), {}, sdk_inputs(
        lambda: TenantKey("ok", tenant_id=GUID, roles=["tenant-app-read"])))
    assert failures == []
