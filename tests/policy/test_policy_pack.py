"""The policy pack in ``policy/``, started as the engine starts it and called over gRPC.

One analyzer process serves the module (``pack`` fixture). Tests that change the policy config do so
through :func:`configured`, which puts the default config back afterwards, as each ``pulumi`` run
configures a freshly started pack.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_imburse.roles import ACCOUNT_ROLES, TENANT_ADMIN, TENANT_ROLES
from pulumi_imburse.tenant import TYPE_TOKEN as TENANT_TYPE
from pulumi_imburse.tenant_key import TYPE_TOKEN as TENANT_KEY_TYPE
from pulumi_imburse.testing.analyzer import (
    STACK_TYPE,
    UNKNOWN,
    AnalyzerResource,
    Diagnostic,
    PolicyConfigError,
    PolicyPackAnalyzer,
    ProviderResource,
    Secret,
    Unknown,
    make_urn,
    stack_resource,
)

PACK_DIR = Path(__file__).resolve().parents[2] / "policy"
STACK, PROJECT = "dev", "imburse-app"
TENANT_ID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
OTHER_TENANT_ID = "0f9d4a5e-2b1c-4c3d-9e8f-7a6b5c4d3e2f"
PRIVATE_KEY = base64.b64encode(bytes(range(32))).decode()  # the shape the service returns
PROVIDER = ProviderResource(urn=make_urn(STACK, PROJECT, "pulumi:providers:pulumi-python", "default"),
                            type="pulumi:providers:pulumi-python")
ROOT_URN = make_urn(STACK, PROJECT, STACK_TYPE, f"{PROJECT}-{STACK}")

EXPECTED_POLICIES = {
    "tenant-key-no-tenant-admin": ("mandatory", "resource"),
    "tenant-key-known-roles": ("mandatory", "resource"),
    "tenant-key-max-roles": ("advisory", "resource"),
    "tenant-key-rotation": ("advisory", "resource"),
    "no-plaintext-private-key-output": ("mandatory", "stack"),
    "max-keys-per-tenant": ("advisory", "stack"),
    "tenants-protected": ("advisory", "stack"),
}


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(PACK_DIR, project=PROJECT, stack=STACK, dry_run=True) as analyzer:
        yield analyzer


@contextmanager
def configured(pack: PolicyPackAnalyzer, config: Mapping[str, Any]) -> Iterator[None]:
    pack.configure(config)
    try:
        yield
    finally:
        pack.configure({})


def key_urn(name: str) -> str:
    return make_urn(STACK, PROJECT, TENANT_KEY_TYPE, name)


def tenant_urn(name: str) -> str:
    return make_urn(STACK, PROJECT, TENANT_TYPE, name)


def key_inputs(**overrides: Any) -> dict[str, Any]:
    """A TenantKey's checked inputs as the engine sends them to Analyze (``__provider`` is dropped)."""
    props: dict[str, Any] = {
        "tenantId": TENANT_ID, "roles": ["tenant-transaction-read"], "name": "ci-5d2f9a1b",
        "namePrefix": "ci", "rotationDays": 30, "__provider": "pulumi_imburse.tenant_key:TenantKeyProvider",
    }
    props.update(overrides)
    return {k: v for k, v in props.items() if v is not ...}


def analyze_key(pack: PolicyPackAnalyzer, resource_name: str = "ci", **overrides: Any) -> list[Diagnostic]:
    """``Analyze`` the TenantKey ``resource_name`` with its inputs changed by ``overrides``."""
    return pack.analyze(key_urn(resource_name), TENANT_KEY_TYPE, resource_name, key_inputs(**overrides),
                        provider=PROVIDER)


def by_policy(diagnostics: Sequence[Diagnostic]) -> dict[str, str]:
    return {d.policy_name: d.enforcement_level for d in diagnostics}


# -- GetAnalyzerInfo ---------------------------------------------------------------------------------

def test_info_lists_the_seven_policies_with_levels_types_and_schemas(pack: PolicyPackAnalyzer) -> None:
    info = pack.info()
    assert info.name == "imburse-guardrails"
    assert info.version == "0.1.0"  # PulumiPolicy.yaml's version, as the engine reports it
    assert info.supports_config
    assert {p.name: (p.enforcement_level, p.policy_type) for p in info.policies} == EXPECTED_POLICIES
    for p in info.policies:
        assert p.description and p.display_name
        assert p.config_schema, f"{p.name} has no config schema"
        assert all("default" in s and s.get("description") for s in p.config_schema.values()), p.name


