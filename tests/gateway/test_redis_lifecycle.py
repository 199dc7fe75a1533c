"""Key lifecycle state shared through Redis: a key's requests in flight are counted across instances
(a killed instance's slots lapse), and a rotation reaches every instance's key cache at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis

from keyplane.errors import RateLimited
from keyplane.gateway.concurrency import SLOT_TTL_SECONDS, InFlight, SharedInFlight, slot_set
from keyplane.shared_redis import redis_client
from tests.factories import bearer
from tests.fakes.upstream import RunningUpstream
from tests.gateway.test_enforcement import CHAT, _key
from tests.gateway.test_key_guards import _limited_key
from tests.gateway.test_redis_shared import redis_url  # noqa: F401  (the fixture)
from tests.harness import GatewaySetup, ServedApp, eventually

LONG_TTL = 30.0  # only a pushed invalidation explains a change seen before this


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:  # noqa: F811
    client = redis_client(redis_url)
    yield client
    await client.aclose()


async def test_a_keys_requests_in_flight_are_counted_across_two_instances(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    upstream: RunningUpstream,
    redis_url: str,  # noqa: F811
) -> None:
    first, second = serve_app(redis_url=redis_url), serve_app(redis_url=redis_url)
    key = await _limited_key(setup, max_concurrency=1)
    slow = {**CHAT, "model": "slow"}
    held = asyncio.create_task(
        http.post(first.base_url + "/v1/chat/completions", json=slow, headers=bearer(key), timeout=30)
    )

    async def in_flight() -> bool:
        return len(upstream.requests) >= 1

    await eventually(in_flight)
    refused = await http.post(second.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "concurrency_limit"
    assert (await held).status_code == 200

    async def freed() -> bool:
        response = await http.post(second.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
        return response.status_code == 200

    await eventually(freed)


async def test_a_killed_instances_slots_lapse_and_live_ones_are_renewed(redis: Redis) -> None:
    key_id = f"key-{uuid.uuid4().hex}"
    crashed, survivor = SharedInFlight(redis, InFlight()), SharedInFlight(redis, InFlight())
    await crashed.acquire(key_id, 1, "req-1")  # never released: its process is gone
    with pytest.raises(RateLimited) as refused:
        await survivor.acquire(key_id, 1, "req-2")
    assert refused.value.code == "concurrency_limit"
    lapse = await redis.zscore(slot_set(key_id), "req-1")
    now = int((await redis.time())[0])
    assert lapse is not None and now < lapse <= now + SLOT_TTL_SECONDS + 1
    await redis.zadd(slot_set(key_id), {"req-1": now - 1})  # as if SLOT_TTL_SECONDS had passed
    release = await survivor.acquire(key_id, 1, "req-2")
    await redis.zadd(slot_set(key_id), {"req-2": now + 5}, xx=True)
    await survivor._renew(keys=[slot_set(key_id)], args=["req-2", SLOT_TTL_SECONDS])
    renewed = await redis.zscore(slot_set(key_id), "req-2")
    assert renewed is not None and renewed >= now + SLOT_TTL_SECONDS
    release()
    await survivor.close()
    assert await redis.zcard(slot_set(key_id)) == 0


async def test_a_rotation_reaches_the_other_instances_cache_at_once(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    redis_url: str,  # noqa: F811
) -> None:
    first = serve_app(redis_url=redis_url, key_cache_ttl_seconds=LONG_TTL)
    second = serve_app(redis_url=redis_url, key_cache_ttl_seconds=LONG_TTL)
    old, old_hash = await _key(setup)
    url = second.base_url + "/v1/chat/completions"
    assert (await http.post(url, json=CHAT, headers=bearer(old))).status_code == 200  # cached as current
    rotated = await http.post(
        f"{first.base_url}/api/v1/keys/{old_hash}/rotate", json={"grace_seconds": 0}, headers=setup.admin
    )
    assert rotated.status_code == 200, rotated.text

    async def old_refused() -> bool:
        return (await http.post(url, json=CHAT, headers=bearer(old))).status_code == 401

    await eventually(old_refused, within=LONG_TTL / 3)
    new = rotated.json()["key"]
    assert (await http.post(url, json=CHAT, headers=bearer(new))).status_code == 200
