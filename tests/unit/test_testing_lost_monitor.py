"""``emulated_stack`` runs an inline program's operation once more when only its channel to the engine was lost."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pulumi import automation as auto

from pulumi_imburse.testing import stacks

pytestmark = pytest.mark.unit

LOST = """Updating (test):
    pulumi:pulumi:Stack p-test  error: Resource monitor has terminated, shutting down
    pulumi:pulumi:Stack p-test  error: an unhandled error occurred: Resource monitor has terminated, shutting down
Resources:
    1 errored
"""


class FakeStack:
    """Each operation fails with the next of ``failures`` (then succeeds), counting its calls."""

    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.calls = 0

    def _run(self, *_args: Any, **_kwargs: Any) -> str:
        self.calls += 1
        if self.failures:
            raise auto.CommandError(auto.CommandResult(stdout=self.failures.pop(0), stderr="", code=1))
        return "ok"

    up = preview = refresh = destroy = _run


@pytest.mark.parametrize("operation", ["up", "preview", "refresh", "destroy"])
def test_a_lost_monitor_alone_runs_the_operation_once_more(operation: str) -> None:
    fake = FakeStack(LOST)
    stacks._retry_lost_monitor(cast(auto.Stack, fake))
    assert getattr(fake, operation)(on_output=print) == "ok"
    assert fake.calls == 2


def test_a_second_lost_monitor_is_raised() -> None:
    fake = FakeStack(LOST, LOST)
    stacks._retry_lost_monitor(cast(auto.Stack, fake))
    with pytest.raises(auto.CommandError):
        fake.up()
    assert fake.calls == 2


def test_a_lost_monitor_with_another_error_is_raised_at_once() -> None:
    provider_failed = LOST + "    imburse:index:TenantKey ci  error: plugin exited unexpectedly\n"
    fake = FakeStack(provider_failed)
    stacks._retry_lost_monitor(cast(auto.Stack, fake))
    with pytest.raises(auto.CommandError):
        fake.up()
    assert fake.calls == 1


def test_other_failures_are_raised_at_once() -> None:
    fake = FakeStack("    imburse:index:Tenant acme  error: HTTP 403\n")
    stacks._retry_lost_monitor(cast(auto.Stack, fake))
    with pytest.raises(auto.CommandError):
        fake.refresh()
    assert fake.calls == 1