def test_defaults_in_the_schemas_are_what_the_engine_sends_with_configure(pack: PolicyPackAnalyzer) -> None:
    sent = pack.effective_config
    assert sent["tenant-key-max-roles"].properties == {"maxRoles": 4}
    assert sent["tenant-key-rotation"].properties == {"maxRotationDays": 90}
    assert sent["max-keys-per-tenant"].properties == {"maxKeysPerTenant": 10}
    assert sent["tenant-key-known-roles"].properties == {"allowedRoles": list(TENANT_ROLES)}
    assert {k: v.enforcement_level for k, v in sent.items()} == {k: v[0] for k, v in EXPECTED_POLICIES.items()}


# -- Resource policies: each passes and fails where it should ------------------------------------------

RESOURCE_CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("least privilege, rotating", {}, {}),
    ("tenant-admin", {"roles": [TENANT_ADMIN, "tenant-app-read"]},
     {"tenant-key-no-tenant-admin": "mandatory"}),
    ("legacy code for tenant-admin", {"roles": ["t.sup.a"]},
     {"tenant-key-no-tenant-admin": "mandatory", "tenant-key-known-roles": "mandatory"}),
    ("no roles", {"roles": []}, {"tenant-key-known-roles": "mandatory"}),
    ("roles missing", {"roles": ...}, {"tenant-key-known-roles": "mandatory"}),
    ("unknown role", {"roles": ["tenant-app-read", "tenant-everything"]}, {"tenant-key-known-roles": "mandatory"}),
    ("account role on a tenant key", {"roles": [ACCOUNT_ROLES[0]]}, {"tenant-key-known-roles": "mandatory"}),
    ("roles not a list", {"roles": "tenant-app-read"}, {"tenant-key-known-roles": "mandatory"}),
    ("four roles", {"roles": list(TENANT_ROLES[1:5])}, {}),
    ("five roles", {"roles": list(TENANT_ROLES[1:6])}, {"tenant-key-max-roles": "advisory"}),
    ("four roles, one repeated", {"roles": [*TENANT_ROLES[1:5], TENANT_ROLES[1]]}, {}),
    ("no rotation at all", {"rotationDays": ...}, {"tenant-key-rotation": "advisory"}),
    ("rotation at the limit", {"rotationDays": 90}, {}),
    ("rotation above the limit", {"rotationDays": 365}, {"tenant-key-rotation": "advisory"}),
    ("keepers instead of rotationDays", {"rotationDays": ..., "keepers": {"rotatedOn": "2026-01"}}, {}),
    ("keepers make a long rotation fine", {"rotationDays": 365, "keepers": {"v": "1"}}, {}),
    ("empty keepers are no keepers", {"rotationDays": ..., "keepers": {}}, {"tenant-key-rotation": "advisory"}),
    ("everything wrong", {"roles": [TENANT_ADMIN, *TENANT_ROLES[1:5], "nope"], "rotationDays": ...},
     {"tenant-key-no-tenant-admin": "mandatory", "tenant-key-known-roles": "mandatory",
      "tenant-key-max-roles": "advisory", "tenant-key-rotation": "advisory"}),
]


@pytest.mark.parametrize(("props", "expected"), [c[1:] for c in RESOURCE_CASES], ids=[c[0] for c in RESOURCE_CASES])
def test_resource_policies(pack: PolicyPackAnalyzer, props: dict[str, Any], expected: dict[str, str]) -> None:
    diagnostics = analyze_key(pack, **props)
    assert by_policy(diagnostics) == expected
    assert all(d.urn == key_urn("ci") for d in diagnostics)


def test_messages_say_what_is_wrong_and_how_to_fix_it(pack: PolicyPackAnalyzer) -> None:
    messages = {d.policy_name: d.message for d in analyze_key(
        pack, roles=[TENANT_ADMIN, *TENANT_ROLES[1:5], "nope"], rotationDays=...)}
    admin = messages["tenant-key-no-tenant-admin"]
    assert "'ci-5d2f9a1b'" in admin and "allowedKeys" in admin and "policy config" in admin
    assert "'nope' is not a tenant role" in messages["tenant-key-known-roles"]
    assert "maxRoles 4" in messages["tenant-key-max-roles"] and "split" in messages["tenant-key-max-roles"]
    assert "rotationDays: 90" in messages["tenant-key-rotation"] and "keepers" in messages["tenant-key-rotation"]


