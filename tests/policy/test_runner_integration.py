"""The policy pack in ``StackRunner.preview``/``up`` (``--policy-pack``), against the emulator.

``programs/tenant_keys`` declares a Tenant and the TenantKeys of its ``keys`` config, so each test picks the
verdicts by config. What the CLI does, and what is checked here:

* ``pulumi up`` previews first; a mandatory violation found by ``Analyze`` in that preview fails it, and the
  update never starts: no API write, no state written;
* ``pulumi preview`` reports every violation, then fails when one is mandatory;
* advisory violations are reported and the update goes on;
* ``--policy-pack-config`` changes the verdict;
* stack policies (``AnalyzeStack``) see the final stack, after the deployment: a private key exported as plain
  text is unknown during the preview (the key does not exist yet), so the CLI reports it only at the end of the
  update, whose changes are made by then and stay in the state; the update is reported as failed;
* with ``--skip-preview`` the update itself stops at the first resource with a mandatory violation, after the
  resources registered before it were created.

A probe pack on the toy program of ``tests/runner`` checks what the packs are sent and that each engine run
starts each pack once.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import PolicyPackRunError, PolicyViolationError, PreviewResult, StackRunner, UpResult
from pulumi_imburse.testing._policies import resolve_policy_packs
from tests.runner.support import Toy

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
PROGRAM = Path(__file__).resolve().parent / "programs" / "tenant_keys"
PASSPHRASE = "policy-runner-tests"
WRITE_METHODS = ("POST ", "PUT ", "PATCH ", "DELETE ")
TOKEN_ROUTE = "POST /identity/v1/hmac/management"  # a bearer-token exchange, not a write
KEY_TYPE = "pulumi-python:dynamic/imburse:TenantKey"
ALL_ROLES = ["tenant-app-read", "tenant-transaction-read", "tenant-transaction-write",
             "tenant-collect-scheme-read", "tenant-payout-scheme-write"]


def key_urn(name: str) -> str:
    return f"urn:pulumi:dev::guarded::{KEY_TYPE}::{name}"


STACK_URN = "urn:pulumi:dev::guarded::pulumi:pulumi:Stack::guarded-dev"


class Guarded:
    """One test's stack of ``programs/tenant_keys`` on the shared emulator."""

    def __init__(self, emu: EmulatorProcess, tmp: Path, tenant_name: str) -> None:
        self.emu = emu
        self.state = tmp / "state.json"
        self.tenant_name = tenant_name

    def runner(self, keys: dict[str, dict[str, Any]], **config: Any) -> StackRunner:
        return StackRunner(
            PROGRAM, stack_name="dev", state_file=self.state, passphrase=PASSPHRASE,
            config={"imburse:baseUrl": self.emu.base_url, "imburse:publicKey": self.emu.public_key,
                    "tenantName": self.tenant_name, "keys": keys, **config},
            secret_config={"imburse:privateKey": self.emu.private_key},
        )

    def writes(self) -> int:
        """API writes the emulator has served so far (all tests together; compare before and after)."""
        return sum(n for route, n in self.emu.stats()["requests"].items()
                   if route.startswith(WRITE_METHODS) and route != TOKEN_ROUTE)

    def api(self) -> ImburseClient:
        return ImburseClient(self.emu.base_url, self.emu.public_key, self.emu.private_key)


@pytest.fixture
def guarded(emulator: EmulatorProcess, tmp_path: Path, request: pytest.FixtureRequest) -> Guarded:
    emulator.clear_faults()
    return Guarded(emulator, tmp_path, f"policy {request.node.name}"[:100])


def levels(result: PreviewResult | UpResult) -> set[tuple[str, str, str]]:
    return {(d.enforcement_level, d.policy_name, d.urn) for d in result.policy_violations}


ADMIN = ("mandatory", "tenant-key-no-tenant-admin", key_urn("admin"))


