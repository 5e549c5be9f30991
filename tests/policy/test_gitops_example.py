"""examples/gitops through the real engine, as its README and workflow run it.

Each environment is the example's own stack file (``Pulumi.staging.yaml``, ``Pulumi.prod.yaml``) and policy config
(``policy-config.<stack>.json``), run from the example's directory with ``--policy-pack policy/analyzer``: the
``policy`` symlink there is the repository's pack. Only the Imburse endpoint and account key are the emulator's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack
from tests.engine import EXAMPLES, changes
from tests.policy.support import PACK_ENV, preview, up

GITOPS = EXAMPLES / "gitops"
PACK = "policy/analyzer"  # as in the README and the workflow, relative to examples/gitops
ENVIRONMENTS = ("staging", "prod")
DESTINATION = "tenant-key-destination"


def destination_advice(keys: Any) -> dict[tuple[str, str], str]:
    """The example's keys keep their private keys in the state (it has no secret store): each gets the advisory
    ``tenant-key-destination`` in both environments, which never stops an update."""
    return {(f"acme-{name}", DESTINATION): "advisory" for name in keys}


def stack_file(env: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((GITOPS / f"Pulumi.{env}.yaml").read_text())["config"]
    return config


def requests_served(emu: EmulatorProcess) -> int:
    return sum(emu.stats()["requests"].values())


def unprotect(s: EmulatedStack) -> None:
    """Drop ``protect`` from every resource in the state, so the stack can be destroyed after the test."""
    state = s.stack.export_stack()
    for resource in (state.deployment or {}).get("resources", []):
        resource.pop("protect", None)
    s.stack.import_stack(state)


@pytest.fixture
def gitops(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[EmulatedStack]:
    """The example's stack ``request.param``, destroyed after the test (its tenant is protected)."""
    with emulated_stack(GITOPS, stack_name=request.param, emulator=emulator, env=PACK_ENV) as s:
        try:
            yield s
        finally:
            unprotect(s)


@pytest.fixture
def pull_request(emulator: EmulatorProcess, request: pytest.FixtureRequest) -> Iterator[EmulatedStack]:
    """The example's stack ``request.param``, only ever previewed."""
    with emulated_stack(GITOPS, stack_name=request.param, emulator=emulator, env=PACK_ENV,
                        destroy_on_exit=False) as s:
        yield s


def test_the_example_ships_the_pack_and_one_policy_config_per_stack() -> None:
    assert (GITOPS / "policy").resolve() == (EXAMPLES.parent / "policy").resolve()
    for env in ENVIRONMENTS:
        assert (GITOPS / f"policy-config.{env}.json").is_file()
        assert "imburse-gitops:tenants" in stack_file(env)
    workflow = (GITOPS / ".github" / "workflows" / "imburse-gitops.yml").read_text()
    assert workflow.count(f"policyPacks: {PACK}") == 3  # the PR preview, up on staging, up on prod
    # The daily run: `up --refresh` on each stack, with the same pack and policy configs.
    scheduled = yaml.safe_load((GITOPS / ".github" / "workflows" / "imburse-rotate.yml").read_text())
    assert "schedule" in scheduled[True]  # YAML 1.1 reads the key `on` as True
    steps = [step["with"] for job in scheduled["jobs"].values() for step in job["steps"]
             if step.get("uses", "").startswith("pulumi/actions@")]
    assert [(w["command"], w["refresh"], w["stack-name"], w["policyPacks"], w["policyPackConfigs"]) for w in steps] == [
        ("up", True, env, PACK, f"policy-config.{env}.json") for env in ENVIRONMENTS]


@pytest.mark.parametrize("gitops", ENVIRONMENTS, indirect=True)
def test_each_environment_passes_the_pack_creates_its_keys_and_its_daily_run_rotates_a_due_one(
        gitops: EmulatedStack) -> None:
    s, env = gitops, gitops.stack.name
    config = f"policy-config.{env}.json"

    deployed = up(s, config, packs=[PACK])
    assert not deployed.failed, deployed.error
    spec = stack_file(env)["imburse-gitops:tenants"]["acme"]
    assert deployed.verdicts() == destination_advice(spec["keys"])
    assert isinstance(deployed.result, auto.UpResult)
    assert changes(deployed.result) == {"create": 4}  # the stack, a tenant, two keys

    outputs = s.stack.outputs()
    tenant_id = outputs["tenantIds"].value["acme"]
    with ImburseClient(s.emulator.base_url, s.emulator.public_key, s.emulator.private_key) as api:
        assert api.get_tenant(tenant_id).name == spec["name"]
        keys = {k.name.rsplit("-", 1)[0]: tuple(k.roles) for k in api.list_keys(tenant_id)}
    assert keys == {f"acme-{name}": tuple(sorted(k["roles"])) for name, k in spec["keys"].items()}
    assert outputs["privateKeys"].secret
    assert set(outputs["privateKeys"].value) == {"acme/ci", "acme/checkout"}
    deployment = s.stack.export_stack().deployment or {}
    assert [r["urn"].rsplit("::", 1)[-1] for r in deployment["resources"] if r.get("protect")] == ["acme"]

    # The daily run (imburse-rotate.yml), once `ci` has outlived its rotationDays: `up --refresh` with the pack.
    ci = outputs["publicKeys"].value["acme/ci"]
    s.emulator.age_key(tenant_id, ci, spec["keys"]["ci"]["rotationDays"] + 1)
    daily = up(s, config, packs=[PACK], refresh=True)
    assert not daily.failed, daily.error
    assert daily.verdicts() == destination_advice(spec["keys"])
    assert isinstance(daily.result, auto.UpResult) and changes(daily.result) == {"update": 1}
    now = s.stack.outputs()
    assert now["publicKeys"].value["acme/ci"] != ci
    assert now["previousPublicKeys"].value["acme/ci"] == ci  # the previous key works for graceDays more
    assert now["previousPrivateKeys"].secret
    with ImburseClient(s.emulator.base_url, s.emulator.public_key, s.emulator.private_key) as api:
        assert ci in {k.public_key for k in api.list_keys(tenant_id)}


# A pull request that adds a key rotating every 180 days and unprotects the tenant: staging's config leaves both
# policies advisory, prod's makes them mandatory.
EXPECTED_LEVEL = {"staging": "advisory", "prod": "mandatory"}


@pytest.mark.parametrize("pull_request", ENVIRONMENTS, indirect=True)
def test_a_pull_request_is_judged_by_each_environments_policy_config(pull_request: EmulatedStack) -> None:
    s, env = pull_request, pull_request.stack.name
    tenants = copy.deepcopy(stack_file(env)["imburse-gitops:tenants"])
    tenants["acme"]["protect"] = False
    tenants["acme"]["keys"]["reports"] = {"roles": ["tenant-transaction-read"], "rotationDays": 180}
    s.set_config({"tenants": tenants})
    # previews need no Imburse credential and make no API call: pull requests get none
    s.stack.remove_all_config(["imburse:publicKey", "imburse:privateKey"])
    served = requests_served(s.emulator)

    run = preview(s, f"policy-config.{env}.json", packs=[PACK])

    level = EXPECTED_LEVEL[env]
    assert run.verdicts() == {("acme-reports", "tenant-key-rotation"): level, ("acme", "tenants-protected"): level,
                              ("acme-reports", "tenant-key-grace-period"): "advisory",
                              **destination_advice(tenants["acme"]["keys"])}
    assert "rotates every 180 days, more than maxRotationDays 90" in run.message("acme-reports", "tenant-key-rotation")
    assert run.failed is (level == "mandatory")
    assert requests_served(s.emulator) == served

