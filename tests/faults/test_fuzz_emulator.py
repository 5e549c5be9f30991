"""Fuzz the emulator over HTTP, with real credentials: every API operation from its own OpenAPI document
(schemathesis), the ``Authorization`` header in its Hmac and Bearer forms, every ``/_emulator/*`` control,
and hostile JSON bodies on every route that takes one (Hypothesis).

API operations: valid and invalid requests (schemathesis's positive and negative generation), signed with a
fresh HMAC signature (the token route) or a valid bearer token (every other route). Half of the generated
tenant ids, key ids and context headers are swapped for real ones, so requests reach the handlers' inner
rules and not only the 404/403 answers. Checked for every response:

- no 5xx, a documented status, content type, headers and body schema (schemathesis's checks), and a
  request that breaks the schema is not accepted;
- the contract's own rules on anything accepted: a 2xx key or tenant write had a valid body (the same
  validation the provider uses), roles come back normalised, ``privateKey`` only in a create's answer;
- no error echoes a credential; and after each test the emulator is alive, logged no unexpected error and
  still holds the fuzzing's tenants.

The ``Authorization`` header: Hmac headers built from real and hostile parts (schemes, keys, nonces,
timestamps such as ``"\xb2"`` or 5,000 digits, signatures good and bad) and Bearer headers (the real token,
mangled, unsigned, signed with another secret, and signed with the emulator's own secret around claims of
every type). No 5xx, and a 2xx only for a credential that is genuinely valid.

The controls and the JSON bodies: objects with the route's own property names and arbitrary ones, values of
every JSON type including ``NaN``/``Infinity``, huge numbers, lone surrogates, nesting up to 30,000 deep,
bodies that are not UTF-8 and bodies over the size limit. No 5xx; only documented statuses.

Bounded: at most 50 examples per operation and generation mode (120-150 for the Hypothesis tests), a fixed
seed (``derandomize``), no shrinking; the module runs in about 20 s. The cases come from schemathesis's Python
API (``as_strategy`` under Hypothesis's ``@given``): its lazy pytest loader (``schemathesis.pytest.from_fixture``,
4.32) sets ``request.node._nodeid``, which pytest 9 no longer has, and the schema only exists once the
emulator runs.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
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
from pulumi_imburse.auth import compute_signature, hmac_authorization, new_nonce
from pulumi_imburse.emulator.bodies import MAX_BODY_BYTES
from pulumi_imburse.emulator.faults import FAULT_FIELDS
from pulumi_imburse.emulator.models import DEFAULT_KEY_NAME, KEY_AGE_FIELDS, TENANT_FIELDS
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
        db = sqlite3.connect(f"file:{emu.db}?mode=ro", uri=True)
        try:  # to sign tokens around hostile claims, as only the emulator itself could
            self.jwt_secret: str = db.execute("SELECT value FROM meta WHERE key = 'jwt_secret'").fetchone()[0]
        finally:
            db.close()

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
    _check_semantics(fuzzed, case.operation.method.upper(), case.operation.path, case.body, status, text)


def _check_semantics(fuzzed: Fuzzed, method: str, path: str, body: Any, status: int, text: str) -> None:
    for secret in (fuzzed.token, fuzzed.emu.private_key):
        assert secret not in text
    assert status < 500, f"{method} {path}: {status} {text[:300]}"
    if not 200 <= status < 300:
        return
    data: Any = json.loads(text) if text else None
    if (method, path) in KEY_WRITES:
        assert isinstance(body, dict)
        assert check_unknown(body, ("name", "roles")) + check_name("name", body.get("name"), plain=False) \
            + check_tenant_roles("roles", body.get("roles")) == [], body
        assert data["roles"] == normalize_roles([str(r) for r in body["roles"]])  # type: ignore[union-attr]
        assert data["name"] == body.get("name", DEFAULT_KEY_NAME if method == "POST" else data["name"])
        assert ("privateKey" in data) == (method == "POST")
    elif (method, path) in TENANT_WRITES:
        assert isinstance(body, dict)
        # The service takes any text as a name (plain=False); the no-control-characters rule is the provider's.
        problems = check_unknown(body, ("name", *ADDRESS_FIELDS)) \
            + check_name("name", body.get("name"), required=True, plain=False)
        for field in ADDRESS_FIELDS:
            problems += check_text(field, body.get(field))
        assert problems == [], body
    elif method == "GET" and "/keys" in path:
        items = data if isinstance(data, list) else [data]
        assert all("privateKey" not in item for item in items)


def _assert_survived(fuzzed: Fuzzed) -> None:
    """The emulator is alive, logged no unexpected error, and still serves the fuzzing's own tenants."""
    assert fuzzed.emu.running
    log = fuzzed.emu.log_file.read_text(encoding="utf-8", errors="replace")
    assert "unexpected error" not in log and "Traceback" not in log, log[-3000:]
    with account_client(fuzzed.emu) as api:
        assert set(fuzzed.tenants) <= {t.tenant_id for t in api.list_tenants()}


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
    _assert_survived(fuzzed)