@pytest.mark.parametrize(("type_", "props"), [
    (TENANT_TYPE, {"name": "Acme", "address": {"country": "GB"}}),
    ("pulumi-python:dynamic:Resource", {"roles": [TENANT_ADMIN, "bogus"]}),
    ("aws:iam/accessKey:AccessKey", {"roles": []}),
    (STACK_TYPE, {}),
], ids=["Tenant", "other dynamic resource", "other provider", "root stack"])
def test_other_resource_types_are_left_alone(pack: PolicyPackAnalyzer, type_: str, props: dict[str, Any]) -> None:
    assert pack.analyze(make_urn(STACK, PROJECT, type_, "x"), type_, "x", props) == []


# -- Config changes the verdict --------------------------------------------------------------------------

@pytest.mark.parametrize(("allowed", "admitted"), [
    (["ci-5d2f9a1b"], True),   # the key's name
    (["ci"], True),            # the Pulumi resource name
    ([key_urn("ci")], True),   # the URN
    (["deploy-bot"], False),
    ([], False),
])
def test_allowlist_admits_a_tenant_admin_key(pack: PolicyPackAnalyzer, allowed: list[str], admitted: bool) -> None:
    with configured(pack, {"tenant-key-no-tenant-admin": {"allowedKeys": allowed}}):
        violations = by_policy(analyze_key(pack, roles=[TENANT_ADMIN]))
    assert ("tenant-key-no-tenant-admin" not in violations) is admitted


@pytest.mark.parametrize(("config", "roles", "flagged"), [
    ({"maxRoles": 2}, TENANT_ROLES[1:4], True),
    ({"maxRoles": 3}, TENANT_ROLES[1:4], False),
    ({"maxRoles": 6}, TENANT_ROLES[1:6], False),
])
def test_max_roles_is_configurable(pack: PolicyPackAnalyzer, config: dict[str, Any], roles: Sequence[str],
                                   flagged: bool) -> None:
    with configured(pack, {"tenant-key-max-roles": config}):
        violations = by_policy(analyze_key(pack, roles=list(roles)))
    assert ("tenant-key-max-roles" in violations) is flagged


def test_max_rotation_days_is_configurable(pack: PolicyPackAnalyzer) -> None:
    with configured(pack, {"tenant-key-rotation": {"maxRotationDays": 400}}):
        assert analyze_key(pack, rotationDays=365) == []
    with configured(pack, {"tenant-key-rotation": {"maxRotationDays": 7}}):
        assert by_policy(analyze_key(pack, rotationDays=30)) == {"tenant-key-rotation": "advisory"}


def test_allowed_roles_narrow_the_known_roles(pack: PolicyPackAnalyzer) -> None:
    with configured(pack, {"tenant-key-known-roles": {"allowedRoles": ["tenant-transaction-read"]}}):
        assert analyze_key(pack) == []
        diagnostics = analyze_key(pack, roles=["tenant-transaction-write"])
    assert by_policy(diagnostics) == {"tenant-key-known-roles": "mandatory"}
    assert "allowedRoles" in diagnostics[0].message


@pytest.mark.parametrize(("config", "expected"), [
    ({"tenant-key-max-roles": "mandatory"},
     {"tenant-key-max-roles": "mandatory", "tenant-key-no-tenant-admin": "mandatory"}),
    ({"tenant-key-max-roles": {"enforcementLevel": "disabled"}}, {"tenant-key-no-tenant-admin": "mandatory"}),
    ({"all": "advisory"}, {"tenant-key-max-roles": "advisory", "tenant-key-no-tenant-admin": "advisory"}),
    ({"all": "disabled"}, {}),
])
def test_enforcement_levels_are_configurable(pack: PolicyPackAnalyzer, config: dict[str, Any],
                                             expected: dict[str, str]) -> None:
    with configured(pack, config):
        assert by_policy(analyze_key(pack, roles=[TENANT_ADMIN, *TENANT_ROLES[1:5]])) == expected


