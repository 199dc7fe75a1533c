"""Two real `keyplane serve` processes on one PostgreSQL with KEYPLANE_REDIS_URL: key changes spread
over pub/sub (the key cache TTL is 30 s, so only Redis can explain a refusal within a second) and a
key's rate limit is counted once across both."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import update

from keyplane.billing.ledger import add_credit
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM
from keyplane.models import ApiKey
from tests import backends
from tests.factories import bearer
from tests.fakes.upstream import RunningUpstream
from tests.gateway.test_instances import CHAT, _create_key, _two_servers
from tests.harness import FLUSH_WAIT_SECONDS
from tests.live_server import LiveServer, LiveServerFactory

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

LONG_KEY_TTL = "30"
POLL_SECONDS = 0.02


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The test Redis (its own db); skipped locally, failed in CI, when it is not running."""
    parts = urlsplit(backends.REDIS_URL)
    if not backends.port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        backends.unavailable("Redis")
    yield backends.REDIS_URL


async def _servers(
    env: dict[str, str],
    redis_url: str,
    factory: LiveServerFactory,
    upstream: RunningUpstream,
    http: httpx.AsyncClient,
    context: AppContext,
) -> tuple[LiveServer, LiveServer]:
    env = {**env, "KEYPLANE_REDIS_URL": redis_url, "KEYPLANE_KEY_CACHE_TTL_SECONDS": LONG_KEY_TTL}
    first, second = await _two_servers(env, factory, upstream, http)
    async with session_scope(context.sessions) as session:
        await add_credit(session=session, principal=SYSTEM, org_id=first.init["org_id"], amount_nanos=10**9)
    return first, second


async def _status_before_the_ttl(http: httpx.AsyncClient, url: str, key: str, wanted: int) -> httpx.Response:
    """Poll until the gateway answers `wanted`; the bound (20 s) is below the 30 s key cache TTL, so
    reaching it proves the change was pushed over Redis (no wall-clock speed is asserted)."""
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while True:
        response = await http.post(url, json=CHAT, headers=bearer(key))
        if response.status_code == wanted:
            return response
        assert time.monotonic() < deadline, f"still {response.status_code}: {response.text}"
        await asyncio.sleep(POLL_SECONDS)


async def test_key_changes_on_one_instance_reach_the_other_before_its_long_cache_ttl_expires(
    live_server_env: dict[str, str],
    redis_url: str,
    live_server_factory: LiveServerFactory,
    upstream: RunningUpstream,
    context: AppContext,
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        first, second = await _servers(
            live_server_env, redis_url, live_server_factory, upstream, http, context
        )
        key, key_hash = await _create_key(first, http)
        url = second.base_url + "/v1/chat/completions"
        admin = bearer(first.management_key)
        assert (await http.post(url, json=CHAT, headers=bearer(key))).status_code == 200  # now cached

        response = await http.patch(
            first.base_url + f"/api/v1/keys/{key_hash}", headers=admin, json={"disabled": True}
        )
        assert response.status_code == 200, response.text
        refused = await _status_before_the_ttl(http, url, key, 401)
        assert "disabled" in refused.json()["error"]["message"]

        response = await http.patch(
            first.base_url + f"/api/v1/keys/{key_hash}", headers=admin, json={"disabled": False}
        )
        assert response.status_code == 200, response.text
        await _status_before_the_ttl(http, url, key, 200)

        response = await http.delete(first.base_url + f"/api/v1/keys/{key_hash}", headers=admin)
        assert response.status_code == 200, response.text
        gone = await _status_before_the_ttl(http, url, key, 401)
        assert gone.json()["error"]["code"] == "invalid_api_key"


async def test_a_keys_rpm_is_shared_by_both_instances(
    live_server_env: dict[str, str],
    redis_url: str,
    live_server_factory: LiveServerFactory,
    upstream: RunningUpstream,
    context: AppContext,
) -> None:
    rpm = 6
    async with httpx.AsyncClient(timeout=30) as http:
        first, second = await _servers(
            live_server_env, redis_url, live_server_factory, upstream, http, context
        )
        key, key_hash = await _create_key(first, http)
        async with session_scope(context.sessions) as session:  # before either instance caches the key
            await session.execute(update(ApiKey).where(ApiKey.hash == key_hash).values(rate_limit_rpm=rpm))

        async def one(index: int) -> httpx.Response:
            server = first if index % 2 else second
            return await http.post(server.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))

        responses = await asyncio.gather(*(one(i) for i in range(3 * rpm)))

    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == rpm, statuses
    assert statuses.count(429) == 2 * rpm, statuses
    for response in responses:
        if response.status_code == 429:
            assert response.json()["error"]["code"] == "rate_limit_rpm"
            assert 1 <= int(response.headers["retry-after"]) <= 60