# ---------------------------------------------------------------------------------------------- Hypothesis

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
ANY_CHAR = st.characters(categories=["L", "M", "N", "P", "S", "Z", "C"])  # "C" includes lone surrogates
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
"""What an HTTP header value can hold as text (latin-1, no control characters)."""
HOSTILE_DIGITS = ["\xb2", "1\xb2", "\xb9\xb2\xb3", "9" * 5000, "0" * 13, "-1", "+1700000000", " 1", "1e9", "0x1F",
                  "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660", "", "99999999999999999999"]
"""Timestamps that once gave a 5xx or that a lax parser would take: Unicode digits, 5,000 digits, signs ..."""


def _header_value(text: str) -> bytes:
    """``text`` as sent: latin-1 when it fits (so "\\xb2" arrives as itself), else its UTF-8 bytes. Leading
    blanks go (HTTP drops them anyway, and ``requests`` refuses them)."""
    text = text.lstrip(" \t")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _strip_crlf(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


@st.composite
def hmac_headers(draw: st.DrawFn, fuzzed: Fuzzed) -> tuple[str, bool]:
    """An ``Authorization`` header for the token route, and whether it is a genuinely valid credential."""
    emu = fuzzed.emu
    scheme = draw(st.sampled_from(["Hmac", "hmac", "HMAC", "Bearer", "Basic", ""]) | HEADER_TEXT)
    public_key = draw(st.sampled_from([emu.public_key, emu.public_key.upper(), fuzzed.keys[0], str(uuid.uuid4())])
                      | HEADER_TEXT)
    nonce = draw(st.builds(new_nonce) | HEADER_TEXT)
    offset = draw(st.integers(-400, 400))
    timestamp = draw(st.just(str(int(time.time()) + offset)) | st.sampled_from(HOSTILE_DIGITS)
                     | st.text("0123456789", min_size=1, max_size=6000) | HEADER_TEXT)
    signing_key = draw(st.sampled_from([emu.private_key, base64.b64encode(b"k" * 32).decode()]))
    signature = draw(st.just(compute_signature(public_key, signing_key, nonce, timestamp, b""))
                     | st.sampled_from(["", "\xe9", "=" * 44]) | HEADER_TEXT)
    parts = [public_key, nonce, timestamp, signature]
    shape = draw(st.sampled_from(["four", "four", "four", "three", "five"]))
    if shape == "three":
        parts = parts[:3]
    elif shape == "five":
        parts.append("x")
    header = _strip_crlf(f"{scheme} {':'.join(parts)}")
    valid = (scheme.lower() == "hmac" and public_key == emu.public_key and signing_key == emu.private_key
             and shape == "four" and timestamp == str(int(time.time()) + offset) and nonce.isalnum()
             and signature == compute_signature(public_key, signing_key, nonce, timestamp, b""))
    return header, valid and abs(offset) < 290


HOSTILE_EXP = [float("nan"), float("inf"), float("-inf"), True, 10**30, 1e308, "4102444800", None, [], 0]
"""Expiry times a lax check takes for "never expires" (NaN compares false with everything) or mishandles."""
CLAIM_VALUES = st.one_of(st.sampled_from(HOSTILE_EXP), st.none(), st.booleans(), st.integers(), st.floats(),
                         st.text(ANY_CHAR, max_size=10), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _unsigned(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@st.composite
def bearer_headers(draw: st.DrawFn, fuzzed: Fuzzed) -> tuple[str, bool | None]:
    """An ``Authorization`` header for a bearer route, and whether it is a genuinely valid credential (None:
    either answer is right)."""
    emu, token = fuzzed.emu, fuzzed.token
    now = int(time.time())
    good = {"sub": emu.public_key, "account": emu.account_id, "tenant": None, "iat": now, "exp": now + 600,
            "jti": uuid.uuid4().hex}
    kind = draw(st.sampled_from(["real", "scheme", "truncated", "flipped", "text", "unsigned", "other-secret",
                                 "claims", "claims", "exp"]))
    valid: bool | None = False
    if kind == "real":
        value, valid = f"Bearer {token}", True
    elif kind == "scheme":
        value = f"{draw(st.sampled_from(['bearer', 'BEARER', 'Hmac', 'Token', '']) | HEADER_TEXT)} {token}"
        valid = value.split(" ", 1)[0].lower() == "bearer"
    elif kind == "truncated":
        value = f"Bearer {token[:draw(st.integers(0, len(token) - 1))]}"
    elif kind == "flipped":
        i = draw(st.integers(0, len(token) - 1))
        char = draw(st.sampled_from("A_-.=\xe9"))
        value = f"Bearer {token[:i]}{char}{token[i + 1:]}"
        valid = value == f"Bearer {token}"
    elif kind == "text":
        value = draw(HEADER_TEXT)
    elif kind == "unsigned":
        value = f"Bearer {_unsigned(good)}"
    elif kind == "other-secret":
        value = f"Bearer {jwt.encode(good, 'not the emulator secret, though as long as one', algorithm='HS256')}"
    else:  # signed with the emulator's own secret, around claims of any type
        claims = dict(good)
        if kind == "exp":
            claims["exp"] = draw(st.sampled_from(HOSTILE_EXP))
        for name in draw(st.lists(st.sampled_from(sorted(good)), max_size=3, unique=True)) if kind == "claims" else ():
            if draw(st.booleans()):
                claims.pop(name)
            else:
                claims[name] = draw(CLAIM_VALUES)
        value = f"Bearer {jwt.encode(claims, fuzzed.jwt_secret, algorithm='HS256')}"
        exp = claims.get("exp")
        could_be_valid = (claims.get("sub") == emu.public_key and claims.get("account") == emu.account_id
                          and claims.get("tenant") is None and {"iat", "jti"} <= set(claims)
                          and isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp > now + 60)
        # Only the emulator can sign, so it may take what it would never mint (an odd "iat", say); what it must
        # refuse is a token for another key or account, or one that has expired or never expires.
        valid = None if could_be_valid and exp != float("inf") else False
    return _strip_crlf(value), valid


def _bearer_targets(fuzzed: Fuzzed) -> list[tuple[str, str, Any]]:
    r = routes.DEFAULT_ROUTES
    tid, key = fuzzed.tenants[0], fuzzed.keys[0]
    return [("GET", r[routes.LIST_TENANTS].format(), None),
            ("GET", r[routes.GET_KEY].format(tenantId=tid, publicKey=key), None),
            ("POST", r[routes.CREATE_TENANT].format(), {"name": "fuzz auth"})]


def test_authorization_header_hmac_form(fuzzed: Fuzzed) -> None:
    """Hostile Hmac headers on the token route: never a 5xx, a token only for a valid signature."""
    statuses: set[int] = set()

    @given(st.data())
    @FUZZ
    def fuzz(data: st.DataObject) -> None:
        header, valid = data.draw(hmac_headers(fuzzed))
        resp = requests.post(fuzzed.emu.base_url + TOKEN_PATH, headers={"Authorization": _header_value(header)},
                             timeout=30)
        statuses.add(resp.status_code)
        assert resp.status_code < 500, f"{header[:200]!r}: {resp.status_code} {resp.text[:300]}"
        assert (resp.status_code == 200) == valid, f"{header[:200]!r}: {resp.status_code} {resp.text[:300]}"
        assert fuzzed.emu.private_key not in resp.text

    fuzz()
    assert {200, 401} <= statuses, statuses
    _assert_survived(fuzzed)


def test_authorization_header_bearer_form(fuzzed: Fuzzed) -> None:
    """Hostile Bearer headers on reads and a write: never a 5xx, and an answer other than 401 only for a
    genuinely valid token."""
    statuses: set[int] = set()
    targets = _bearer_targets(fuzzed)

    @given(st.data())
    @FUZZ
    def fuzz(data: st.DataObject) -> None:
        header, valid = data.draw(bearer_headers(fuzzed))
        method, path, body = data.draw(st.sampled_from(targets))
        resp = requests.request(method, fuzzed.emu.base_url + path, json=body, timeout=30,
                                headers={"Authorization": _header_value(header)})
        statuses.add(resp.status_code)
        assert resp.status_code < 500, f"{header[:200]!r}: {resp.status_code} {resp.text[:300]}"
        if valid is not None:
            assert (resp.status_code != 401) == valid, f"{header[:200]!r}: {resp.status_code} {resp.text[:300]}"
        assert fuzzed.token not in resp.text

    fuzz()
    assert 401 in statuses and statuses - {401}, statuses
    _assert_survived(fuzzed)


# ---------------------------------------------------------------------------------------------- JSON bodies

JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(10**30, 10**60),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(ANY_CHAR, max_size=20),
                        st.sampled_from([503, 0.5, 1e308, "tenant-admin", "account-admin", "\ud800", "a\udfff"]))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(ANY_CHAR, max_size=8), inner, max_size=4), max_leaves=10)


