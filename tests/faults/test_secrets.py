"""No secret anywhere after a full lifecycle run the way a user runs it: the real Pulumi CLI, DEBUG logging on.

``pulumi up --debug`` under the issue's faults, an update, a refresh, two failing ups (a Check failure and a
Create failure) and a destroy under faults, with the provider's and urllib3's DEBUG logs switched on in the
provider host (``tests/faults/debuglog`` on its ``PYTHONPATH``; the engine relays what the host prints into
the CLI's output). Then everything is scanned for the account's private key, every tenant key's private
key, and anything shaped like a bearer token or a signed ``Authorization`` header: the CLI's output and
engine events of every operation, every error, everything this test process printed, every file of the
stack (state, its backups and history, stack config, Pulumi home), and the decoded ``__provider`` of every
resource.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import EmulatedStack, emulated_stack

from ..engine import Output, changes
from .support import CREATE_KEY_ROUTE, FAULTS, account_client, count

HERE = Path(__file__).resolve().parent
PROGRAM = HERE / "programs" / "keys"
DEBUG_LOGGING = HERE / "debuglog"
N_KEYS = 8
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")
SIGNED_HEADER = re.compile(r"(?i)\b(?:bearer|hmac)\s+[\w.+/=:~-]{16,}")
ABSENT_TENANT = "4f1c2a9e-0000-4000-8000-000000000000"
REFUSED = re.compile(r'HTTP/1\.1" (?:429|502|503|504) ')
"""urllib3's DEBUG line for a request the emulator refused or answered 504."""


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess() as e:
        yield e


class Scan:
    """Every text a run produced, to be scanned for secrets at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def run(self, operation: Any, **kwargs: Any) -> Any:
        """Call ``operation`` (``stack.up``, ``stack.refresh``...) with ``--debug``, keeping its output and events."""
        out, events = Output(), []
        try:
            result = operation(debug=True, on_output=out, on_event=events.append, **kwargs)
        except auto.CommandError as error:
            self.texts += [str(error), repr(error)]
            raise
        finally:
            self.texts += [out.text, *(_event_text(e) for e in events)]
        self.texts += [result.stdout, result.stderr]
        return result


def _event_text(event: auto.EngineEvent) -> str:
    return json.dumps(event, default=lambda o: vars(o) if hasattr(o, "__dict__") else str(o))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _decoded_providers(s: EmulatedStack) -> list[bytes]:
    found = []
    for res in s.stack.export_stack().deployment["resources"]:
        if not res["type"].endswith(":TenantKey"):
            continue
        for props in (res.get("inputs") or {}, res.get("outputs") or {}):
            provider = props["__provider"]
            assert isinstance(provider, str), "__provider is stored as a secret: the provider was pickled by value"
            found.append(base64.b64decode(provider))
    return found


def test_no_secret_anywhere_after_a_full_lifecycle(emu: EmulatorProcess, capfd: pytest.CaptureFixture[str]) -> None:
    with account_client(emu) as api:
        tenant = api.create_tenant("secret scan").tenant_id
        sample_token = api.access_token().token
    assert JWT.search(sample_token) and SIGNED_HEADER.search(f"Bearer {sample_token}")  # the patterns bite
    scan = Scan()
    config = {"keys:tenantId": tenant, "keys:count": str(N_KEYS), "keys:roles": ["tenant-app-read"]}
    with emulated_stack(PROGRAM, stack_name="dev", emulator=emu, config=config,
                        env={"PYTHONPATH": str(DEBUG_LOGGING)}) as s:
        emu.reset_stats()
        emu.set_faults(**FAULTS, seed=701)
        try:
            first = scan.run(s.stack.up)
        finally:
            emu.clear_faults()
        assert changes(first) == {"create": N_KEYS + 1}
        assert count(emu, CREATE_KEY_ROUTE) > N_KEYS  # faults really happened: refused creates were sent again
        outputs = s.stack.outputs()
        tenant_private_keys = [v.value for k, v in outputs.items() if k.endswith("PrivateKey")]
        assert len(tenant_private_keys) == N_KEYS and all(tenant_private_keys)
        assert all(outputs[k].secret for k in outputs if k.endswith("PrivateKey"))

        s.set_config({"keys:roles": ["tenant-app-read", "tenant-transaction-read"]})
        assert changes(scan.run(s.stack.up)) == {"update": N_KEYS}
        scan.run(s.stack.refresh)
        providers = _decoded_providers(s)
        assert len(providers) == 2 * N_KEYS and all(p == providers[0] for p in providers)

        failures = {"keys:badRole": ("true", "tenant-superuser"), "keys:strayTenant": (ABSENT_TENANT, "404")}
        for key, (value, needle) in failures.items():
            s.set_config({key: value})
            with pytest.raises(auto.CommandError) as failure:
                scan.run(s.stack.up)
            assert needle in str(failure.value)
            s.stack.remove_config(key)

        emu.set_faults(**FAULTS, seed=702)
        try:
            assert changes(scan.run(s.stack.destroy)) == {"delete": N_KEYS + 1}
        finally:
            emu.clear_faults()
        with account_client(emu) as api:
            assert api.list_keys(tenant) == []  # the destroy left nothing behind
            api.delete_tenant(tenant)
        files = _files(s.work_dir.parent)  # state, backups, history, Pulumi.dev.yaml, Pulumi home
    assert any(name.endswith("dev.json") for name in files)
    assert any(emu.public_key.encode() in blob for blob in files.values())  # the stack's config was read too

    printed = capfd.readouterr()
    scan.texts += [printed.out, printed.err]
    everything = "\n".join(scan.texts)
    # The host's DEBUG logs reached the CLI's output, token exchanges and refused requests included.
    assert "pulumi_imburse.client: obtained a bearer token" in everything
    assert REFUSED.search(everything)
    _assert_no_secret([*scan.texts, *(b.decode("utf-8", "replace") for b in files.values())],
                      [*files.values(), *providers], providers, [emu.private_key, *tenant_private_keys])


def _assert_no_secret(texts: Iterable[str], raw: Iterable[bytes], providers: Iterable[bytes],
                      secrets: list[str]) -> None:
    for i, text in enumerate(texts):
        for secret in secrets:
            assert secret not in text, f"a private key in text #{i}"
        assert not JWT.search(text), f"a bearer token in text #{i}: {JWT.search(text)}"
        assert not SIGNED_HEADER.search(text), f"an Authorization header in text #{i}: {SIGNED_HEADER.search(text)}"
    for blob in raw:
        for secret in secrets:
            assert secret.encode() not in blob and base64.b64decode(secret) not in blob
    for provider in providers:
        assert provider.startswith(b"\x80") and len(provider) < 128  # a pickle: a reference to the provider class
