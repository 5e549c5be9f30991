"""The rotation matrix: one declaration change during a ``RotatingTenantKey``'s grace period, for both faces.

Each case is a RotatingTenantKey that has just rotated (current key B, previous key A, ``previousExpiresAt`` 7
days ahead) whose declaration then changes in ONE way: a name added, removed or changed, the roles, the keepers
(a new rotation during the grace period), the rotation period, the grace period; and the issue's worst case, the
name removed together with a keepers change. After the ``up`` of that change, and through the end of the grace
period, the keys the state names are the keys the service has, at most two, each with the declared name and
roles, and the previous key signs a token until ``previousExpiresAt``; the first ``up --refresh`` after
``previousExpiresAt`` revokes it, not one before.

Both faces: the Python dynamic resource (``pulumi_imburse.RotatingTenantKey``) and the plugin's
``imburse:index:RotatingTenantKey``. To keep the matrix cheap, a face is one stack of every case, each case in a
tenant of its own (so "the tenant's keys" are the case's keys): five CLI runs per face, one emulator for all;
the tests then check their case in what each run left. Time moves with the emulator's ``age_key`` (a key's
``createdAt`` moved back, read by a refresh as against Imburse).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pulumi_imburse import RotatingTenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack
from pulumi_imburse.values import parse_time

from ..engine import Output, authenticates, changes, quiet
from ..plugin import native

READ, WRITE = "tenant-app-read", "tenant-app-write"
ROTATION_DAYS, GRACE_DAYS = 90, 7
BASE: dict[str, Any] = {"roles": [READ], "rotationDays": ROTATION_DAYS, "graceDays": GRACE_DAYS}


@dataclasses.dataclass(frozen=True)
class Case:
    """One declaration change: the inputs (wire names) before and after it."""

    id: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def rotates(self) -> bool:
        """Whether the change itself rotates (keepers): the old previous key is revoked, cut short, as documented."""
        return self.before.get("keepers") != self.after.get("keepers")

    @property
    def grace(self) -> int:
        return int(self.after["graceDays"])


CASES = (
    Case("name-added", BASE, {**BASE, "name": "named-later"}),
    Case("name-removed", {**BASE, "name": "named-first"}, BASE),
    Case("name-changed", {**BASE, "name": "first-name"}, {**BASE, "name": "second-name"}),
    Case("roles-changed", BASE, {**BASE, "roles": [READ, WRITE]}),
    Case("keepers-changed", {**BASE, "keepers": {"v": "1"}}, {**BASE, "keepers": {"v": "2"}}),
    Case("rotation-days-changed", BASE, {**BASE, "rotationDays": 60}),
    Case("grace-days-changed", BASE, {**BASE, "graceDays": 10}),
    Case("name-removed-and-keepers-changed", {**BASE, "name": "named-first", "keepers": {"v": "1"}},
         {**BASE, "keepers": {"v": "2"}}),
)


def dynamic_key(resource_name: str, tenant_id: str, inputs: dict[str, Any]) -> None:
    """The Python dynamic RotatingTenantKey of ``inputs`` (wire names)."""
    RotatingTenantKey(resource_name, tenant_id=tenant_id, roles=inputs["roles"], grace_days=inputs["graceDays"],
                      rotation_days=inputs.get("rotationDays"), keepers=inputs.get("keepers"),
                      name=inputs.get("name"))


def plugin_key(resource_name: str, tenant_id: str, inputs: dict[str, Any]) -> None:
    """The plugin's ``imburse:index:RotatingTenantKey`` of ``inputs``."""
    native.rotating_tenant_key(resource_name, tenantId=tenant_id, **inputs)


FACES: dict[str, Callable[[str, str, dict[str, Any]], None]] = {"dynamic": dynamic_key, "plugin": plugin_key}


@dataclasses.dataclass
class Seen:
    """What one run left for one case: the resource's state (secrets in plain text), the tenant's live keys
    ``{publicKey: (name, roles)}``, which of the state's keys sign a token, and the run's output."""

    state: dict[str, Any]
    live: dict[str, tuple[str, list[str]]]
    signs: dict[str, bool]
    said: str


