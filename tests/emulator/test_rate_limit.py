"""The emulator's per-account rate limit over HTTP: configured at start (``--rate-limit``, ``--rate-burst``) and
through ``/_emulator/rate-limit``; a 429 with ``Retry-After`` in whole seconds when an account's bucket is empty;
the token exchange counts; other accounts are not affected; ``/_emulator/stats`` counts the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pulumi_imburse import routes
from pulumi_imburse.auth import hmac_authorization
from pulumi_imburse.emulator.process import EmulatorProcess

TOKEN = routes.DEFAULT_ROUTES[routes.ACCESS_TOKEN]
LIST_TENANTS = routes.DEFAULT_ROUTES[routes.LIST_TENANTS]


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(rate_limit=0.5, rate_burst=3) as e:  # slow enough that no token comes back mid-test
        yield e


def exchange(emu: EmulatorProcess, public_key: str, private_key: str) -> requests.Response:
    return requests.post(emu.base_url + TOKEN.path, headers={"Authorization": hmac_authorization(public_key,
                                                                                                  private_key)},
                         timeout=10)


def list_tenants(emu: EmulatorProcess, token: str) -> requests.Response:
    return requests.get(emu.base_url + LIST_TENANTS.path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_the_limit_set_at_start_refuses_past_the_burst_with_retry_after(emu: EmulatorProcess) -> None:
    assert emu.rate_limit() == {"requestsPerSecond": 0.5, "burst": 3}
    emu.set_rate_limit(0.5, 3)  # every bucket full
    emu.reset_stats()
    first = exchange(emu, emu.public_key, emu.private_key)  # the token exchange takes a token too
    token = first.json()["accessToken"]
    answers = [list_tenants(emu, token) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 429, 429]
    refused = answers[2]
    assert refused.json()["error"] == "TooManyRequests"
    assert refused.headers["Retry-After"] == "2"  # 1 token at 0.5/s: whole seconds, rounded up
    # Another account has its own bucket.
    other = emu.create_account_key(["account-admin"], new_account=True)
    assert exchange(emu, other["publicKey"], other["privateKey"]).status_code == 200
    stats = emu.stats()
    assert stats["throttled"] == 2 and stats["throttledByAccount"] == {emu.account_id: 2}
    assert stats["requests"][LIST_TENANTS.template] == 4


def test_the_limit_is_changed_and_removed_through_the_control_route(emu: EmulatorProcess) -> None:
    assert emu.set_rate_limit(1000) == {"requestsPerSecond": 1000.0, "burst": 1000}
    token = exchange(emu, emu.public_key, emu.private_key).json()["accessToken"]
    assert all(list_tenants(emu, token).status_code == 200 for _ in range(20))
    assert emu.set_rate_limit(None) == {"requestsPerSecond": None, "burst": None}
    emu.set_rate_limit(0.5, 3)


@pytest.mark.parametrize(("body", "field"), [({"requestsPerSecond": -1}, "requestsPerSecond"),
                                             ({"requestsPerSecond": 1, "burst": 1.5}, "burst"),
                                             ({"perSecond": 1}, "perSecond")])
def test_a_bad_rate_limit_is_refused_naming_the_field(emu: EmulatorProcess, body: dict[str, Any],
                                                      field: str) -> None:
    resp = requests.post(emu.base_url + "/_emulator/rate-limit", json=body, timeout=10)
    assert resp.status_code == 400 and resp.json()["field"] == field
    assert emu.rate_limit()["requestsPerSecond"] == 0.5  # unchanged


def test_rate_burst_without_rate_limit_is_refused_at_start(capsys: pytest.CaptureFixture[str]) -> None:
    from pulumi_imburse.emulator.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--db", "unused.db", "--credentials-file", "unused.json", "--rate-burst", "3"])
    assert exit_.value.code == 2 and "--rate-burst needs --rate-limit" in capsys.readouterr().err
