"""Secrets: encrypted in the state file, secret in outputs, never in plain text; the passphrase rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulumi_imburse.testing import PassphraseError
from pulumi_imburse.testing.state import SECRET_SIG, SIG_KEY, is_secret

from .support import TOKEN, Toy, urn

SECRET_VALUE = "hidden-value-123"


@pytest.fixture
def toy(tmp_path: Path) -> Toy:
    return Toy(tmp_path)


def test_secrets_are_encrypted_in_state_and_secret_in_outputs(toy: Toy) -> None:
    things = [
        {"name": "plain", "value": "visible"},
        {"name": "sec", "value": SECRET_VALUE, "secret": True},
        {"name": "tok", "useToken": True, "secretOutputs": ["secretToken"]},
    ]
    runner = toy.runner(things, secret_config={"toy:token": TOKEN})

    result = runner.up()

    tok_id = result.outputs["tok_id"].value
    generated = f"generated-{tok_id}"
    text = toy.state.read_text(encoding="utf-8")
    for plaintext in (TOKEN, SECRET_VALUE, generated):
        assert plaintext not in text
        assert plaintext not in result.provider_log
    assert "visible" in text
    # On disk a secret is the CLI's envelope: the secret signature and a ciphertext, no value.
    data = json.loads(text)
    (sec,) = [r for r in data["resources"] if r["urn"] == urn("sec")]
    assert sec["inputs"]["value"][SIG_KEY] == SECRET_SIG
    assert sec["inputs"]["value"]["ciphertext"].startswith("v1:") and "value" not in sec["inputs"]["value"]
    assert data["secrets_providers"]["type"] == "passphrase"

    # Outputs: a secret input, a secret config value and an additional_secret_outputs output come out secret.
    assert (result.outputs["sec_value"].value, result.outputs["sec_value"].secret) == (SECRET_VALUE, True)
    assert (result.outputs["token"].value, result.outputs["token"].secret) == (TOKEN, True)
    assert (result.outputs["tok_secretToken"].value, result.outputs["tok_secretToken"].secret) == (generated, True)
    assert result.outputs["plain_value"].secret is False
    assert repr(result.outputs["token"]) == "[secret]"

    # In memory (decrypted), the engine's secret markers are where the engine puts them.
    state = {r.urn: r for r in runner.resources()}
    assert is_secret(state[urn("sec")].inputs["value"]) and is_secret(state[urn("sec")].outputs["value"])
    assert is_secret(state[urn("tok")].inputs["token"]) and is_secret(state[urn("tok")].outputs["token"])
    assert is_secret(state[urn("tok")].outputs["secretToken"])
    assert not is_secret(state[urn("plain")].outputs["value"])
    # __provider is secret by default for dynamic resources (serialize_as_secret_always), so encrypted too.
    assert is_secret(state[urn("plain")].inputs["__provider"])

    # The provider itself never saw secret markers (Configure answered acceptSecrets=false).
    created = toy.things()[tok_id]
    assert created["token"] == TOKEN

    # Secrets do not make diffs: a second up is all `same`.
    assert runner.up().summary.resource_changes == {"same": 4}


def test_passphrase_rules(toy: Toy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)

    with pytest.raises(PassphraseError, match="PULUMI_CONFIG_PASSPHRASE"):
        toy.runner([{"name": "a"}], passphrase=None).up()
    assert toy.writes() == [] and not toy.state.exists()  # failed before anything ran

    # From the environment, as the CLI reads it.
    toy.runner([{"name": "a"}], passphrase=None, env={"PULUMI_CONFIG_PASSPHRASE": "from-env"}).up()

    with pytest.raises(PassphraseError, match="incorrect passphrase"):
        toy.runner([{"name": "a"}], passphrase="wrong").preview()
    with pytest.raises(PassphraseError, match="incorrect passphrase"):
        toy.runner(passphrase="wrong").destroy()
    assert toy.names() == ["a"]