@pytest.mark.parametrize("config", [
    {"tenant-key-max-roles": {"maxRoles": "four"}},
    {"tenant-key-max-roles": {"maxRoles": 0}},
    {"tenant-key-no-tenant-admin": {"allowedKeys": "ci"}},
    {"tenant-key-known-roles": {"allowedRoles": ["account-admin"]}},
    {"tenant-key-rotation": "sometimes"},
])
def test_invalid_config_is_rejected_before_it_reaches_the_pack(pack: PolicyPackAnalyzer,
                                                               config: dict[str, Any]) -> None:
    with pytest.raises(PolicyConfigError):
        pack.configure(config)
    assert pack.effective_config["tenant-key-max-roles"].properties == {"maxRoles": 4}


# -- Preview: unknown values -------------------------------------------------------------------------------

def test_unknown_tenant_id_during_preview_passes(pack: PolicyPackAnalyzer) -> None:
    assert analyze_key(pack, tenantId=UNKNOWN) == []


@pytest.mark.parametrize(("props", "expected"), [
    ({"roles": Unknown("array")}, {"tenant-key-no-tenant-admin", "tenant-key-known-roles", "tenant-key-max-roles"}),
    ({"roles": [UNKNOWN, "tenant-app-read"]}, {"tenant-key-no-tenant-admin", "tenant-key-known-roles"}),
    ({"rotationDays": Unknown("number")}, {"tenant-key-rotation"}),
    ({"rotationDays": ..., "keepers": Unknown("object")}, {"tenant-key-rotation"}),
    ({"rotationDays": 30, "keepers": Unknown("object")}, set()),
    ({"name": UNKNOWN}, set()),
])
def test_unknowns_that_decide_a_verdict_give_only_advisory_preview_notes(
        pack: PolicyPackAnalyzer, props: dict[str, Any], expected: set[str]) -> None:
    diagnostics = analyze_key(pack, **props)
    assert {d.policy_name for d in diagnostics} == expected
    assert all(d.enforcement_level == "advisory" and "during preview" in d.message for d in diagnostics)


def test_an_unknown_key_name_waits_only_when_the_allowlist_could_name_it(pack: PolicyPackAnalyzer) -> None:
    assert by_policy(analyze_key(pack, roles=[TENANT_ADMIN], name=UNKNOWN)) == {
        "tenant-key-no-tenant-admin": "mandatory"}
    with configured(pack, {"tenant-key-no-tenant-admin": {"allowedKeys": ["ci-5d2f9a1b"]}}):
        (note,) = analyze_key(pack, roles=[TENANT_ADMIN], name=UNKNOWN)
    assert (note.policy_name, note.enforcement_level) == ("tenant-key-no-tenant-admin", "advisory")
    assert "during preview" in note.message


def test_a_known_violation_is_reported_despite_unknowns(pack: PolicyPackAnalyzer) -> None:
    diagnostics = analyze_key(pack, roles=[UNKNOWN, TENANT_ADMIN], name=UNKNOWN)
    assert by_policy(diagnostics)["tenant-key-no-tenant-admin"] == "mandatory"
    assert by_policy(analyze_key(pack, roles=[UNKNOWN, "bogus"]))["tenant-key-known-roles"] == "mandatory"


# -- Stack policies ---------------------------------------------------------------------------------------

def tenant(name: str = "acme", *, protect: bool = True, tenant_id: Any = TENANT_ID) -> AnalyzerResource:
    return stack_resource(tenant_urn(name), TENANT_TYPE, {"name": name.title(), "tenantId": tenant_id,
                                                          "accountId": "acc"},
                          protect=protect, parent=ROOT_URN, provider=PROVIDER)


def key(name: str, *, tenant_id: Any = TENANT_ID, from_tenant: str | None = None,
        private_key: Any = PRIVATE_KEY) -> AnalyzerResource:
    outputs = {**key_inputs(tenantId=tenant_id), "publicKey": f"pub-{name}", "accountId": "acc",
               "createdAt": "2026-01-01T00:00:00Z"}
    if private_key is not ...:
        outputs["privateKey"] = private_key
    deps = [tenant_urn(from_tenant)] if from_tenant else []
    return stack_resource(key_urn(name), TENANT_KEY_TYPE, outputs, secret_keys=["privateKey"], parent=ROOT_URN,
                          dependencies=deps, property_dependencies={"tenantId": deps}, provider=PROVIDER,
                          additional_secret_outputs=["privateKey"])


def root(outputs: Mapping[str, Any]) -> AnalyzerResource:
    return AnalyzerResource(urn=ROOT_URN, type=STACK_TYPE, properties=outputs)


