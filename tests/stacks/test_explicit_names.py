"""Keys sharing an explicit name, in two stacks and a hand-made key, under commit-then-504, through the real CLI.

Names are not unique in Imburse. Here a hand-made ``ci`` key, 6 ``ci`` keys of stack ``one`` and 6 of stack
``two`` share one tenant; each ``pulumi up`` runs while the emulator carries out a quarter of all writes and
then answers 504, and stack ``one`` then rotates all its keys (create-before-delete) the same way. No create may
revoke a key it did not make: afterwards every key in either stack's state is live and works with its private
key, the hand-made key lives, nothing is orphaned, and both stacks have settled (a preview plans nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pulumi

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import api_writes, authenticates, changes, quiet

KEYS = 6


def program() -> None:
    """``KEYS`` keys, all named ``ci``, rotated when config ``epoch`` changes."""
    config = pulumi.Config()
    keys = [TenantKey(f"ci-{i}", tenant_id=config.require("tenantId"), roles=["tenant-app-read"], name="ci",
                      keepers={"epoch": config.get("epoch") or "1"}) for i in range(KEYS)]
    pulumi.export("keys", pulumi.Output.secret({k.public_key: k.private_key for k in keys}))


@contextmanager
def commit_then_504(emulator: EmulatorProcess, seed: int) -> Iterator[None]:
    emulator.set_faults(ambiguousRate=0.25, seed=seed)
    try:
        yield
    finally:
        emulator.clear_faults()


def test_same_named_keys_of_two_stacks_and_a_hand_made_one_survive_commit_then_504(
        emulator: EmulatorProcess, api: ImburseClient, existing_tenant: str) -> None:
    foreign = api.create_key(existing_tenant, ["tenant-app-read"], "ci").public_key
    config = {"tenantId": existing_tenant}
    with emulated_stack(program, project_name="names-one", emulator=emulator, config=config) as one, \
            emulated_stack(program, project_name="names-two", emulator=emulator, config=config) as two:
        before = api_writes(emulator)
        with commit_then_504(emulator, seed=2001):
            up_one = one.stack.up(on_output=quiet)
        with commit_then_504(emulator, seed=2002):
            up_two = two.stack.up(on_output=quiet)
        one.set_config({"epoch": "2"})
        with commit_then_504(emulator, seed=2003):
            rotated = one.stack.up(on_output=quiet)
        assert changes(rotated) == {"replace": KEYS}
        # Without faults: 3 * KEYS creates and as many renames, and KEYS revokes of the rotated-out keys. Any
        # write answered 504 after it was acted on is repeated (rename, revoke) or reconciled (create).
        assert api_writes(emulator) - before > 3 * KEYS * 2 + KEYS

        in_state = {**rotated.outputs["keys"].value, **up_two.outputs["keys"].value}
        assert len(in_state) == 2 * KEYS
        live = {k.public_key: k.name for k in api.list_keys(existing_tenant)}
        assert foreign in live  # the hand-made key
        assert [pk for pk in in_state if pk not in live] == []  # no key in state was revoked
        assert set(live) - set(in_state) == {foreign}  # no orphan; stack one's replaced keys are revoked
        assert set(live.values()) == {"ci"}
        assert all(authenticates(emulator, pk, private) for pk, private in in_state.items())
        assert not set(up_one.outputs["keys"].value) & set(live)  # the rotated-out keys are gone
        for s in (one, two):
            assert s.stack.preview(on_output=quiet).change_summary == {"same": KEYS + 1}
