"""The emulator's state and rules, with no HTTP: accounts, keys, tenants, tokens, nonces in SQLite.

:class:`Backend` enforces the contract (``docs/imburse-api.md``): the HMAC window, nonce replay
rejection, signature check, bearer tokens as signed JWTs, authorization by roles and context, and
input validation through :mod:`pulumi_imburse.validation` so the provider and the emulator word every
400 the same way. Failures raise :class:`ApiError` subclasses carrying the HTTP status, an error code,
a message naming the field, and the field; :mod:`.responses` turns them into JSON.

Two clocks:

- the *wall clock* (``clock``, default :func:`time.time`) checks the HMAC timestamp window and ages
  nonces, because a client signs with its own real clock, which no test control can move;
- :meth:`Backend.now` (the wall clock plus an offset that :meth:`Backend.advance_clock` moves forward)
  stamps and expires bearer tokens and creation times, so tests can expire a token without sleeping.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, Final

from .extra import missing_extra

try:
    import jwt
except ModuleNotFoundError as e:  # the "emulator" extra is not installed
    raise missing_extra(e) from None

from .. import auth
from ..models import ADDRESS_FIELDS
from ..roles import (
    ACCOUNT_ADMIN,
    ACCOUNT_READ_ROLES,
    ACCOUNT_ROLES,
    ACCOUNT_WRITE_ROLES,
    TENANT_ADMIN,
    normalize_roles,
)
from ..validation import (
    Problem,
    check_guid,
    check_name,
    check_tenant_roles,
    check_text,
    check_unknown,
)
from ..values import format_time

HMAC_WINDOW_SECONDS: Final = 300
"""How far (either direction) an HMAC timestamp may be from the server's clock."""

DEFAULT_TOKEN_TTL: Final = 3600
"""Bearer token lifetime in seconds unless ``--token-ttl`` says otherwise."""

DEFAULT_KEY_NAME: Final = "API Key"
"""The name the service gives a tenant key created without one."""

BOOTSTRAP_KEY_NAME: Final = "Account API Key"

TENANT_FIELDS: Final[tuple[str, ...]] = ("name", *ADDRESS_FIELDS)
"""Body properties of create/update tenant (flat, as in the contract)."""

KEY_FIELDS: Final[tuple[str, ...]] = ("name", "roles")
"""Body properties of create/update tenant key."""

KEY_AGE_FIELDS: Final[tuple[str, ...]] = ("tenantId", "publicKey", "days")
"""Body properties of the test-only ``POST /_emulator/keys/age``."""

MAX_KEY_AGE_DAYS: Final = 36500
"""The furthest back (days) the test-only key-age control moves a creation time."""

SECONDS_PER_DAY: Final = 86400

MAX_KEY_TOTAL_AGE_DAYS: Final = 10 * MAX_KEY_AGE_DAYS
"""The oldest (days) repeated use of the key-age control may make a key, so ``createdAt`` stays a real date."""

MAX_CLOCK_OFFSET_SECONDS: Final = MAX_KEY_AGE_DAYS * SECONDS_PER_DAY
"""How far ahead of the wall clock (in total) the test-only clock control moves the emulated clock."""