def _dumps(value: object) -> bytes:
    """JSON as a lax client writes it: ``NaN``/``Infinity`` allowed, lone surrogates as ``\\ud800`` escapes."""
    return json.dumps(value, allow_nan=True).encode("ascii")


@st.composite
def json_bodies(draw: st.DrawFn, fields: tuple[str, ...], real: list[str]) -> bytes:
    """A request body for a route whose properties are ``fields``; real ids/values mixed in."""
    kind = draw(st.sampled_from(["object", "object", "object", "value", "deep", "deep-in-object", "bytes",
                                 "oversized"]))
    if kind == "object":
        keys = st.sampled_from(fields) | st.text(ANY_CHAR, max_size=10) if fields else st.text(ANY_CHAR, max_size=10)
        values = JSON_VALUES | st.sampled_from(real) if real else JSON_VALUES
        return _dumps(draw(st.dictionaries(keys, values, max_size=len(fields) + 2)))
    if kind == "value":
        return _dumps(draw(JSON_VALUES))
    if kind in ("deep", "deep-in-object"):
        depth = draw(st.sampled_from([31, 32, 33, 100, 1000, 30_000]))
        nested = b"[" * depth + b"]" * depth
        key = draw(st.sampled_from(fields)) if fields else "x"
        return nested if kind == "deep" else b'{"' + key.encode() + b'": ' + nested + b"}"
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    return b'{"name": "' + b"x" * (MAX_BODY_BYTES + draw(st.integers(0, 1000))) + b'"}'