def test_mandatory_violation_stops_up_before_any_write(guarded: Guarded) -> None:
    before = guarded.writes()

    with pytest.raises(PolicyViolationError) as failed:
        guarded.runner({"admin": {"roles": ["tenant-admin"], "rotationDays": 30}}).up(policy_packs=[PACK])

    err = failed.value
    assert "tenant-key-no-tenant-admin" in str(err) and key_urn("admin") in str(err)
    assert str(err).startswith("update not started: the preview `pulumi up` runs first found 1 mandatory")
    assert err.preview and [(d.policy_name, d.urn) for d in err.mandatory] == [ADMIN[1:]]
    assert guarded.writes() == before          # not one API write
    assert not guarded.state.exists()          # and no state
    # The preview that failed is the error's result, printed as the CLI prints it.
    assert isinstance(err.result, PreviewResult) and err.result.summary.result == "failed"
    assert "❌ imburse-guardrails@v0.1.0 (local: " in err.stdout
    assert (f"- [mandatory]  tenant-key-no-tenant-admin  ({KEY_TYPE}: {key_urn('admin')})\n"
            "          A TenantKey must not have the 'tenant-admin' role") in err.stdout
    assert any(line.startswith("error: imburse-guardrails@v0.1.0 [mandatory]  tenant-key-no-tenant-admin")
               for line in err.diagnostics)


def test_preview_reports_the_violation_and_fails(guarded: Guarded) -> None:
    before = guarded.writes()
    runner = guarded.runner({"admin": {"roles": ["tenant-admin"], "rotationDays": 30},
                             "broad": {"roles": ALL_ROLES, "rotationDays": 30}})

    with pytest.raises(PolicyViolationError) as failed:
        runner.preview(policy_packs=[PACK])

    result = failed.value.result
    assert isinstance(result, PreviewResult) and str(failed.value).startswith("preview failed: 1 mandatory")
    # As `pulumi preview`: the mandatory violation did not stop the preview, every violation is reported.
    assert levels(result) == {ADMIN, ("advisory", "tenant-key-max-roles", key_urn("broad")),
                              ("advisory", "tenants-protected",
                               "urn:pulumi:dev::guarded::pulumi-python:dynamic/imburse:Tenant::tenant")}
    assert result.policy_violations[0].mandatory  # mandatory first, as the CLI sorts them
    assert result.change_summary == {"create": 4} and result.summary.result == "failed"
    entry = next(d for d in result.diagnostics if d.severity == "error")
    assert entry.urn == key_urn("admin") and "tenant-key-no-tenant-admin" in entry.message
    assert guarded.writes() == before and not guarded.state.exists()


def test_advisory_violations_are_reported_and_up_proceeds(guarded: Guarded) -> None:
    before = guarded.writes()

    result = guarded.runner({"broad": {"roles": ALL_ROLES, "rotationDays": 30}}).up(policy_packs=[PACK])

    assert result.summary.result == "succeeded" and result.summary.resource_changes == {"create": 3}
    advisory = ("advisory", "tenant-key-max-roles", key_urn("broad"))
    assert advisory in levels(result) and all(not d.mandatory for d in result.policy_violations)
    assert result.preview is not None and advisory in levels(result.preview)  # the preview `up` ran first
    assert "⚠️ imburse-guardrails@v0.1.0" in result.stdout and "has 5 roles" in result.stdout
    assert any(d.severity == "warning" and d.urn == key_urn("broad") for d in result.diagnostics)
    with guarded.api() as api:
        (key,) = api.list_keys(result.outputs["tenantId"].value)
    assert sorted(key.roles) == sorted(ALL_ROLES)
    assert guarded.writes() == before + 2  # the tenant and the key

    # On an existing stack, a mandatory violation leaves the state file as it was and writes nothing.
    state = guarded.state.read_bytes()
    after_first = guarded.writes()
    with pytest.raises(PolicyViolationError):
        guarded.runner({"broad": {"roles": ALL_ROLES, "rotationDays": 30},
                        "admin": {"roles": ["tenant-admin"], "rotationDays": 30}}).up(policy_packs=[PACK])
    assert guarded.state.read_bytes() == state and guarded.writes() == after_first


