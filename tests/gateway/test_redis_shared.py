"""Redis-backed gateway state in process: key changes are handed over only once committed, and a
key's tokens-per-minute are counted across instances."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.gateway.invalidation import SINK
from keyplane.models import ApiKey
from tests import backends
from tests.factories import bearer
from tests.gateway.test_enforcement import CHAT, _key
from tests.harness import FLUSH_WAIT_SECONDS, GatewaySetup, ServedApp


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    parts = urlsplit(backends.REDIS_URL)
    if not backends.port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        backends.unavailable("Redis")
    yield backends.REDIS_URL


async def test_key_changes_are_handed_over_after_commit_and_never_after_rollback(
    setup: GatewaySetup, context: AppContext
) -> None:
    _, key_hash = await setup.make_key()
    handed: list[set[str]] = []
    context.sessions.configure(info={SINK: handed.append})
    try:
        with pytest.raises(RuntimeError):
            async with session_scope(context.sessions) as session:
                row = (await session.execute(select(ApiKey).where(ApiKey.hash == key_hash))).scalar_one()
                row.disabled = True
                await session.flush()
                raise RuntimeError("rolled back")
        assert handed == []
        await setup.update_key(key_hash, disabled=True)
        assert handed == [{key_hash}]
    finally:
        context.sessions.configure(info={})


async def test_a_keys_tokens_per_minute_are_shared_by_two_instances(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient, redis_url: str
) -> None:
    first = serve_app(redis_url=redis_url)
    second = serve_app(redis_url=redis_url)
    key, key_hash = await _key(setup)
    await setup.update_key(key_hash, rate_limit_tpm=30)  # one fake upstream answer uses 30 tokens
    response = await http.post(first.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
    assert response.status_code == 200
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS  # tokens are added after the answer, off the path
    while True:
        response = await http.post(second.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
        if response.status_code == 429:
            break
        assert response.status_code == 200 and time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert response.json()["error"]["code"] == "rate_limit_tpm"
    assert 1 <= int(response.headers["retry-after"]) <= 60
