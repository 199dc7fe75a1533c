"""KEYPLANE_REDIS_URL pointing at nothing: requests still work, rate limits fall back to the
per-process counters and key changes to the short key cache TTL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from keyplane.gateway.service import CACHE_TTL_CAP_SECONDS
from tests.factories import bearer
from tests.fakes.upstream import free_port
from tests.gateway.test_enforcement import CHAT, _key
from tests.harness import FLUSH_WAIT_SECONDS, GatewaySetup, ServedApp


def _served_without_redis(serve_app: Callable[..., ServedApp]) -> ServedApp:
    closed = free_port()  # bound and released: nothing listens there
    return serve_app(redis_url=f"redis://127.0.0.1:{closed}/0", key_cache_ttl_seconds=30.0)


async def test_requests_and_rate_limits_work_while_redis_is_unreachable(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    served = _served_without_redis(serve_app)
    key, key_hash = await _key(setup)
    await setup.update_key(key_hash, rate_limit_rpm=3)
    url = served.base_url + "/v1/chat/completions"
    statuses = [(await http.post(url, json=CHAT, headers=bearer(key))).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    plain, _ = await setup.make_key()
    assert (await http.post(url, json=CHAT, headers=bearer(plain))).status_code == 200


async def test_a_disabled_key_is_refused_on_the_short_cache_ttl_while_redis_is_unreachable(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    served = _served_without_redis(serve_app)
    key, key_hash = await _key(setup)
    url = served.base_url + "/v1/chat/completions"
    assert (await http.post(url, json=CHAT, headers=bearer(key))).status_code == 200  # now cached
    # The rule that bounds the delay, checked as a value: without Redis the 30 s TTL is capped.
    gateway = served.app.state.keyplane.services["gateway"] if served.app else None
    assert gateway is not None and gateway.keys.ttl <= CACHE_TTL_CAP_SECONDS
    await setup.update_key(key_hash, disabled=True)
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS  # below the 30 s TTL: a refusal is the cap at work
    while (await http.post(url, json=CHAT, headers=bearer(key))).status_code != 401:
        assert time.monotonic() < deadline, "the key cache kept the long TTL without Redis"
        await asyncio.sleep(0.02)