JWT_ALGORITHM: Final = "HS256"
_NONCE_PRUNE_INTERVAL: Final = 30.0
_CLAIMS_CACHE_SIZE: Final = 4096

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS account_keys (
    public_key TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL,
    private_key TEXT NOT NULL, roles TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL,
    address TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tenants_by_account ON tenants (account_id);
CREATE TABLE IF NOT EXISTS tenant_keys (
    public_key TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, account_id TEXT NOT NULL, name TEXT NOT NULL,
    private_key TEXT NOT NULL, roles TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tenant_keys_by_tenant ON tenant_keys (tenant_id);
CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
"""


class ApiError(Exception):
    """A request the emulator refuses: HTTP ``status``, error ``code``, ``message`` and ``field``.

    Messages never contain an Authorization header, a token or a private key.
    """

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.field = field

    def to_json(self) -> dict[str, str]:
        """The wire error body: ``{"error", "message", "field"?}``."""
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class BadRequest(ApiError):
    """400: malformed request; ``field`` names the offending property."""

    status = 400
    default_code = "ValidationError"


class Unauthorized(ApiError):
    """401: the HMAC signature or bearer token was not accepted."""

    status = 401
    default_code = "Unauthorized"


class Forbidden(ApiError):
    """403: the credentials are valid, but their roles or context do not allow the call."""

    status = 403
    default_code = "Forbidden"


class NotFound(ApiError):
    """404: no such tenant or key (or not visible to this account)."""

    status = 404
    default_code = "NotFound"


class Conflict(ApiError):
    """409: the request conflicts with the current state."""

    status = 409
    default_code = "Conflict"


def invalid(problems: list[Problem]) -> BadRequest:
    """One 400 for a list of validation problems; ``field`` is the first one's property."""
    return BadRequest("; ".join(p.reason for p in problems), field=problems[0].property)


def check_path_guid(prop: str, value: str) -> str:
    """A GUID path parameter, lower-cased; 400 naming ``prop`` otherwise."""
    problems = check_guid(prop, value)
    if problems:
        raise invalid(problems)
    return value.lower()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key, its account, its tenant (``None`` for an account key) and roles."""

    public_key: str
    account_id: str
    tenant_id: str | None
    roles: frozenset[str]

    @property
    def is_account_key(self) -> bool:
        """Whether an account API key (rather than a tenant key) is calling."""
        return self.tenant_id is None


@dataclass(frozen=True)
class KeyCredentials:
    """A new key pair as returned once to its creator; ``repr`` hides the private key."""

    account_id: str
    public_key: str
    private_key: str = field(repr=False)
    name: str = ""
    roles: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """``{"accountId", "publicKey", "privateKey", "name", "roles"}``."""
        return {"accountId": self.account_id, "publicKey": self.public_key, "privateKey": self.private_key,
                "name": self.name, "roles": list(self.roles)}


def _require_object(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise BadRequest("the request body must be a JSON object")
    return body


class Backend:
    """The emulator's state over one SQLite file, and every rule of the contract.

    Thread-safe: one connection guarded by a lock held only for the duration of each SQL call
    (never across I/O or a sleep). Every method is short and synchronous.
    """

    def __init__(self, path: str | Path, *, token_ttl: int = DEFAULT_TOKEN_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        if token_ttl <= 0:
            raise ValueError("token_ttl must be a positive number of seconds")
        self.path = Path(path)
        self.token_ttl = int(token_ttl)
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()
        self._last_prune = 0.0
        self._claims_cache: dict[str, dict[str, Any]] = {}
        new_file = str(path) != ":memory:" and not self.path.exists()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        if new_file:
            self.path.chmod(0o600)  # it holds private keys
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._jwt_secret = self._meta_get_or_set("jwt_secret", lambda: secrets.token_hex(32))

    # ------------------------------------------------------------------ infrastructure

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def _meta_get_or_set(self, key: str, make: Callable[[], str]) -> str:
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return str(row["value"])
            value = make()
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
            return value

    # ------------------------------------------------------------------ clocks

    def wall(self) -> float:
        """The real clock (epoch seconds): the HMAC timestamp window and nonce ages use it."""
        return self._clock()

    def now(self) -> float:
        """The emulated clock (epoch seconds): token issue/expiry and creation times use it."""
        return self._clock() + self._offset

    def advance_clock(self, seconds: float) -> float:
        """Move the emulated clock forward by ``seconds`` (test-only); returns the total offset.

        The total offset is bounded by :data:`MAX_CLOCK_OFFSET_SECONDS`, so every time the emulator shows
        (token expiry, ``createdAt``) stays a real date.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise BadRequest("advanceSeconds must be a finite number >= 0: the clock only moves forward",
                             field="advanceSeconds")
        if self._offset + seconds > MAX_CLOCK_OFFSET_SECONDS:
            raise BadRequest(f"advanceSeconds: the clock may be at most {MAX_CLOCK_OFFSET_SECONDS} seconds "
                             f"({MAX_KEY_AGE_DAYS} days) ahead in total; it is {self._offset:g} s ahead now",
                             field="advanceSeconds")
        self._offset += seconds
        return self._offset

    def reset_clock(self) -> None:
        """Put the emulated clock back on the wall clock (test-only)."""
        self._offset = 0.0

    @property
    def clock_offset(self) -> float:
        """Seconds the emulated clock is ahead of the wall clock."""
        return self._offset

    # ------------------------------------------------------------------ bootstrap

    def bootstrap(self) -> KeyCredentials:
        """The first account and its ``account-admin`` key; created once, the same ones ever after."""
        with self._tx() as db:
            row = db.execute(
                "SELECT k.account_id, k.public_key, k.private_key FROM meta m "
                "JOIN account_keys k ON k.public_key = m.value WHERE m.key = 'bootstrap_key'").fetchone()
            if row is not None:
                return KeyCredentials(row["account_id"], row["public_key"], row["private_key"],
                                      BOOTSTRAP_KEY_NAME, (ACCOUNT_ADMIN,))
            account_id = str(uuid.uuid4())
            creds = self._insert_account_key(db, account_id, [ACCOUNT_ADMIN], BOOTSTRAP_KEY_NAME,
                                             new_account=True)
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('bootstrap_key', ?)",
                       (creds.public_key,))
            return creds

    def _insert_account_key(self, db: sqlite3.Connection, account_id: str, roles: list[str], name: str,
                            *, new_account: bool) -> KeyCredentials:
        now = self.now()
        if new_account:
            db.execute("INSERT INTO accounts (account_id, created_at) VALUES (?, ?)", (account_id, now))
        public_key, private_key = str(uuid.uuid4()), auth.new_private_key()
        roles = normalize_roles(roles)
        db.execute("INSERT INTO account_keys (public_key, account_id, name, private_key, roles, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (public_key, account_id, name, private_key, json.dumps(roles), now))
        return KeyCredentials(account_id, public_key, private_key, name, tuple(roles))

    def create_account_key(self, body: object) -> KeyCredentials:
        """Test-only: a new account key ``{"roles": [...], "name"?, "newAccount"?: bool}``.

        Without ``newAccount`` the key belongs to the bootstrap account; with it, to a new account.
        """
        obj = _require_object(body)
        problems = check_unknown(obj, ("roles", "name", "newAccount"))
        problems += check_name("name", obj.get("name"), plain=False)
        roles = obj.get("roles")
        allowed = ", ".join(ACCOUNT_ROLES)
        if (not isinstance(roles, list) or not roles
                or not all(isinstance(r, str) and r in ACCOUNT_ROLES for r in roles)):
            problems.append(Problem("roles", f"roles must be a non-empty list of account roles; allowed: {allowed}"))
        new_account = obj.get("newAccount", False)
        if not isinstance(new_account, bool):
            problems.append(Problem("newAccount", "newAccount must be a boolean"))
        if problems:
            raise invalid(problems)
        boot = self.bootstrap()
        name = obj.get("name") or BOOTSTRAP_KEY_NAME
        with self._tx() as db:
            account_id = str(uuid.uuid4()) if new_account else boot.account_id
            return self._insert_account_key(db, account_id, [str(r) for r in obj["roles"]], name,
                                            new_account=new_account)

    # ------------------------------------------------------------------ authentication

    def authenticate_hmac(self, authorization: str | None, body: bytes) -> Principal:
        """Check an ``Authorization: Hmac ...`` header over ``body``; record its nonce once accepted.

        Order: format, timestamp window (both directions), known key, signature, and only then the
        nonce, so a rejected request never burns one. Each failure has its own code and message.
        """
        if not authorization:
            raise Unauthorized("the Authorization header is missing; this route takes an Hmac signature",
                               code="MissingAuthorization")
        try:
            creds = auth.parse_hmac_authorization(authorization)
        except ValueError as e:
            raise Unauthorized(str(e), code="MalformedAuthorization") from None
        wall = self.wall()
        ts = int(creds.timestamp)
        if ts < wall - HMAC_WINDOW_SECONDS:
            raise Unauthorized("the Hmac timestamp is more than 5 minutes old (use the current UTC time)",
                               code="TimestampExpired")
        if ts > wall + HMAC_WINDOW_SECONDS:
            raise Unauthorized("the Hmac timestamp is more than 5 minutes in the future (use the current UTC time)",
                               code="TimestampInFuture")
        key = self._key_row(creds.public_key)
        if key is None:
            raise Unauthorized("the public key of the Hmac signature is not a known API key", code="UnknownKey")
        try:
            good = auth.verify_signature(creds, key["private_key"], body)
        except ValueError:
            good = False
        if not good:
            raise Unauthorized("the Hmac signature does not verify", code="InvalidSignature")
        self._record_nonce(creds.nonce, ts + HMAC_WINDOW_SECONDS + 1, wall)
        return self._principal(key)

    def _record_nonce(self, nonce: str, expires_at: int, wall: float) -> None:
        with self._lock:
            if wall - self._last_prune > _NONCE_PRUNE_INTERVAL:
                self._db.execute("DELETE FROM nonces WHERE expires_at < ?", (int(wall),))
                self._last_prune = wall
            try:
                self._db.execute("INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)", (nonce, expires_at))
            except sqlite3.IntegrityError:
                raise Unauthorized("the Hmac nonce was already used (replayed request)",
                                   code="NonceReused") from None

    def _key_row(self, public_key: str) -> sqlite3.Row | None:
        return self._one(
            "SELECT public_key, account_id, NULL AS tenant_id, private_key, roles FROM account_keys "
            "WHERE public_key = ? UNION ALL "
            "SELECT public_key, account_id, tenant_id, private_key, roles FROM tenant_keys WHERE public_key = ?",
            (public_key, public_key))

    @staticmethod
    def _principal(row: sqlite3.Row) -> Principal:
        return Principal(row["public_key"], row["account_id"], row["tenant_id"], frozenset(json.loads(row["roles"])))

    def mint_token(self, principal: Principal) -> dict[str, str]:
        """A bearer token for ``principal``: ``{"accessToken", "expires": "<epoch ms>"}``."""
        iat = int(self.now())
        exp = iat + self.token_ttl
        claims = {"sub": principal.public_key, "account": principal.account_id, "tenant": principal.tenant_id,
                  "iat": iat, "exp": exp, "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self._jwt_secret, algorithm=JWT_ALGORITHM)
        return {"accessToken": token, "expires": str(exp * 1000)}

    def authenticate_bearer(self, authorization: str | None) -> Principal:
        """Check an ``Authorization: Bearer <JWT>`` header: signature, expiry, and that the key still exists.

        Roles come from the current state, so a key's changed roles and its deletion take effect at once.
        """
        if not authorization:
            raise Unauthorized("the Authorization header is missing; this route takes a Bearer token",
                               code="MissingAuthorization")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("this route takes an Authorization: Bearer token (get one from the Hmac "
                               "access-token route)", code="MalformedAuthorization")
        claims = self._verified_claims(token.strip())
        exp = claims["exp"]
        if not isinstance(exp, (int, float)) or self.now() >= exp:
            raise Unauthorized("the bearer token has expired; get a new one", code="TokenExpired")
        tenant = claims.get("tenant")
        if tenant is None:
            key = self._one("SELECT public_key, account_id, NULL AS tenant_id, roles FROM account_keys "
                            "WHERE public_key = ?", (claims["sub"],))
        else:
            key = self._one("SELECT public_key, account_id, tenant_id, roles FROM tenant_keys WHERE public_key = ?",
                            (claims["sub"],))
        if key is None or key["account_id"] != claims["account"] or key["tenant_id"] != tenant:
            raise Unauthorized("the bearer token was revoked: its API key no longer exists", code="TokenRevoked")
        return self._principal(key)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token this server signed. Verified signatures are cached (bounded): a signature
        check is the costliest step of a request, and a token's claims never change. Expiry and the key's
        existence are checked by the caller on every request."""
        claims = self._claims_cache.get(token)
        if claims is not None:
            return claims
        try:
            claims = jwt.decode(token, self._jwt_secret, algorithms=[JWT_ALGORITHM],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "require": ["sub", "account", "exp", "iat", "jti"]})
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not valid", code="InvalidToken") from None
        tenant, exp = claims.get("tenant"), claims["exp"]
        if (not isinstance(claims["sub"], str) or not isinstance(claims["account"], str)
                or not (tenant is None or isinstance(tenant, str))
                or isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp)):
            raise Unauthorized("the bearer token is not valid", code="InvalidToken")
        if len(self._claims_cache) >= _CLAIMS_CACHE_SIZE:
            self._claims_cache.clear()
        self._claims_cache[token] = claims
        return claims

    def check_context(self, principal: Principal, account_header: str | None,
                      tenant_header: str | None = None, path_tenant: str | None = None) -> None:
        """``x-account-id`` (and ``x-tenant-id`` on tenant routes), when sent, must match; else 403."""
        if account_header is not None and account_header.strip().lower() != principal.account_id:
            raise Forbidden("x-account-id does not match the account of the credentials", field="x-account-id")
        if tenant_header is not None and path_tenant is not None and tenant_header.strip().lower() != path_tenant:
            raise Forbidden("x-tenant-id does not match the tenant in the path", field="x-tenant-id")

    # ------------------------------------------------------------------ authorization

    @staticmethod
    def _require_account_role(principal: Principal, *, write: bool) -> None:
        needed = ACCOUNT_WRITE_ROLES if write else ACCOUNT_READ_ROLES
        if not principal.roles & needed:
            raise Forbidden(f"this call needs an account key with one of the roles {', '.join(sorted(needed))}",
                            code="MissingRole")

    def _authorize_tenants(self, principal: Principal, *, write: bool) -> None:
        if not principal.is_account_key:
            raise Forbidden("a tenant API key cannot call account routes; use an account API key",
                            code="WrongContext")
        self._require_account_role(principal, write=write)

    def _authorize_keys(self, principal: Principal, tenant_id: str, *, write: bool) -> None:
        if principal.is_account_key:
            self._require_account_role(principal, write=write)
            return
        if principal.tenant_id != tenant_id:
            raise Forbidden("a tenant API key acts only in its own tenant", code="WrongContext")
        if TENANT_ADMIN not in principal.roles:
            raise Forbidden(f"managing a tenant's API keys with a tenant key needs the role {TENANT_ADMIN}",
                            code="MissingRole")

    def _tenant_row(self, principal: Principal, tenant_id: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM tenants WHERE tenant_id = ? AND account_id = ?",
                        (tenant_id, principal.account_id))
        if row is None:
            raise NotFound(f"tenantId {tenant_id}: no such tenant in this account", field="tenantId")
        return row

    # ------------------------------------------------------------------ tenants

    @staticmethod
    def _tenant_json(row: sqlite3.Row) -> dict[str, Any]:
        return {"tenantId": row["tenant_id"], "accountId": row["account_id"], "name": row["name"],
                "address": json.loads(row["address"])}

    @staticmethod
    def _tenant_input(body: object) -> tuple[str, str]:
        obj = _require_object(body)
        problems = check_unknown(obj, TENANT_FIELDS) + check_name("name", obj.get("name"), required=True, plain=False)
        for f in ADDRESS_FIELDS:
            problems += check_text(f, obj.get(f))
        if problems:
            raise invalid(problems)
        address = {f: obj.get(f) or "" for f in ADDRESS_FIELDS}
        return str(obj["name"]), json.dumps(address)

    def list_tenants(self, principal: Principal) -> list[dict[str, Any]]:
        """The account's tenants, oldest first."""
        self._authorize_tenants(principal, write=False)
        rows = self._all("SELECT * FROM tenants WHERE account_id = ? ORDER BY rowid", (principal.account_id,))
        return [self._tenant_json(r) for r in rows]

    def get_tenant(self, principal: Principal, tenant_id: str) -> dict[str, Any]:
        """One tenant of the caller's account."""
        tenant_id = check_path_guid("tenantId", tenant_id)
        self._authorize_tenants(principal, write=False)
        return self._tenant_json(self._tenant_row(principal, tenant_id))

    def create_tenant(self, principal: Principal, body: object) -> dict[str, Any]:
        """A new tenant from ``{name, streetAddress, ..., country}`` (address fields optional)."""
        self._authorize_tenants(principal, write=True)
        name, address = self._tenant_input(body)
        tenant_id = str(uuid.uuid4())
        self._write("INSERT INTO tenants (tenant_id, account_id, name, address, created_at) VALUES (?, ?, ?, ?, ?)",
                    (tenant_id, principal.account_id, name, address, self.now()))
        return self._tenant_json(self._tenant_row(principal, tenant_id))

    def update_tenant(self, principal: Principal, tenant_id: str, body: object) -> dict[str, Any]:
        """Replace a tenant's name and address (omitted address fields become ``""``)."""
        tenant_id = check_path_guid("tenantId", tenant_id)
        self._authorize_tenants(principal, write=True)
        name, address = self._tenant_input(body)
        self._tenant_row(principal, tenant_id)
        self._write("UPDATE tenants SET name = ?, address = ? WHERE tenant_id = ?", (name, address, tenant_id))
        return self._tenant_json(self._tenant_row(principal, tenant_id))

    def delete_tenant(self, principal: Principal, tenant_id: str) -> None:
        """Delete a tenant and every key it holds (their tokens stop working at once)."""
        tenant_id = check_path_guid("tenantId", tenant_id)
        self._authorize_tenants(principal, write=True)
        with self._tx() as db:
            if db.execute("DELETE FROM tenants WHERE tenant_id = ? AND account_id = ?",
                          (tenant_id, principal.account_id)).rowcount == 0:
                raise NotFound(f"tenantId {tenant_id}: no such tenant in this account", field="tenantId")
            db.execute("DELETE FROM tenant_keys WHERE tenant_id = ?", (tenant_id,))

    # ------------------------------------------------------------------ tenant keys

    @staticmethod
    def _key_json(row: sqlite3.Row) -> dict[str, Any]:
        return {"accountId": row["account_id"], "tenantId": row["tenant_id"], "name": row["name"],
                "publicKey": row["public_key"], "roles": json.loads(row["roles"]),
                "createdAt": format_time(datetime.fromtimestamp(row["created_at"], timezone.utc), "milliseconds")}

    @staticmethod
    def _key_input(body: object, *, creating: bool) -> tuple[str | None, list[str]]:
        obj = _require_object(body)
        problems = (check_unknown(obj, KEY_FIELDS) + check_name("name", obj.get("name"), plain=False)
                    + check_tenant_roles("roles", obj.get("roles")))
        if problems:
            raise invalid(problems)
        name = obj.get("name")
        if name is None and creating:
            name = DEFAULT_KEY_NAME
        return name, normalize_roles(list(obj["roles"]))

    def _key_scope(self, principal: Principal, tenant_id: str, *, write: bool) -> str:
        tenant_id = check_path_guid("tenantId", tenant_id)
        self._authorize_keys(principal, tenant_id, write=write)
        return tenant_id

    def _tenant_key_row(self, tenant_id: str, public_key: str) -> sqlite3.Row:
        row = self._one("SELECT * FROM tenant_keys WHERE tenant_id = ? AND public_key = ?", (tenant_id, public_key))
        if row is None:
            raise NotFound(f"publicKey {public_key}: no such API key in tenant {tenant_id}", field="publicKey")
        return row

    def list_keys(self, principal: Principal, tenant_id: str) -> list[dict[str, Any]]:
        """A tenant's keys, oldest first, without private keys."""
        tenant_id = self._key_scope(principal, tenant_id, write=False)
        self._tenant_row(principal, tenant_id)
        rows = self._all("SELECT * FROM tenant_keys WHERE tenant_id = ? ORDER BY rowid", (tenant_id,))
        return [self._key_json(r) for r in rows]

    def get_key(self, principal: Principal, tenant_id: str, public_key: str) -> dict[str, Any]:
        """One key, without its private key."""
        tenant_id = self._key_scope(principal, tenant_id, write=False)
        public_key = check_path_guid("publicKey", public_key)
        self._tenant_row(principal, tenant_id)
        return self._key_json(self._tenant_key_row(tenant_id, public_key))

    def create_key(self, principal: Principal, tenant_id: str, body: object) -> dict[str, Any]:
        """A new tenant key from ``{name?, roles[]}``; the only response that carries ``privateKey``."""
        tenant_id = self._key_scope(principal, tenant_id, write=True)
        name, roles = self._key_input(body, creating=True)
        self._tenant_row(principal, tenant_id)
        public_key, private_key = str(uuid.uuid4()), auth.new_private_key()
        self._write("INSERT INTO tenant_keys (public_key, tenant_id, account_id, name, private_key, roles, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (public_key, tenant_id, principal.account_id, name, private_key, json.dumps(roles), self.now()))
        result = self._key_json(self._tenant_key_row(tenant_id, public_key))
        result["privateKey"] = private_key
        return result

    def update_key(self, principal: Principal, tenant_id: str, public_key: str, body: object) -> dict[str, Any]:
        """Set a key's roles (required) and name (kept when omitted); the private key is unchanged."""
        tenant_id = self._key_scope(principal, tenant_id, write=True)
        public_key = check_path_guid("publicKey", public_key)
        name, roles = self._key_input(body, creating=False)
        self._tenant_row(principal, tenant_id)
        self._tenant_key_row(tenant_id, public_key)
        self._write("UPDATE tenant_keys SET name = COALESCE(?, name), roles = ? WHERE public_key = ?",
                    (name, json.dumps(roles), public_key))
        return self._key_json(self._tenant_key_row(tenant_id, public_key))

    def age_key(self, body: object) -> dict[str, Any]:
        """Test-only: ``{"tenantId", "publicKey", "days"}`` moves a tenant key's creation time ``days`` back.

        The key then looks that much older to every reader (``createdAt``), as if it had been created then;
        nothing else about it changes. ``days`` is a number >= 0 (fractions allowed). 404 for an unknown key.
        """
        obj = _require_object(body)
        problems = check_unknown(obj, KEY_AGE_FIELDS)
        for prop in ("tenantId", "publicKey"):
            problems += check_guid(prop, obj.get(prop))
        days: object = obj.get("days")
        if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 <= days <= MAX_KEY_AGE_DAYS:
            problems.append(Problem("days", f"days must be a number of days from 0 to {MAX_KEY_AGE_DAYS}, "
                                            f"got {days!r}"))
        if problems:
            raise invalid(problems)
        tenant_id, public_key = str(obj["tenantId"]).lower(), str(obj["publicKey"]).lower()
        row = self._tenant_key_row(tenant_id, public_key)
        seconds = float(obj["days"]) * SECONDS_PER_DAY
        if row["created_at"] - seconds < self.now() - MAX_KEY_TOTAL_AGE_DAYS * SECONDS_PER_DAY:
            raise BadRequest(f"days: a key may be made at most {MAX_KEY_TOTAL_AGE_DAYS} days old in total",
                             field="days")
        self._write("UPDATE tenant_keys SET created_at = created_at - ? WHERE public_key = ?", (seconds, public_key))
        return self._key_json(self._tenant_key_row(tenant_id, public_key))

    def delete_key(self, principal: Principal, tenant_id: str, public_key: str) -> None:
        """Revoke a key at once, including every token it minted. Cannot be undone."""
        tenant_id = self._key_scope(principal, tenant_id, write=True)
        public_key = check_path_guid("publicKey", public_key)
        self._tenant_row(principal, tenant_id)
        if self._write("DELETE FROM tenant_keys WHERE tenant_id = ? AND public_key = ?",
                       (tenant_id, public_key)) == 0:
            raise NotFound(f"publicKey {public_key}: no such API key in tenant {tenant_id}", field="publicKey")

    # ------------------------------------------------------------------ rate limit

    def account_of(self, authorization: str | None) -> str | None:
        """The account a request's ``Authorization`` header speaks for (a bearer token this server signed, or an
        Hmac signature's known public key), without checking it further; ``None`` when it names none."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            try:
                return str(self._verified_claims(value.strip())["account"])
            except Unauthorized:
                return None
        if scheme.lower() == "hmac":
            try:
                key = self._key_row(auth.parse_hmac_authorization(authorization).public_key)
            except ValueError:
                return None
            return None if key is None else str(key["account_id"])
        return None


MAX_RATE_LIMIT: Final = 100_000.0
"""The highest rate limit (requests/s) and burst the emulator accepts."""


@dataclass(frozen=True)
class RateLimit:
    """A per-account rate limit: a token bucket filled at ``rate`` tokens/s holding at most ``burst``.

    Every API request of an account (the token exchange included, as real APIs count it) takes one token; a
    request that finds none is refused with 429 and ``Retry-After``: the whole seconds until a token is there,
    rounded up. A refused request takes no token. Requests whose account cannot be told (no or an unknown
    credential) are not limited: the backend refuses them with 401.
    """

    rate: float
    burst: int

    @classmethod
    def from_json(cls, data: object) -> RateLimit | None:
        """``{"requestsPerSecond": r, "burst"?: n}`` (``burst`` defaults to one second's worth, at least 1);
        ``{"requestsPerSecond": null}`` or ``{}``: no limit. Raises :class:`BadRequest` naming the field."""
        obj = _require_object(data)
        problems = check_unknown(obj, ("requestsPerSecond", "burst"))
        rate, burst = obj.get("requestsPerSecond"), obj.get("burst")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float))
                                 or not 0 < rate <= MAX_RATE_LIMIT):
            problems.append(Problem("requestsPerSecond", f"requestsPerSecond must be a number above 0 and at most "
                                                         f"{MAX_RATE_LIMIT:g}, or null for no limit"))
        if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int)
                                  or not 1 <= burst <= MAX_RATE_LIMIT):
            problems.append(Problem("burst", f"burst must be a whole number from 1 to {MAX_RATE_LIMIT:g}"))
        if problems:
            raise invalid(problems)
        if rate is None:
            return None
        return cls.of(float(rate), burst)

    @classmethod
    def of(cls, rate: float, burst: int | None = None) -> RateLimit:
        """``rate`` requests/s with ``burst`` (default: one second's worth, at least 1)."""
        return cls(float(rate), int(burst) if burst is not None else max(1, math.ceil(rate)))

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {"requestsPerSecond": self.rate, "burst": self.burst}


class AccountRateLimiter:
    """Per-account token buckets under one :class:`RateLimit` (or none), and how many requests each refused."""

    def __init__(self, limit: RateLimit | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        """account -> (tokens, when counted)."""
        self.limit = limit
        self.throttled: dict[str, int] = {}

    def configure(self, limit: RateLimit | None) -> None:
        """Replace the limit; every account's bucket starts full."""
        with self._lock:
            self.limit = limit
            self._buckets.clear()

    def take(self, account: str | None) -> float | None:
        """Take a token of ``account``'s bucket: ``None`` when there was one (or no limit applies), else the
        seconds until there is one (the request is refused and takes nothing)."""
        with self._lock:
            limit = self.limit
            if limit is None or account is None:
                return None
            now = self._clock()
            tokens, then = self._buckets.get(account, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - then) * limit.rate)
            if tokens >= 1.0 - 1e-9:  # (not a rounding error away from a whole token)
                self._buckets[account] = (max(0.0, tokens - 1.0), now)
                return None
            self._buckets[account] = (tokens, now)
            self.throttled[account] = self.throttled.get(account, 0) + 1
            return (1.0 - tokens) / limit.rate

    def reset_counts(self) -> None:
        """Forget the refusal counts."""
        with self._lock:
            self.throttled.clear()
