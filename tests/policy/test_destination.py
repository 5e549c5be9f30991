"""Private keys out of state (issue 18) in the pack: ``tenant-key-destination``, and ``no-plaintext-private-key-output``
with keys whose private key lives in a secret store.

The pack runs as the engine runs it (``policy/analyzer``'s ``python -m pulumi.policy``), and each test sends it the
analyzer calls the engine sends: ``Configure`` with a policy config, ``Analyze`` with a key's inputs after the
provider's Check (which has applied the stack-wide default ``imburse:destination``, so they carry the resolved
destination), ``AnalyzeStack`` with every resource's outputs and the stack's exports. A key with a destination has
the outputs of the contract of issue 18: ``privateKey`` ``""``, and ``secretReference``, ``secretVersion`` and
``privateKeyFingerprint``, none of them secret.

``test_policies`` runs the rule through the CLI on keys without a destination (advisory by default, mandatory by
config); the last test below runs both policies through ``pulumi up`` on keys with one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin.schema import ROTATING_KEY_TOKEN, TENANT_KEY_TOKEN, TENANT_TOKEN
from pulumi_imburse.rotating_key import TYPE_TOKEN as ROTATING_KEY_TYPE
from pulumi_imburse.testing import emulated_stack

from ..support.host import SECRET_SIG, SIG_KEY, to_struct
from .support import KEY_TYPE, PACK_ENV, STACK_TYPE, TENANT_TYPE, running_pack, up, urn
from .test_updates import PROGRAM, READ, existing_tenant

POLICY = "tenant-key-destination"
LEAKS = "no-plaintext-private-key-output"
TENANT_ID = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
KEY_TYPES = (KEY_TYPE, ROTATING_KEY_TYPE, TENANT_KEY_TOKEN, ROTATING_KEY_TOKEN)
PRIVATE_KEY = "MC4CAQAwBQYDK2VwBCIEIJ7x0RANDOMPRIVATEKEYFORTESTS"
AWS = {"type": "aws-secretsmanager", "secretId": "imburse/{tenantId}/{resourceName}", "region": "eu-west-2"}
VAULT = {"type": "vault-kv2", "address": "http://127.0.0.1:8200", "mount": "secret",
         "path": "imburse/{tenantId}/{resourceName}"}
LEVEL = {analyzer_pb2.ADVISORY: "advisory", analyzer_pb2.MANDATORY: "mandatory"}


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def fingerprint(private_key: str) -> str:
    return "sha256:" + hashlib.sha256(private_key.encode()).hexdigest()


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    with running_pack() as stub:
        yield stub


def configure(analyzer: analyzer_pb2_grpc.AnalyzerStub, **policies: tuple[int, dict[str, Any]]) -> None:
    """``Configure`` as the engine sends it: ``{policy: (enforcement level, properties)}``; nothing: the defaults."""
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(enforcementLevel=level, properties=to_struct(properties))
        for name, (level, properties) in policies.items()}))


def own_message(diagnostic: analyzer_pb2.AnalyzeDiagnostic) -> str:
    """A report's own message (the SDK sends the policy's description, a newline, then the message)."""
    return diagnostic.message.split("\n", 1)[-1]


def analyze(analyzer: analyzer_pb2_grpc.AnalyzerStub, resource: str, type_: str = KEY_TYPE, **inputs: Any
            ) -> list[tuple[str, str]]:
    """``(level, message)`` of each report of ``tenant-key-destination`` on key ``resource`` with these inputs."""
    props = {"tenantId": TENANT_ID, "roles": ["tenant-transaction-read"], "rotationDays": 30, **inputs}
    answer = analyzer.Analyze(analyzer_pb2.AnalyzeRequest(
        type=type_, urn=urn("prod", "p", type_, resource), name=resource, properties=to_struct(props)))
    return [(LEVEL[d.enforcementLevel], own_message(d)) for d in answer.diagnostics if d.policyName == POLICY]


# -- tenant-key-destination ------------------------------------------------------------------------------------

@pytest.mark.parametrize("type_", KEY_TYPES)
def test_a_key_with_a_store_destination_passes_and_one_without_is_advised_how_to_fix_it(
        analyzer: analyzer_pb2_grpc.AnalyzerStub, type_: str) -> None:
    configure(analyzer)
    assert analyze(analyzer, "ci", type_, destination=AWS) == []
    assert analyze(analyzer, "ci", type_, destination=VAULT) == []

    kind = type_.rsplit(":", 1)[-1]
    ((level, message),) = analyze(analyzer, "ci", type_)
    assert level == "advisory"  # the default: a stack makes it mandatory in its policy config
    assert message.startswith(f"{kind} 'ci' has no destination, so its private key is kept in the Pulumi state")
    assert "a destination of type 'aws-secretsmanager' or 'vault-kv2' (its destination input)" in message
    assert "the provider config imburse:destination" in message
    assert (f"add its resource name 'ci' (or its URN {urn('prod', 'p', type_, 'ci')!r}) to exemptKeys in the policy "
            "config of tenant-key-destination") in message

    # "state" is the old way, said explicitly: still no store
    ((_, in_state),) = analyze(analyzer, "ci", type_, destination={"type": "state"})
    assert in_state.startswith(f"{kind} 'ci' has the destination type 'state', so its private key is kept")
    ((_, typo),) = analyze(analyzer, "ci", type_, destination={**VAULT, "type": "vault"})
    assert f"{kind} 'ci' has a destination of type 'vault', which is not a secret store" in typo


def test_only_keys_are_checked(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer)
    for type_ in (TENANT_TYPE, TENANT_TOKEN, "aws:s3/bucket:Bucket"):
        assert analyze(analyzer, "acme", type_) == []


def test_mandatory_and_exemptions_by_config(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, **{POLICY: (analyzer_pb2.MANDATORY, {
        "exemptKeys": ["legacy", urn("prod", "p", KEY_TYPE, "by-urn"), "explicit-name"]})})
    try:
        assert [level for level, _ in analyze(analyzer, "ci")] == ["mandatory"]
        assert analyze(analyzer, "ci", destination=VAULT) == []
        assert analyze(analyzer, "legacy") == []  # by resource name
        assert analyze(analyzer, "by-urn") == []  # by URN
        assert analyze(analyzer, "named", name="explicit-name") == []  # by the key name given explicitly
        assert [level for level, _ in analyze(analyzer, "named", name="other-name")] == ["mandatory"]
        configure(analyzer, **{POLICY: (analyzer_pb2.DISABLED, {})})
        assert analyze(analyzer, "ci") == []
    finally:
        configure(analyzer)


def test_a_preview_decides_on_the_destination_type_alone(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer)
    # the secret's name from another resource, unknown until it exists: the type is known, so the key passes
    assert analyze(analyzer, "ci", destination={**AWS, "secretId": UNKNOWN_STRING_VALUE}) == []
    assert len(analyze(analyzer, "ci", destination={"type": "state", "path": UNKNOWN_STRING_VALUE})) == 1
    # the destination, or its type, unknown: the SDK's advisory note that the policy runs during the update
    for destination in (UNKNOWN_OBJECT_VALUE, {**VAULT, "type": UNKNOWN_STRING_VALUE}):
        ((level, message),) = analyze(analyzer, "ci", destination=destination)
        assert level == "advisory" and f"can't run policy '{POLICY}'" in message and "during preview" in message


# -- no-plaintext-private-key-output with reference outputs -------------------------------------------------------

STORED = urn("prod", "p", KEY_TYPE, "stored")
VAULTED = urn("prod", "p", ROTATING_KEY_TOKEN, "vaulted")
IN_STATE = urn("prod", "p", KEY_TYPE, "in-state")
ARN = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:imburse/t1/stored-AbCdEf"
VAULT_REFERENCE = "http://127.0.0.1:8200/v1/secret/data/imburse/t1/vaulted"
STORED_OUTPUTS = {"tenantId": TENANT_ID, "publicKey": "pk-stored-0123456789abcdef", "privateKey": secret(""),
                  "destination": AWS, "secretReference": ARN, "secretVersion": "pk-stored-0123456789abcdef",
                  "privateKeyFingerprint": fingerprint("stored-private-key")}
VAULTED_OUTPUTS = {"tenantId": TENANT_ID, "publicKey": "pk-vaulted-0123456789abcdef", "privateKey": "",
                   "previousPrivateKey": "", "destination": VAULT, "secretReference": VAULT_REFERENCE,
                   "secretVersion": "3", "privateKeyFingerprint": fingerprint("vaulted-private-key")}


def analyze_stack(analyzer: analyzer_pb2_grpc.AnalyzerStub, exports: dict[str, Any]) -> list[str]:
    """The messages of ``no-plaintext-private-key-output`` on a stack of three keys exporting ``exports``."""
    resources = [
        analyzer_pb2.AnalyzerResource(type=KEY_TYPE, urn=STORED, name="stored", properties=to_struct(STORED_OUTPUTS)),
        analyzer_pb2.AnalyzerResource(type=ROTATING_KEY_TOKEN, urn=VAULTED, name="vaulted",
                                      properties=to_struct(VAULTED_OUTPUTS)),
        analyzer_pb2.AnalyzerResource(type=KEY_TYPE, urn=IN_STATE, name="in-state", properties=to_struct(
            {"tenantId": TENANT_ID, "publicKey": "pk-in-state", "privateKey": secret(PRIVATE_KEY)})),
        analyzer_pb2.AnalyzerResource(type=STACK_TYPE, urn=urn("prod", "p", STACK_TYPE, "p-prod"), name="p-prod",
                                      properties=to_struct(exports)),
    ]
    answer = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources))
    return [own_message(d) for d in answer.diagnostics if d.policyName == LEAKS]


def test_reference_outputs_may_be_exported_as_plain_text(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer)
    exports = {
        # what a program exports from a key with a destination, under the names it would choose
        "storedPrivateKey": "", "vaultedPrivateKey": "",  # privateKey is "" with a destination
        "storedPrivateKeyFingerprint": STORED_OUTPUTS["privateKeyFingerprint"],
        "privateKeys": {"stored": ARN, "vaulted": VAULT_REFERENCE},
        "privateKeyVersions": {"stored": STORED_OUTPUTS["secretVersion"], "vaulted": "3"},
        "stored": {k: v for k, v in STORED_OUTPUTS.items() if k != "privateKey"},  # the whole key, as an object
        "vaulted": VAULTED_OUTPUTS,
        "inStatePrivateKey": secret(PRIVATE_KEY),  # the secret of a key without a destination, exported as secret
    }
    assert analyze_stack(analyzer, exports) == []


def test_a_private_key_in_state_exported_as_plain_text_is_still_flagged(
        analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer)
    leaks = analyze_stack(analyzer, {
        "inStatePrivateKey": PRIVATE_KEY,  # the key without a destination, unsecret
        "storedPrivateKeyFingerprint": STORED_OUTPUTS["privateKeyFingerprint"],  # fine
        # a value that only looks like a fingerprint, under a private-key name: no key's reference, so plain text
        "lookalike": {"privateKey": fingerprint("not any key's")},
    })
    assert len(leaks) == 2, leaks
    assert f"Stack output 'inStatePrivateKey' holds the private key of {IN_STATE} as plain text" in leaks[0]
    assert PRIVATE_KEY not in leaks[0]
    assert "Stack output 'lookalike.privateKey' is named like a private key but is plain text" in leaks[1]


def test_reference_outputs_pass_whatever_private_key_names_are_configured(
        analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    configure(analyzer, **{LEAKS: (analyzer_pb2.MANDATORY, {"privateKeyNames": ["privateKey", "secret"]})})
    try:
        leaks = analyze_stack(analyzer, {"storedSecretReference": ARN, "vaultedSecretVersion": "3",
                                         "apiSecret": "plain-but-named-secret"})
    finally:
        configure(analyzer)
    assert len(leaks) == 1 and "Stack output 'apiSecret' is named like a private key" in leaks[0], leaks


# -- Through the CLI: keys with the provider-wide default, and their references exported ------------------------

def test_keys_in_a_store_pass_and_export_their_references_while_a_key_in_state_is_flagged(
        emulator: EmulatorProcess, moto_endpoint: str) -> None:
    """``pulumi up`` with the stack default ``imburse:destination`` (AWS Secrets Manager: ``moto_server``), which the
    provider applies in Check: the pack sees the resolved destination."""
    default = {"type": "aws-secretsmanager", "secretId": "imburse/{tenantId}/{resourceName}", "region": "eu-west-1",
               "endpoint": moto_endpoint, "recoveryWindowInDays": 0}
    keys = {"stored": {"roles": READ, "rotationDays": 30, "graceDays": 7},  # takes the stack's default
            "plain": {"roles": READ, "rotationDays": 30, "graceDays": 7, "destination": {"type": "state"}}}
    with existing_tenant(emulator, "policy-stored") as tenant_id, emulated_stack(
            PROGRAM, stack_name="stored", emulator=emulator,
            env={**PACK_ENV, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
            config={"tenantId": tenant_id, "keys": keys, "imburse:destination": default,
                    "exportPlainPrivateKeys": "true", "exportReferences": "true"}) as s:
        run = up(s)
        outputs = s.stack.outputs()
    # the default satisfies tenant-key-destination; "state", said explicitly, does not
    assert {(v.resource, v.level) for v in run.violations if v.policy == POLICY} == {("plain", "advisory")}, run.error
    assert "RotatingTenantKey 'plain' has the destination type 'state'" in run.message("plain", POLICY)
    # every reference output, and the empty private key, exported as plain text: no leak; the key in state: a leak
    assert outputs["storedSecretReference"].value.startswith("arn:aws:secretsmanager:eu-west-1:")
    assert outputs["storedPrivateKeyFingerprint"].value.startswith("sha256:") and outputs["storedSecretVersion"].value
    assert outputs["storedPrivateKey"].value == ""
    assert not any(outputs[f"stored{name}"].secret for name in ("SecretReference", "SecretVersion",
                                                                 "PrivateKeyFingerprint", "PrivateKey"))
    (leak,) = [v for v in run.violations if v.policy == LEAKS]
    assert leak.level == "mandatory" and run.failed
    assert (f"Stack output 'plainPrivateKey' holds the private key of "
            f"{urn('stored', 'guarded', ROTATING_KEY_TYPE, 'plain')} as plain text") in leak.message
