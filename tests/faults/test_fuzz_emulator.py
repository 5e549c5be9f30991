"""Fuzz the emulator from its own OpenAPI document with schemathesis, over HTTP, with real credentials.

Every operation gets valid and invalid requests (schemathesis's positive and negative generation), signed
with a fresh HMAC signature (the token route) or a valid bearer token (every other route). Half of the
generated tenant ids, key ids and context headers are swapped for real ones, so requests reach the
handlers' inner rules and not only the 404/403 answers. Checked for every response:

- no 5xx, a documented status, content type, headers and body schema (schemathesis's checks), and a
  request that breaks the schema is not accepted;
- the contract's own rules on anything accepted: a 2xx key or tenant write had a valid body (the same
  validation the provider uses), roles come back normalised, ``privateKey`` only in a create's answer;
- no error echoes a credential; and after the run the emulator is alive and logged no unexpected error.

Bounded: at most 50 examples per operation and generation mode, a fixed seed (``derandomize``); one
pytest test per operation and mode. The cases come from schemathesis's Python API (``as_strategy`` under
Hypothesis's ``@given``): its lazy pytest loader (``schemathesis.pytest.from_fixture``, 4.32) sets
``request.node._nodeid``, which pytest 9 no longer has, and the schema only exists once the emulator runs.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.models import DEFAULT_KEY_NAME
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.models import ADDRESS_FIELDS
from pulumi_imburse.roles import normalize_roles
from pulumi_imburse.validation import check_name, check_tenant_roles, check_text, check_unknown, is_guid

from .support import account_client

TOKEN_PATH = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN].path
MAX_EXAMPLES = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]
"""schemathesis's checks on every response: no 5xx, documented status/content type/headers/body, and no
request that breaks the schema accepted."""
KEY_WRITES = {("POST", "/v1/tenant/{tenantId}/keys"), ("PUT", "/v1/tenant/{tenantId}/keys/{publicKey}")}
TENANT_WRITES = {("POST", "/v1/account/tenants"), ("PUT", "/v1/account/tenants/{tenantId}")}


class Fuzzed:
    """The emulator under fuzzing, the real ids swapped in, and a bearer token for the account key."""

    def __init__(self, emu: EmulatorProcess) -> None:
        self.emu = emu
        with account_client(emu) as api:
            self.tenants = [api.create_tenant(f"fuzz {i}").tenant_id for i in range(3)]
            self.keys = [api.create_key(t, ["tenant-app-read"], "fuzz").public_key for t in self.tenants]
            # What the delete operations may delete, so the other operations keep finding real ids.
            self.spare_tenants = [api.create_tenant(f"fuzz spare {i}").tenant_id for i in range(3)]
            self.spare_keys = [api.create_key(t, ["tenant-app-read"], "spare").public_key for t in self.tenants]
            self.token = api.access_token().token

    def pick(self, seed: str, choices: list[str]) -> str | None:
        """A real id for about half the generated values (deterministic: the value decides)."""
        digest = zlib.crc32(seed.encode("utf-8", "surrogatepass"))
        return choices[(digest >> 1) % len(choices)] if digest % 2 == 0 else None


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    with EmulatorProcess() as emu:
        yield Fuzzed(emu)


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict({
        "base-url": fuzzed.emu.base_url,
        # Credentials are ours to attach (valid ones); the fuzzer varies everything else.
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "with-security-parameters": False},
    })
    schema = schemathesis.openapi.from_url(f"{fuzzed.emu.base_url}/openapi.json", config=config)

    @schema.hook
    def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> dict[str, Any]:
        params = dict(path_parameters or {})
        deleting = context.operation is not None and context.operation.method.upper() == "DELETE"
        tenants = fuzzed.spare_tenants if deleting and "keys" not in context.operation.path else fuzzed.tenants
        for name, pool in (("tenantId", tenants), ("publicKey", fuzzed.spare_keys if deleting else fuzzed.keys)):
            value = params.get(name)
            if isinstance(value, str) and is_guid(value) and (real := fuzzed.pick(value, pool)) is not None:
                # (an invalid id stays invalid: a negative case must stay negative)
                params[name] = real
        return params

    @schema.hook
    def map_headers(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
        if not headers:
            return headers
        headers = dict(headers)
        for name, pool in (("x-account-id", [fuzzed.emu.account_id]), ("x-tenant-id", fuzzed.tenants)):
            value = headers.get(name)
            if isinstance(value, str) and is_guid(value) and (real := fuzzed.pick(value, pool)) is not None:
                headers[name] = real
        return headers

    return schema


def _authorization(fuzzed: Fuzzed, case: Case[Any]) -> str:
    if case.operation.path == TOKEN_PATH:
        body = case.body if isinstance(case.body, (bytes, str)) else b""
        return hmac_authorization(fuzzed.emu.public_key, fuzzed.emu.private_key, body)
    return f"Bearer {fuzzed.token}"


def _check_contract(fuzzed: Fuzzed, case: Case[Any], status: int, text: str) -> None:
    """The contract's rules on what was accepted (schemathesis checks the schema, this the semantics)."""
    method, path = case.operation.method.upper(), case.operation.path
    for secret in (fuzzed.token, fuzzed.emu.private_key):
        assert secret not in text
    if not 200 <= status < 300:
        return
    body = case.body
    data: Any = json.loads(text) if text else None
    if (method, path) in KEY_WRITES:
        assert isinstance(body, dict)
        assert check_unknown(body, ("name", "roles")) + check_name("name", body.get("name")) \
            + check_tenant_roles("roles", body.get("roles")) == [], body
        assert data["roles"] == normalize_roles([str(r) for r in body["roles"]])  # type: ignore[union-attr]
        assert data["name"] == body.get("name", DEFAULT_KEY_NAME if method == "POST" else data["name"])
        assert ("privateKey" in data) == (method == "POST")
    elif (method, path) in TENANT_WRITES:
        assert isinstance(body, dict)
        problems = check_unknown(body, ("name", *ADDRESS_FIELDS)) + check_name("name", body.get("name"), required=True)
        for field in ADDRESS_FIELDS:
            problems += check_text(field, body.get(field))
        assert problems == [], body
    elif method == "GET" and "/keys" in path:
        items = data if isinstance(data, list) else [data]
        assert all("privateKey" not in item for item in items)