@dataclass(frozen=True)
class BodyTarget:
    """A route that takes a JSON body: where to send it, its properties, real values to mix in."""

    id: str
    method: str
    template: str
    params: dict[str, int]  # path parameter -> index into the fuzzing's real tenants/keys
    fields: tuple[str, ...]
    real: tuple[str, ...] = ()
    bearer: bool = True

    def path(self, fuzzed: Fuzzed) -> str:
        values = {name: (fuzzed.tenants if name == "tenantId" else fuzzed.keys)[i] for name, i in self.params.items()}
        return self.template.format(**values)


R = routes.DEFAULT_ROUTES
BODY_TARGETS = [
    BodyTarget("faults", "POST", "/_emulator/faults", {}, FAULT_FIELDS, bearer=False),
    BodyTarget("clock", "POST", "/_emulator/clock", {}, ("advanceSeconds",), bearer=False),
    BodyTarget("account-keys", "POST", "/_emulator/account-keys", {}, ("roles", "name", "newAccount"),
               ("account-read",), bearer=False),
    BodyTarget("keys-age", "POST", "/_emulator/keys/age", {}, KEY_AGE_FIELDS, bearer=False),
    BodyTarget("create-tenant", "POST", R[routes.CREATE_TENANT].path, {}, TENANT_FIELDS),
    BodyTarget("update-tenant", "PUT", R[routes.UPDATE_TENANT].path, {"tenantId": 1}, TENANT_FIELDS),
    BodyTarget("create-key", "POST", R[routes.CREATE_KEY].path, {"tenantId": 0}, ("name", "roles")),
    BodyTarget("update-key", "PUT", R[routes.UPDATE_KEY].path, {"tenantId": 0, "publicKey": 0}, ("name", "roles")),
]
"""Every route that takes a JSON body (the controls unauthenticated, the API with a valid bearer token)."""