def analyze_stack(pack: PolicyPackAnalyzer, outputs: Mapping[str, Any] | None = None,
                  *resources: AnalyzerResource) -> list[Diagnostic]:
    body = list(resources) or [tenant(), key("ci")]
    return pack.analyze_stack([root(outputs or {}), *body])


LEAK = "no-plaintext-private-key-output"

OUTPUT_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("secret export of the key", {"ciPrivateKey": Secret(PRIVATE_KEY)}, None),
    ("secret object holding the key", {"keys": Secret({"ci": {"privateKey": PRIVATE_KEY}})}, None),
    ("secret inside a plain object", {"keys": {"ci": {"privateKey": Secret(PRIVATE_KEY), "publicKey": "pub-ci"}}},
     None),
    ("public key only", {"ciPublicKey": "pub-ci", "tenantId": TENANT_ID}, None),
    ("unsecret export", {"ciKey": PRIVATE_KEY}, "ciKey"),
    ("nested plain", {"keys": {"ci": {"privateKey": PRIVATE_KEY}}}, "keys.ci.privateKey"),
    ("in a list", {"keys": [{"name": "ci", "secret": PRIVATE_KEY}]}, "keys[0].secret"),
    ("inside a connection string", {"dsn": f"imburse://pub-ci:{PRIVATE_KEY}@api"}, "dsn"),
    ("named like a private key", {"ci_private_key": "not-the-key-but-looks-like-one"}, "ci_private_key"),
    ("under a path named like private keys", {"privateKeys": {"ci": "plain"}}, "privateKeys.ci"),
    ("unknown during preview", {"ciPrivateKey": UNKNOWN, "other": Secret(UNKNOWN)}, None),
]


@pytest.mark.parametrize(("outputs", "path"), [c[1:] for c in OUTPUT_CASES], ids=[c[0] for c in OUTPUT_CASES])
def test_no_plaintext_private_key_output(pack: PolicyPackAnalyzer, outputs: dict[str, Any], path: str | None) -> None:
    diagnostics = [d for d in analyze_stack(pack, outputs) if d.policy_name == LEAK]
    if path is None:
        assert diagnostics == []
        return
    assert len(diagnostics) == 1
    d = diagnostics[0]
    assert (d.enforcement_level, d.urn) == ("mandatory", ROOT_URN)
    assert repr(path) in d.message and "pulumi.Output.secret" in d.message
    assert PRIVATE_KEY not in d.message


def test_a_plain_private_key_in_the_key_itself_does_not_leak_a_stack_output(pack: PolicyPackAnalyzer) -> None:
    assert analyze_stack(pack, {"ciPublicKey": "pub-ci"}, tenant(), key("ci", private_key=Secret(PRIVATE_KEY))) == []
    assert analyze_stack(pack, {"ciKey": PRIVATE_KEY}, tenant(), key("ci", private_key=...)) == []


def test_private_key_names_are_configurable(pack: PolicyPackAnalyzer) -> None:
    outputs = {"ciApiSecret": "plain"}
    assert analyze_stack(pack, outputs) == []
    with configured(pack, {LEAK: {"privateKeyNames": ["privateKey", "apiSecret"]}}):
        assert by_policy(analyze_stack(pack, outputs)) == {LEAK: "mandatory"}


def keys_of(n: int, **kwargs: Any) -> list[AnalyzerResource]:
    return [key(f"k{i}", **kwargs) for i in range(n)]


@pytest.mark.parametrize(("resources", "flagged"), [
    ([tenant(), *keys_of(10)], None),
    ([tenant(), *keys_of(11)], tenant_urn("acme")),
    ([*keys_of(11)], ""),  # a tenant outside this stack: reported against the stack
    ([tenant(), tenant("beta", tenant_id=OTHER_TENANT_ID), *keys_of(6),
      *(key(f"b{i}", tenant_id=OTHER_TENANT_ID) for i in range(6))], None),
    # preview: the tenant is created in this run, so every tenantId is unknown; the Tenant each
    # tenantId came from still tells the keys apart
    ([tenant(tenant_id=UNKNOWN), *keys_of(11, tenant_id=UNKNOWN, from_tenant="acme", private_key=...)],
     tenant_urn("acme")),
    ([*keys_of(11, tenant_id=UNKNOWN, private_key=...)], None),
], ids=["at the limit", "over the limit", "tenant not in stack", "two tenants", "preview", "preview, no source"])
def test_max_keys_per_tenant(pack: PolicyPackAnalyzer, resources: list[AnalyzerResource],
                             flagged: str | None) -> None:
    diagnostics = [d for d in pack.analyze_stack([root({}), *resources]) if d.policy_name == "max-keys-per-tenant"]
    if flagged is None:
        assert diagnostics == []
    else:
        assert [(d.enforcement_level, d.urn) for d in diagnostics] == [("advisory", flagged or ROOT_URN)]
        assert "maxKeysPerTenant 10" in diagnostics[0].message