def test_policy_config_allows_the_listed_admin_key(guarded: Guarded, tmp_path: Path) -> None:
    config = tmp_path / "policy-config.json"  # a --policy-pack-config file
    config.write_text(json.dumps({"tenant-key-no-tenant-admin": {"allowedKeys": ["admin"]},
                                  "tenants-protected": "disabled"}))

    result = guarded.runner({"admin": {"roles": ["tenant-admin"], "rotationDays": 30}}).up(
        policy_packs=[PACK], policy_pack_configs={PACK: config})

    assert result.policy_violations == [] and result.summary.result == "succeeded"
    assert "✅ imburse-guardrails@v0.1.0" in result.stdout
    with guarded.api() as api:
        (key,) = api.list_keys(result.outputs["tenantId"].value)
    assert key.roles == ("tenant-admin",)


def test_stack_policy_reports_a_plaintext_private_key_after_the_update(guarded: Guarded) -> None:
    before = guarded.writes()

    with pytest.raises(PolicyViolationError) as failed:
        guarded.runner({"ci": {"roles": ["tenant-app-read"], "rotationDays": 30}}, exportPlainPrivateKeys=True,
                       protectTenant=True).up(policy_packs=[PACK])

    err = failed.value
    assert not err.preview and str(err).startswith("update failed after its changes were made")
    assert [(d.policy_name, d.urn) for d in err.mandatory] == [("no-plaintext-private-key-output", STACK_URN)]
    assert "Stack output 'ciPrivateKey' holds the private key of" in str(err)
    result = err.result
    assert isinstance(result, UpResult) and result.summary.result == "failed"
    # The preview could not see it: the key did not exist yet, its private key was unknown.
    assert result.preview is not None and not result.preview.policy_violations
    # The update had made its changes before AnalyzeStack ran; they are in the state.
    assert guarded.writes() == before + 2
    assert not result.outputs["ciPrivateKey"].secret
    assert {r.urn for r in guarded.runner({}).resources()} >= {STACK_URN, key_urn("ci")}


def test_skip_preview_stops_the_update_at_the_invalid_resource(guarded: Guarded) -> None:
    before = guarded.writes()

    with pytest.raises(PolicyViolationError) as failed:
        guarded.runner({"admin": {"roles": ["tenant-admin"], "rotationDays": 30}}).up(
            policy_packs=[PACK], skip_preview=True)

    err = failed.value
    assert str(err).startswith(f"resource {key_urn('admin')} is invalid: mandatory policy violation")
    assert not err.preview and err.result is None
    # The tenant, registered (and analyzed) before the key, was created; the key was not.
    assert guarded.writes() == before + 1
    assert [op for op, urn in err.steps if urn == key_urn("admin")] == []
    assert key_urn("admin") not in {r.urn for r in guarded.runner({}).resources()}