OPERATIONS = sorted((r.name for r in routes.DEFAULT_ROUTES.values()), key=lambda n: n.startswith("delete_"))
"""Every operation of the route table, the deletes last."""
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
MODE_IDS = ["positive", "negative"]


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_emulator_keeps_its_contract(api_schema: schemathesis.BaseSchema, fuzzed: Fuzzed, operation_id: str,
                                     mode: GenerationMode) -> None:
    operation = api_schema.find_operation_by_id(operation_id)  # type: ignore[attr-defined]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def fuzz(case: Case[Any]) -> None:
        response = case.call_and_validate(headers={"Authorization": _authorization(fuzzed, case)}, checks=CHECKS)
        statuses.append(response.status_code)
        _check_contract(fuzzed, case, response.status_code, response.text or "")

    fuzz()
    assert statuses and all(s < 500 for s in statuses)
    if mode is GenerationMode.POSITIVE:  # the real ids took valid requests past the 403/404 answers
        assert any(200 <= s < 300 for s in statuses), sorted(set(statuses))


def test_the_emulator_survived_the_fuzzing(fuzzed: Fuzzed) -> None:
    assert fuzzed.emu.running
    log = fuzzed.emu.log_file.read_text(encoding="utf-8", errors="replace")
    assert "unexpected error" not in log and "Traceback" not in log
    with account_client(fuzzed.emu) as api:
        assert api.list_tenants() is not None

