"""The login throttle over real Redis (KEYPLANE_REDIS_URL): counters are shared by every instance,
and a Redis outage falls back to per-process counting instead of failing or opening the gate."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from keyplane.auth.throttle import email_counter, ip_counter
from keyplane.config import Settings
from keyplane.shared_redis import redis_client
from tests import backends
from tests.auth.helpers import from_peer, running
from tests.auth.test_login_throttle import assert_throttled, attempt
from tests.factories import DEFAULT_PASSWORD, bootstrap_org
from tests.fakes.upstream import free_port
from tests.gateway.test_redis_reconnect import TcpProxy


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    parts = urlsplit(backends.REDIS_URL)
    if not backends.port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        backends.unavailable("Redis")
    yield backends.REDIS_URL


@pytest.fixture
async def peer(redis_url: str) -> AsyncIterator[str]:
    """A client IP of this test alone (Redis may be shared with other runs); its counter goes after."""
    address = f"100.{random.randint(64, 127)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    yield address
    client = redis_client(redis_url)
    try:
        await client.delete(ip_counter(address) or "")
    finally:
        await client.aclose()


@pytest.fixture
def email() -> str:
    return f"owner-{uuid.uuid4().hex[:12]}@acme.test"


@pytest.fixture
async def forget_email(redis_url: str, email: str) -> AsyncIterator[None]:
    yield
    client = redis_client(redis_url)
    try:
        await client.delete(email_counter(email))
    finally:
        await client.aclose()


async def test_failures_on_two_instances_add_up(
    settings: Settings, redis_url: str, peer: str, email: str, forget_email: None
) -> None:
    async with (
        running(settings, redis_url=redis_url) as first,
        running(settings, redis_url=redis_url) as second,
        from_peer(first, peer) as on_first,
        from_peer(second, peer) as on_second,
    ):
        await bootstrap_org(first.state.keyplane, email=email)
        statuses = [(await attempt(on_first, email)).status_code for _ in range(3)]
        statuses += [(await attempt(on_second, email)).status_code for _ in range(2)]
        assert statuses == [401] * 5
        assert_throttled(await attempt(on_first, email, DEFAULT_PASSWORD))
        assert_throttled(await attempt(on_second, email, DEFAULT_PASSWORD))


async def test_a_success_on_one_instance_forgives_failures_counted_on_another(
    settings: Settings, redis_url: str, peer: str, email: str, forget_email: None
) -> None:
    async with (
        running(settings, redis_url=redis_url) as first,
        running(settings, redis_url=redis_url) as second,
        from_peer(first, peer) as on_first,
        from_peer(second, peer) as on_second,
    ):
        await bootstrap_org(first.state.keyplane, email=email)
        for _ in range(4):
            await attempt(on_first, email)
        assert (await attempt(on_second, email, DEFAULT_PASSWORD)).status_code == 200
        assert [(await attempt(on_first, email)).status_code for _ in range(5)] == [401] * 5
        assert_throttled(await attempt(on_second, email))


async def test_an_ip_spraying_emails_is_throttled_on_every_instance(
    settings: Settings, redis_url: str, peer: str, email: str, forget_email: None
) -> None:
    sprayed = [f"spray-{uuid.uuid4().hex[:12]}@acme.test" for _ in range(20)]
    async with (
        running(settings, redis_url=redis_url) as first,
        running(settings, redis_url=redis_url) as second,
        from_peer(first, peer) as on_first,
        from_peer(second, peer) as on_second,
    ):
        for index, victim in enumerate(sprayed):
            assert (await attempt(on_first if index % 2 else on_second, victim)).status_code == 401
        assert_throttled(await attempt(on_first, email))
        assert_throttled(await attempt(on_second, email))
    client = redis_client(redis_url)
    try:
        assert 0 < await client.ttl(ip_counter(peer) or "") <= settings.login_failure_window_seconds
        await client.delete(*(email_counter(victim) for victim in sprayed))
    finally:
        await client.aclose()


async def test_with_redis_unreachable_logins_work_and_are_throttled_per_process(
    settings: Settings, email: str
) -> None:
    closed = free_port()  # bound and released: nothing listens there
    async with (
        running(settings, redis_url=f"redis://127.0.0.1:{closed}/0") as app,
        from_peer(app, "10.9.9.9") as http,
    ):
        await bootstrap_org(app.state.keyplane, email=email)
        assert (await attempt(http, email, DEFAULT_PASSWORD)).status_code == 200
        assert [(await attempt(http, email)).status_code for _ in range(5)] == [401] * 5
        assert_throttled(await attempt(http, email, DEFAULT_PASSWORD))


async def test_redis_going_away_mid_attack_falls_back_to_per_process_counting(
    settings: Settings, redis_url: str, peer: str, email: str, forget_email: None
) -> None:
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.open()
    try:
        proxied = f"redis://127.0.0.1:{proxy.port}{parts.path}"
        async with running(settings, redis_url=proxied) as app, from_peer(app, peer) as http:
            await bootstrap_org(app.state.keyplane, email=email)
            assert [(await attempt(http, email)).status_code for _ in range(3)] == [401] * 3
            await proxy.cut()
            # Never a 500, never an open gate: this process counts on its own from here.
            statuses = [(await attempt(http, email)).status_code for _ in range(5)]
            assert statuses == [401] * 5
            assert_throttled(await attempt(http, email, DEFAULT_PASSWORD))
    finally:
        if proxy.is_open:
            await proxy.cut()


def test_the_counter_names_carry_no_email_address(email: str) -> None:
    assert email.split("@")[0] not in email_counter(email)