def test_policy_pack_arguments_are_checked_before_anything_runs(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text("")
    (pack,) = resolve_policy_packs(["policy"], {"policy": config}, REPO)
    assert pack.path == PACK and pack.label == "policy" and pack.config == {}
    with pytest.raises(PolicyPackRunError, match="not one of the policy packs"):
        resolve_policy_packs([PACK], {"elsewhere": {}}, REPO)
    config.write_text('{"environments": ["org/env"]}')
    with pytest.raises(PolicyPackRunError, match="ESC"):
        resolve_policy_packs([PACK], {PACK: config}, REPO)


def test_invalid_policy_config_fails_before_the_program_runs(tmp_path: Path) -> None:
    toy = Toy(tmp_path)
    with pytest.raises(PolicyPackRunError, match="tenant-key-max-roles"):
        toy.runner([{"name": "a"}]).preview(policy_packs=[PACK],
                                            policy_pack_configs={PACK: {"tenant-key-max-roles": {"maxRoles": 0}}})
    assert toy.data()["calls"] == []  # the provider was never even configured


# ------------------------------------------------------------------------------------------------------------
# What the packs are sent, seen from inside a probe pack
# ------------------------------------------------------------------------------------------------------------

PROBE = '''
import json, os
from collections.abc import Mapping, Sequence
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError

LOG = json.loads(os.environ["PULUMI_CONFIG"])["probe:log"]


def item(container, key):
    try:
        return plain(container[key])
    except UnknownValueError:
        return "<unknown>"


def plain(v):
    if isinstance(v, Mapping):
        return {k: item(v, k) for k in v}
    if isinstance(v, Sequence) and not isinstance(v, str):
        return [item(v, i) for i in range(len(v))]
    return v


def record(kind, **data):
    with open(LOG, "a") as f:
        f.write(json.dumps({"kind": kind, "pid": os.getpid(), "dry_run": os.environ.get("PULUMI_DRY_RUN"),
                            **data}) + "\\n")


def resource(args, report_violation):
    record("analyze", urn=args.urn, props=plain(args.props), provider=args.provider.urn if args.provider else None)


def stack(args, report_violation):
    record("stack", resources={r.urn: plain(r.props) for r in args.resources})


PolicyPack(name="probe", enforcement_level=EnforcementLevel.ADVISORY, policies=[
    ResourceValidationPolicy(name="probe", description="records what it saw", validate=resource),
    StackValidationPolicy(name="probe-stack", description="records the stack", validate=stack),
])
'''


@pytest.fixture(scope="module")
def probe_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probe-pack")
    (d / "PulumiPolicy.yaml").write_text("runtime: python\nversion: 1.0.0\n")
    (d / "__main__.py").write_text(textwrap.dedent(PROBE))
    return d


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[Toy]:
    yield Toy(tmp_path)


def test_each_run_starts_each_pack_once_and_sends_what_the_engine_sends(toy: Toy, probe_pack: Path) -> None:
    log = toy.tmp / "probe.jsonl"
    runner = toy.runner([{"name": "a", "value": "v1"}], config={"probe:log": str(log)})

    result = runner.up(policy_packs=[probe_pack])

    records = [json.loads(line) for line in log.read_text().splitlines()]
    runs = {r["dry_run"] for r in records}
    assert runs == {"true", "false"}  # the preview `up` runs first, then the update
    thing = "urn:pulumi:dev::things::pulumi-python:dynamic/toy:Thing::a"
    stack = "urn:pulumi:dev::things::pulumi:pulumi:Stack::things-dev"
    provider = "urn:pulumi:dev::things::pulumi:providers:pulumi-python::default"
    for dry_run in runs:
        run = [r for r in records if r["dry_run"] == dry_run]
        assert len({r["pid"] for r in run}) == 1  # one analyzer process for the whole run
        analyzed = {r["urn"]: r for r in run if r["kind"] == "analyze"}
        assert set(analyzed) == {stack, provider, thing}
        assert analyzed[thing]["provider"] == provider and analyzed[stack]["provider"] is None
        # Analyze gets the checked inputs; internal keys (`__provider`) are never sent.
        props = analyzed[thing]["props"]
        assert props["value"] == "v1" and not any(k.startswith("__") for k in props)
        (stack_run,) = [r for r in run if r["kind"] == "stack"]
        assert set(stack_run["resources"]) == {stack, provider, thing}
    (final,) = [r for r in records if r["kind"] == "stack" and r["dry_run"] == "false"]
    # AnalyzeStack gets outputs: the root stack's are the exports, known after the update.
    assert final["resources"][stack]["a_value"] == "v1"
    assert final["resources"][stack]["a_id"] == result.outputs["a_id"].value
    (preview,) = [r for r in records if r["kind"] == "stack" and r["dry_run"] == "true"]
    assert preview["resources"][stack]["a_id"] == "<unknown>"  # not known during the preview
    assert result.policy_violations == [] and "✅ probe@v1.0.0" in result.stdout