@dataclasses.dataclass
class Matrix:
    """Every case's :class:`Seen` after each run of one face: ``rotated`` (B current, A previous), ``changed``
    (the declaration change), ``in_grace`` (a day before ``previousExpiresAt``), ``expired`` (past it)."""

    runs: dict[str, dict[str, Seen]] = dataclasses.field(default_factory=dict)
    changes: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The signature key of a secret value in a Pulumi state."""


def unsecret(value: Any) -> Any:
    """A state value with its secrets (``{SECRET_SIG: ..., "plaintext": json}`` from ``--show-secrets``) in clear."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "plaintext" in value:
            return json.loads(value["plaintext"])
        return {k: unsecret(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsecret(v) for v in value]
    return value


def seen_now(s: EmulatedStack, emulator: EmulatorProcess, api: ImburseClient, tenants: dict[str, str],
             said: str) -> dict[str, Seen]:
    """Each case's state, live keys and signing keys now."""
    resources = (s.stack.export_stack().deployment or {})["resources"]  # --show-secrets: private keys in clear
    states = {r["urn"].rsplit("::", 1)[-1]: unsecret(r["outputs"]) for r in resources
              if r["type"].endswith(":RotatingTenantKey")}
    out = {}
    for case in CASES:
        state = states[case.id]
        pairs = [(state.get("publicKey"), state.get("privateKey")),
                 (state.get("previousPublicKey"), state.get("previousPrivateKey"))]
        out[case.id] = Seen(
            state=state,
            live={k.public_key: (k.name, sorted(k.roles)) for k in api.list_keys(tenants[case.id])},
            signs={pub: authenticates(emulator, pub, priv) for pub, priv in pairs if pub},
            said=said)
    return out


@pytest.fixture(scope="module", params=sorted(FACES))
def matrix(request: pytest.FixtureRequest, emulator: EmulatorProcess) -> Iterator[Matrix]:
    """Run every case of one face through its rotation, its change and the end of its grace period."""
    face = FACES[request.param]
    declared = {case.id: case.before for case in CASES}
    with ImburseClient(emulator.base_url, emulator.public_key, emulator.private_key,
                       account_id=emulator.account_id) as api:
        tenants = {case.id: api.create_tenant(f"matrix {request.param} {case.id}").tenant_id for case in CASES}

        def program() -> None:
            for case in CASES:
                face(case.id, tenants[case.id], declared[case.id])

        result = Matrix()

        def run(label: str, *, refresh: bool) -> None:
            said = Output()
            result.changes[label] = changes(s.stack.up(on_output=said, refresh=refresh))
            result.runs[label] = seen_now(s, emulator, api, tenants, said.text)

        def age_current(days: Callable[[Case], float]) -> None:
            """Make each case's current key (as the last run left it) ``days(case)`` older."""
            last = list(result.runs.values())[-1]
            for case in CASES:
                emulator.age_key(tenants[case.id], str(last[case.id].state["publicKey"]), days(case))

        try:
            with emulated_stack(program, project_name=f"rotation-matrix-{request.param}", emulator=emulator) as s:
                s.stack.up(on_output=quiet)
                for case in CASES:
                    [key] = api.list_keys(tenants[case.id])
                    emulator.age_key(tenants[case.id], key.public_key, ROTATION_DAYS + 1)
                run("rotated", refresh=True)  # each rotates: B current, A previous (7 days ahead)
                declared.update({case.id: case.after for case in CASES})
                run("changed", refresh=False)  # ONE change of each declaration
                age_current(lambda case: case.grace - 1)
                run("in_grace", refresh=True)  # a day before previousExpiresAt
                age_current(lambda _case: 2)
                run("expired", refresh=True)  # a day after it
                yield result
        finally:
            for tenant_id in tenants.values():
                api.delete_tenant(tenant_id)


def in_service(seen: Seen) -> None:
    """The state's keys are the service's keys, at most two, each named and roled as the state says, each signing."""
    state = seen.state
    named = {state["publicKey"]} | ({state["previousPublicKey"]} if state.get("previousPublicKey") else set())
    assert set(seen.live) == named and len(named) <= 2
    for pub in named:
        assert seen.live[pub] == (state["name"], sorted(state["roles"])), pub
        assert seen.signs[pub], f"{pub} named in the state does not sign a token"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_declaration_change_in_a_grace_period_keeps_the_previous_key_until_it_expires(
        matrix: Matrix, case: Case) -> None:
    rotated, changed = matrix.runs["rotated"][case.id], matrix.runs["changed"][case.id]
    a, b = rotated.state["previousPublicKey"], rotated.state["publicKey"]
    in_service(rotated)

    # The change: the keys kept, renamed and re-roled in place, or (keepers) one more rotation that keeps B.
    in_service(changed)
    state = changed.state
    for k, v in case.after.items():
        assert state[k] == (sorted(v) if k == "roles" else v), k
    if "name" in case.after:
        assert state["name"] == case.after["name"]
    else:
        assert state["name"].startswith(f"{case.id}-") and state["name"] != case.before.get("name")
    if case.rotates:
        assert state["previousPublicKey"] == b and state["publicKey"] not in (a, b)
        assert a not in changed.live and not changed.signs.get(a, False)
        assert f"revoked the previous key {a} before its grace period ended" in changed.said
    else:
        assert (state["publicKey"], state["previousPublicKey"]) == (b, a)
        assert state["previousPrivateKey"] == rotated.state["previousPrivateKey"]
    expires = parse_time(state["previousExpiresAt"])
    created = parse_time(state["createdAt"])
    assert expires is not None and created is not None
    assert expires == created + dt.timedelta(days=case.grace)
    assert expires > dt.datetime.now(dt.timezone.utc)

    # A day before previousExpiresAt: nothing changes, both keys sign.
    in_grace = matrix.runs["in_grace"][case.id]
    in_service(in_grace)
    assert {k: in_grace.state.get(k) for k in ("publicKey", "previousPublicKey")} == \
        {k: state.get(k) for k in ("publicKey", "previousPublicKey")}

    # A day after it: the first up --refresh revokes the previous key, and only it.
    expired = matrix.runs["expired"][case.id]
    in_service(expired)
    assert expired.state["publicKey"] == state["publicKey"] and not expired.state.get("previousPublicKey")
    assert f"revoked the previous key {state['previousPublicKey']}: its grace period ended" in expired.said


def test_the_matrix_runs_change_what_each_step_says(matrix: Matrix) -> None:
    """One update per resource where keys move (the rotation, the change, the end of the grace period); none in
    the grace period."""
    n = len(CASES)
    assert matrix.changes == {"rotated": {"update": n}, "changed": {"update": n}, "in_grace": {},
                              "expired": {"update": n}}