def test_max_keys_per_tenant_is_configurable(pack: PolicyPackAnalyzer) -> None:
    with configured(pack, {"max-keys-per-tenant": {"maxKeysPerTenant": 2}}):
        assert by_policy(analyze_stack(pack, {}, tenant(), *keys_of(3))) == {"max-keys-per-tenant": "advisory"}


def test_tenants_protected(pack: PolicyPackAnalyzer) -> None:
    assert analyze_stack(pack, {}, tenant(protect=True)) == []
    diagnostics = analyze_stack(pack, {}, tenant(protect=False), tenant("beta", protect=True))
    assert [(d.policy_name, d.enforcement_level, d.urn) for d in diagnostics] == [
        ("tenants-protected", "advisory", tenant_urn("acme"))]
    assert "protect=True" in diagnostics[0].message
    with configured(pack, {"tenants-protected": {"exemptTenants": ["acme"]}}):
        assert analyze_stack(pack, {}, tenant(protect=False)) == []


def test_a_compliant_stack_has_no_diagnostics(pack: PolicyPackAnalyzer) -> None:
    outputs = {"ciPublicKey": "pub-ci", "ciPrivateKey": Secret(PRIVATE_KEY), "tenantId": TENANT_ID}
    assert analyze_stack(pack, outputs, tenant(), key("ci", from_tenant="acme")) == []


# -- The GitOps example complies with the guardrails ------------------------------------------------------

GITOPS = Path(__file__).resolve().parents[2] / "examples" / "gitops"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_gitops_stacks_pass_the_pack_with_their_policy_config(pack: PolicyPackAnalyzer, stack: str) -> None:
    assert (GITOPS / "policy" / "PulumiPolicy.yaml").is_file()  # `--policy-pack policy` from the example
    project = yaml.safe_load((GITOPS / "Pulumi.yaml").read_text())["name"]
    tenants = yaml.safe_load((GITOPS / f"Pulumi.{stack}.yaml").read_text())["config"][f"{project}:tenants"]
    root_urn = make_urn(stack, project, STACK_TYPE, f"{project}-{stack}")
    resources = [AnalyzerResource(urn=root_urn, type=STACK_TYPE, properties={
        "tenantIds": {slug: TENANT_ID for slug in tenants}, "privateKeys": Secret({"x": PRIVATE_KEY})})]
    with configured(pack, json.loads((GITOPS / f"policy-config.{stack}.json").read_text())):
        for slug, spec in tenants.items():
            t_urn = make_urn(stack, project, TENANT_TYPE, slug)
            resources.append(stack_resource(t_urn, TENANT_TYPE, {"name": spec["name"], "tenantId": TENANT_ID},
                                            protect=bool(spec.get("protect")), parent=root_urn))
            for name, key_spec in spec["keys"].items():
                k_urn = make_urn(stack, project, TENANT_KEY_TYPE, f"{slug}-{name}", parent_type=TENANT_TYPE)
                inputs = {"tenantId": UNKNOWN, "roles": key_spec["roles"], "name": f"{slug}-{name}-0a1b2c3d",
                          **{k: key_spec[k] for k in ("rotationDays", "keepers") if k in key_spec}}
                assert pack.analyze(k_urn, TENANT_KEY_TYPE, f"{slug}-{name}", inputs, parent=t_urn) == [], name
                resources.append(stack_resource(k_urn, TENANT_KEY_TYPE, {**inputs, "tenantId": TENANT_ID,
                                                                         "privateKey": PRIVATE_KEY},
                                                secret_keys=["privateKey"], parent=t_urn,
                                                property_dependencies={"tenantId": [t_urn]}))
        assert pack.analyze_stack(resources) == []