BODY_STATUSES = {200, 201, 204, 400, 404, 413}


@pytest.mark.parametrize("target", BODY_TARGETS, ids=[t.id for t in BODY_TARGETS])
def test_hostile_json_bodies(fuzzed: Fuzzed, target: BodyTarget) -> None:
    """Hostile bodies get a documented 4xx, valid ones are accepted (and obey the contract); never a 5xx."""
    statuses: set[int] = set()
    headers = {"Content-Type": "application/json"}
    if target.bearer:
        headers["Authorization"] = f"Bearer {fuzzed.token}"
    url = fuzzed.emu.base_url + target.path(fuzzed)
    real = [*target.real, fuzzed.tenants[0], fuzzed.keys[0]] if target.id == "keys-age" else list(target.real)

    @given(body=json_bodies(target.fields, real))
    @settings(FUZZ, max_examples=120)
    def fuzz(body: bytes) -> None:
        try:
            resp = requests.request(target.method, url, data=body, headers=headers, timeout=30)
        finally:  # whatever a control accepted, the next example (and test) starts from the defaults
            fuzzed.emu.clear_faults()
            fuzzed.emu.reset_clock()
        statuses.add(resp.status_code)
        assert resp.status_code in BODY_STATUSES, f"{body[:200]!r}: {resp.status_code} {resp.text[:300]}"
        try:
            parsed: Any = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        _check_semantics(fuzzed, target.method, target.template, parsed, resp.status_code, resp.text)

    fuzz()
    assert {400, 413} <= statuses, statuses
    _assert_survived(fuzzed)


CONTROLS = [("GET", "/_emulator/faults"), ("GET", "/_emulator/stats"), ("DELETE", "/_emulator/stats"),
            ("GET", "/_emulator/clock"), ("DELETE", "/_emulator/clock"), ("GET", "/openapi.json"),
            ("PUT", "/_emulator/faults"), ("PATCH", "/_emulator/clock"), ("DELETE", "/_emulator/keys/age"),
            ("GET", "/_emulator/account-keys"), ("POST", "/_emulator/nothing")]


def test_control_routes_any_method_and_body(fuzzed: Fuzzed) -> None:
    """The bodiless controls, and methods or paths the controls do not serve, with any body: no 5xx."""
    statuses: set[int] = set()

    @given(target=st.sampled_from(CONTROLS), body=st.binary(max_size=64) | json_bodies((), []))
    @settings(FUZZ, max_examples=120)
    def fuzz(target: tuple[str, str], body: bytes) -> None:
        method, path = target
        resp = requests.request(method, fuzzed.emu.base_url + path, data=body, timeout=30)
        statuses.add(resp.status_code)
        assert resp.status_code in {200, 204, 404, 405, 413}, f"{target} {body[:100]!r}: {resp.status_code}"

    fuzz()
    assert {200, 405} <= statuses, statuses
    _assert_survived(fuzzed)
