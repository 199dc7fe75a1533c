"""Redis going away and coming back: the key cache falls back to the short TTL meanwhile, and once
the subscriber has reconnected key changes are pushed again (the configured TTL is 30 s)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx
import pytest

from keyplane.gateway.service import Gateway
from tests import backends
from tests.factories import bearer
from tests.fakes.upstream import free_port
from tests.gateway.test_enforcement import CHAT, _key
from tests.harness import FLUSH_WAIT_SECONDS, GatewaySetup, ServedApp


class TcpProxy:
    """Loopback TCP relay to Redis that the test can cut (listener and live connections) and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        return self._server is not None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._handlers.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            self._writers.discard(writer)


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    parts = urlsplit(backends.REDIS_URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if not backends.port_open(host, port):
        backends.unavailable("Redis")
    running = TcpProxy(host, port)
    await running.open()
    yield running
    if running.is_open:
        await running.cut()


def _gateway(served: ServedApp) -> Gateway:
    assert served.app is not None
    gateway = served.app.state.keyplane.services["gateway"]
    assert isinstance(gateway, Gateway)
    return gateway


async def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def _refused_before_the_long_ttl(http: httpx.AsyncClient, url: str, key: str) -> None:
    """Poll until 401; the bound (20 s) is below the follower's 30 s TTL, so a refusal is either the
    short TTL (checked above as keys.ttl) or a pushed invalidation, never the long TTL expiring."""
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while (await http.post(url, json=CHAT, headers=bearer(key))).status_code != 401:
        assert time.monotonic() < deadline, "the key still works: neither the short TTL nor a push applied"
        await asyncio.sleep(0.02)


async def test_key_changes_hold_on_the_short_ttl_while_redis_is_away_and_are_pushed_again_after(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    proxy: TcpProxy,
) -> None:
    parts = urlsplit(backends.REDIS_URL)
    publisher = serve_app(redis_url=backends.REDIS_URL)  # management changes made here are published
    follower = serve_app(redis_url=f"redis://127.0.0.1:{proxy.port}{parts.path}", key_cache_ttl_seconds=30.0)
    keys = _gateway(follower).keys
    await _until(lambda: keys.ttl == 30.0)
    key, key_hash = await _key(setup)
    url = follower.base_url + "/v1/chat/completions"
    patch_url = publisher.base_url + f"/api/v1/keys/{key_hash}"

    await proxy.cut()
    await _until(lambda: keys.ttl == 0.5)
    assert (await http.post(url, json=CHAT, headers=bearer(key))).status_code == 200  # now cached
    response = await http.patch(patch_url, headers=setup.admin, json={"disabled": True})
    assert response.status_code == 200, response.text
    await _refused_before_the_long_ttl(http, url, key)

    response = await http.patch(patch_url, headers=setup.admin, json={"disabled": False})
    assert response.status_code == 200, response.text
    await proxy.open()
    await _until(lambda: keys.ttl == 30.0)
    assert (await http.post(url, json=CHAT, headers=bearer(key))).status_code == 200
    response = await http.patch(patch_url, headers=setup.admin, json={"disabled": True})
    assert response.status_code == 200, response.text
    await _refused_before_the_long_ttl(http, url, key)
