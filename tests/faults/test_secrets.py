"""No secret anywhere after a full lifecycle run the way a user runs it (StackRunner: program, host, state).

Up under the issue's faults, an update, a refresh, two failing ups (a Check failure and a Create failure)
and a destroy, with the provider's and urllib3's DEBUG logs switched on in the host. Then the state file,
everything the program, the host and the runner printed, every exception text, everything this test
process printed, and the decoded ``__provider`` of every resource are scanned for the account's private
key, every tenant key's private key, and anything shaped like a bearer token or a signed Authorization
header.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import BaseResult, StackRunner, StackRunnerError

from .support import FAULTS, account_client

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "programs" / "keys"
DEBUG_LOGGING = HERE / "debuglog"
PASSPHRASE = "faults secret scan"
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")
SIGNED_HEADER = re.compile(r"(?i)\b(?:bearer|hmac)\s+[\w.+/=:~-]{16,}")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


def _texts(result: BaseResult) -> list[str]:
    return [result.stdout, result.stderr, result.provider_log, *(d.message for d in result.diagnostics)]


def _failure_texts(error: StackRunnerError) -> list[str]:
    return [str(error), repr(error), error.message, error.provider_log, error.stdout, error.stderr,
            *error.diagnostics, str(getattr(error, "details", ""))]


def _unwrap(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) and "value" in value else value


def _decoded_providers(runner: StackRunner) -> list[bytes]:
    found = []
    for res in runner.resources():
        for props in (res.inputs, res.outputs):
            provider = _unwrap((props or {}).get("__provider"))
            if provider:
                found.append(base64.b64decode(provider))
    return found


def test_no_secret_anywhere_after_a_full_lifecycle(emu: EmulatorProcess, tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    with account_client(emu) as api:
        tenant = api.create_tenant("secret scan").tenant_id
        sample_token = api.access_token().token
    assert JWT.search(sample_token) and SIGNED_HEADER.search(f"Bearer {sample_token}")  # the patterns bite
    state = tmp_path / "state.json"

    def runner(**config: Any) -> StackRunner:
        return StackRunner(
            PROGRAM, stack_name="dev", state_file=state, passphrase=PASSPHRASE, python_path=[DEBUG_LOGGING],
            config={"imburse:baseUrl": emu.base_url, "imburse:publicKey": emu.public_key,
                    "imburse:accountId": emu.account_id, "keys:tenantId": tenant, "keys:count": 6, **config},
            secret_config={"imburse:privateKey": emu.private_key},
        )

    texts: list[str] = []
    emu.set_faults(**FAULTS, seed=701)
    try:
        first = runner().up()
    finally:
        emu.clear_faults()
    texts += _texts(first)
    tenant_private_keys = [v.value for k, v in first.outputs.items() if k.endswith("PrivateKey")]
    assert len(tenant_private_keys) == 6 and all(tenant_private_keys)
    assert all(first.outputs[k].secret for k in first.outputs if k.endswith("PrivateKey"))

    updated = runner(**{"keys:roles": ["tenant-app-read", "tenant-transaction-read"]}).up()
    assert updated.summary.resource_changes["update"] == 6
    texts += _texts(updated)
    texts += _texts(runner().refresh())
    providers = _decoded_providers(runner())
    assert providers and all(p == providers[0] for p in providers)

    for config in ({"keys:badRole": True}, {"keys:strayTenant": str(uuid.uuid4())}):
        with pytest.raises(StackRunnerError) as failure:
            runner(**config).up()
        texts += _failure_texts(failure.value)

    destroyed = runner().destroy()
    texts += _texts(destroyed)
    with account_client(emu) as api:
        assert api.list_keys(tenant) == []  # the destroy left nothing behind
        api.delete_tenant(tenant)

    printed = capfd.readouterr()
    texts += [printed.out, printed.err, state.read_text(encoding="utf-8")]
    assert "reconciling" in "".join(texts) or "HTTP/1.1" in "".join(texts)  # the debug logs were there
    _assert_no_secret(texts, providers, [emu.private_key, *tenant_private_keys])


def _assert_no_secret(texts: Iterable[str], blobs: Iterable[bytes], secrets: list[str]) -> None:
    for i, text in enumerate(texts):
        for secret in secrets:
            assert secret not in text, f"a private key in text #{i}"
        assert not JWT.search(text), f"a bearer token in text #{i}: {JWT.search(text)}"
        assert not SIGNED_HEADER.search(text), f"an Authorization header in text #{i}: {SIGNED_HEADER.search(text)}"
    for blob in blobs:
        assert blob.startswith(b"\x80") and len(blob) < 128  # a pickle: a reference to the provider class
        for secret in secrets:
            assert secret.encode() not in blob and base64.b64decode(secret) not in blob
