"""The backend in-process, with an injected clock: nonce pruning, bootstrap idempotence, token expiry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.models import HMAC_WINDOW_SECONDS, Backend, Unauthorized


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend(tmp_path: Path, clock: Clock) -> Iterator[Backend]:
    b = Backend(tmp_path / "state.db", token_ttl=60, clock=clock)
    yield b
    b.close()


def nonce_count(b: Backend) -> int:
    return int(b._db.execute("SELECT COUNT(*) FROM nonces").fetchone()[0])


def test_used_nonces_are_pruned_once_their_window_has_passed(backend: Backend, clock: Clock) -> None:
    creds = backend.bootstrap()
    for _ in range(3):
        backend.authenticate_hmac(hmac_authorization(creds.public_key, creds.private_key, timestamp=int(clock.t)), b"")
    assert nonce_count(backend) == 3
    clock.t += 2 * HMAC_WINDOW_SECONDS + 2
    backend.authenticate_hmac(hmac_authorization(creds.public_key, creds.private_key, timestamp=int(clock.t)), b"")
    assert nonce_count(backend) == 1  # only the new one is remembered


def test_bootstrap_is_idempotent_across_restarts(tmp_path: Path, clock: Clock) -> None:
    first = Backend(tmp_path / "db", clock=clock)
    creds = first.bootstrap()
    assert first.bootstrap() == creds
    token = first.mint_token(first.authenticate_hmac(
        hmac_authorization(creds.public_key, creds.private_key, timestamp=int(clock.t)), b""))["accessToken"]
    first.close()
    second = Backend(tmp_path / "db", clock=clock)
    assert second.bootstrap() == creds
    assert second.authenticate_bearer(f"Bearer {token}").public_key == creds.public_key  # same JWT secret
    second.close()
    assert creds.private_key not in repr(creds)


def test_token_expires_on_the_emulated_clock(backend: Backend, clock: Clock) -> None:
    creds = backend.bootstrap()
    principal = backend.authenticate_hmac(
        hmac_authorization(creds.public_key, creds.private_key, timestamp=int(clock.t)), b"")
    token = backend.mint_token(principal)
    assert int(token["expires"]) == (int(clock.t) + 60) * 1000
    header = f"Bearer {token['accessToken']}"
    assert backend.authenticate_bearer(header) == principal
    backend.advance_clock(59)
    assert backend.authenticate_bearer(header) == principal
    backend.advance_clock(1)
    with pytest.raises(Unauthorized) as err:
        backend.authenticate_bearer(header)
    assert err.value.code == "TokenExpired" and token["accessToken"] not in err.value.message


@pytest.mark.parametrize("claims", [
    {"exp": float("nan")}, {"exp": float("inf")}, {"exp": "4102444800"}, {"exp": True},
    {"sub": ["a"]}, {"account": 7}, {"tenant": ["t"]},
], ids=["exp-nan", "exp-inf", "exp-string", "exp-bool", "sub-list", "account-number", "tenant-list"])
def test_a_token_signed_by_the_emulator_with_an_ill_typed_claim_is_refused(backend: Backend, clock: Clock,
                                                                          claims: dict[str, object]) -> None:
    """Even a token bearing the emulator's own signature is refused when a claim is of the wrong type; a NaN
    expiry once compared false with every time, so the token never expired."""
    creds = backend.bootstrap()
    now = int(clock())
    good = {"sub": creds.public_key, "account": creds.account_id, "tenant": None, "iat": now, "exp": now + 60,
            "jti": "j"}
    assert backend.authenticate_bearer(f"Bearer {jwt.encode(good, backend._jwt_secret, algorithm='HS256')}")
    token = jwt.encode({**good, **claims}, backend._jwt_secret, algorithm="HS256")
    with pytest.raises(Unauthorized):
        backend.authenticate_bearer(f"Bearer {token}")
