"""POST /api/v1/auth/login under attack: failed attempts are throttled per email and per client IP
(429 with Retry-After), a throttled attempt costs no argon2, and a success forgives the email."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI

from keyplane.auth import service as auth_service
from keyplane.auth.throttle import LocalCounters, email_counter, ip_counter
from keyplane.config import Settings
from keyplane.orgs.bootstrap import BootstrapResult
from tests.auth.helpers import from_peer, running, serve
from tests.factories import DEFAULT_PASSWORD

LOGIN = "/api/v1/auth/login"


async def attempt(client: httpx.AsyncClient, email: str, password: str = "wrong-password") -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


def assert_throttled(response: httpx.Response, window: int = 900) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= window
    message = response.json()["error"]["message"]
    assert response.json() == {"error": {"code": 429, "message": message}}
    assert message.startswith("Too many failed login attempts; try again in ")


@pytest.fixture
def argon2_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], int]]:
    """How many times the password hash was checked (each one is an argon2 computation)."""
    calls: list[None] = []
    real = auth_service.verify_password

    def counting(stored: str | None, password: str) -> bool:
        calls.append(None)
        return real(stored, password)

    monkeypatch.setattr(auth_service, "verify_password", counting)
    yield lambda: len(calls)


async def test_the_sixth_guess_at_one_email_is_429_even_with_the_right_password(
    client: httpx.AsyncClient, org: BootstrapResult, argon2_runs: Callable[[], int]
) -> None:
    assert [(await attempt(client, org.email)).status_code for _ in range(5)] == [401] * 5
    assert argon2_runs() == 5
    assert_throttled(await attempt(client, org.email, DEFAULT_PASSWORD))
    assert_throttled(await attempt(client, org.email.upper() + " "))  # the same email, spelled otherwise
    assert argon2_runs() == 5  # refused before the password was looked at


async def test_one_ip_spraying_many_emails_is_throttled_after_twenty_failures(
    client: httpx.AsyncClient, org: BootstrapResult, argon2_runs: Callable[[], int]
) -> None:
    statuses = [(await attempt(client, f"victim{i}@acme.test")).status_code for i in range(20)]
    assert statuses == [401] * 20
    assert_throttled(await attempt(client, "fresh@acme.test"))
    assert_throttled(await attempt(client, org.email, DEFAULT_PASSWORD))
    assert argon2_runs() == 20


async def test_another_ip_is_not_throttled_for_the_first_ips_spray(
    app: FastAPI, org: BootstrapResult
) -> None:
    async with from_peer(app, "198.51.100.1") as attacker, from_peer(app, "198.51.100.2") as innocent:
        for i in range(20):
            await attempt(attacker, f"victim{i}@acme.test")
        assert_throttled(await attempt(attacker, "fresh@acme.test"))
        assert (await attempt(innocent, "fresh@acme.test")).status_code == 401


async def test_an_email_locked_from_one_ip_is_locked_from_every_ip(
    app: FastAPI, org: BootstrapResult
) -> None:
    async with from_peer(app, "198.51.100.1") as first, from_peer(app, "203.0.113.50") as second:
        for _ in range(5):
            await attempt(first, org.email)
        assert_throttled(await attempt(second, org.email, DEFAULT_PASSWORD))


async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    settings: Settings, org: BootstrapResult
) -> None:
    """The per-IP key is keyplane.deps.client_ip: the proxy's own address is not one shared bucket."""
    async with running(settings, trusted_proxies="10.0.0.0/8") as app, from_peer(app, "10.0.0.2") as proxy:
        spray = {"X-Forwarded-For": "198.51.100.1"}
        for i in range(20):
            await proxy.post(LOGIN, json={"email": f"v{i}@acme.test", "password": "x"}, headers=spray)
        refused = await proxy.post(LOGIN, json={"email": "new@acme.test", "password": "x"}, headers=spray)
        assert_throttled(refused)
        other = {"X-Forwarded-For": "198.51.100.2"}
        allowed = await proxy.post(LOGIN, json={"email": "new@acme.test", "password": "x"}, headers=other)
        assert allowed.status_code == 401


async def test_a_success_resets_the_emails_count(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    for _ in range(4):
        assert (await attempt(client, org.email)).status_code == 401
    assert (await attempt(client, org.email, DEFAULT_PASSWORD)).status_code == 200
    assert [(await attempt(client, org.email)).status_code for _ in range(5)] == [401] * 5
    assert_throttled(await attempt(client, org.email))


async def test_concurrent_guesses_cannot_slip_under_the_limit_together(
    client: httpx.AsyncClient, org: BootstrapResult, argon2_runs: Callable[[], int]
) -> None:
    responses = await asyncio.gather(*(attempt(client, org.email) for _ in range(12)))
    assert sorted(r.status_code for r in responses) == [401] * 5 + [429] * 7
    assert argon2_runs() == 5


async def test_the_limits_and_window_are_settings(settings: Settings, org: BootstrapResult) -> None:
    overrides = {"login_max_failures_per_email": 2, "login_failure_window_seconds": 60}
    async with serve(settings, **overrides) as (http, _):
        assert [(await attempt(http, org.email)).status_code for _ in range(2)] == [401, 401]
        assert_throttled(await attempt(http, org.email), window=60)


async def test_bad_credentials_still_answer_401_below_the_limit(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await attempt(client, org.email)
    assert response.json() == {"error": {"code": 401, "message": "Invalid email or password"}}
    assert "Retry-After" not in response.headers


def test_a_counter_starts_over_once_its_window_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("keyplane.auth.throttle.time.monotonic", lambda: now[0])
    counters = LocalCounters(window_seconds=900)
    limits = {"email": 2}
    assert [counters.admit(limits), counters.admit(limits)] == [0, 0]
    now[0] += 600
    assert counters.admit(limits) == 300  # seconds until the first failure's window ends
    now[0] += 300
    assert counters.admit(limits) == 0


def test_the_local_counters_stay_bounded_under_a_spray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("keyplane.auth.throttle.time.monotonic", lambda: 5.0)
    counters = LocalCounters(window_seconds=900, max_counters=100)
    for i in range(1000):
        counters.admit({f"email{i}": 5})
    assert len(counters._counters) == 100


def test_an_ipv6_client_is_counted_by_its_64_prefix() -> None:
    assert ip_counter("2001:db8:1:2::1") == ip_counter("2001:db8:1:2:ffff::9")
    assert ip_counter("2001:db8:1:2::1") != ip_counter("2001:db8:1:3::1")
    assert ip_counter("not an ip") is None
    assert email_counter(" Owner@ACME.test") == email_counter("owner@acme.test")
