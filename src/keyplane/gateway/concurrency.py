"""Per-key requests in flight (`max_concurrency`): one slot per admitted request, freed when it settles.

In process by default; with Redis (KEYPLANE_REDIS_URL) the slots of a key are one sorted set
across instances (member: the request, score: when the slot lapses on Redis's clock), taken by one
Lua script. A live instance renews its slots every RENEW_SECONDS, so a long stream keeps its slot
while a killed instance's slots lapse within SLOT_TTL_SECONDS and come back to the key. While Redis
errors the in-process count stands in, and Redis is retried after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from keyplane.errors import RateLimited
from keyplane.shared_redis import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported only where Redis is configured

Release = Callable[[], None]
SLOT_TTL_SECONDS = 60
RENEW_SECONDS = 15.0
RETRY_REDIS_AFTER_SECONDS = 2.0
RETRY_AFTER_SECONDS = 1

# KEYS: the key's slot set; ARGV: limit, slot id, ttl. 1 = taken, 0 = the key is at its limit.
ACQUIRE = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) + 1)
return 1
"""

# KEYS: the key's slot set; ARGV: slot id, ttl. Pushes a live slot's lapse out (XX: never re-adds).
RENEW = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) + 1)
return 0
"""


def concurrency_exceeded(limit: int) -> RateLimited:
    return RateLimited(
        f"Concurrency limit of {limit} requests in flight reached for this key",
        retry_after=RETRY_AFTER_SECONDS,
        code="concurrency_limit",
    )


def slot_set(key_id: str) -> str:
    return f"keyplane:inflight:{{{key_id}}}"


class InFlight:
    """Requests in flight per key id, in this process."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def acquire(self, key_id: str, limit: int) -> Release:
        """Take a slot or raise 429 concurrency_limit; the returned callable frees it (once)."""
        count = self._counts.get(key_id, 0)
        if count >= limit:
            raise concurrency_exceeded(limit)
        self._counts[key_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._counts.get(key_id, 1) - 1
            if left > 0:
                self._counts[key_id] = left
            else:
                self._counts.pop(key_id, None)

        return release

    def count(self, key_id: str) -> int:
        return self._counts.get(key_id, 0)


class SharedInFlight:
    """Slots counted in Redis across instances, renewed while held, the local count as fallback."""

    def __init__(self, client: Redis, local: InFlight) -> None:
        self.local = local
        self._client = client
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._held: dict[str, str] = {}  # slot id -> key id, renewed by the heartbeat
        self._tasks: set[asyncio.Task[None]] = set()
        self._skip_until = 0.0
        self._outage = Outage("concurrency limits", "counting them per process meanwhile")
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._heartbeat = asyncio.create_task(self._renew_loop())

    async def acquire(self, key_id: str, limit: int, slot: str) -> Release:
        if time.monotonic() < self._skip_until:
            return self.local.acquire(key_id, limit)
        try:
            taken = await self._acquire(keys=[slot_set(key_id)], args=[limit, slot, SLOT_TTL_SECONDS])
        except Exception as exc:  # a Redis outage never fails a request
            self._failed(exc)
            return self.local.acquire(key_id, limit)
        self._outage.recovered()
        if not taken:
            raise concurrency_exceeded(limit)
        self._held[slot] = key_id
        return lambda: self._release(slot)

    def _release(self, slot: str) -> None:
        key_id = self._held.pop(slot, None)
        if key_id is None:
            return
        self._spawn(self._remove(key_id, slot))

    async def _remove(self, key_id: str, slot: str) -> None:
        try:
            await self._client.zrem(slot_set(key_id), slot)
        except Exception as exc:  # the slot lapses on its own within SLOT_TTL_SECONDS
            self._failed(exc)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            for slot, key_id in list(self._held.items()):
                try:
                    await self._renew(keys=[slot_set(key_id)], args=[slot, SLOT_TTL_SECONDS])
                except Exception as exc:
                    self._failed(exc)
                    break

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _failed(self, exc: BaseException) -> None:
        self._outage.failed(exc)
        self._skip_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS

    async def close(self) -> None:
        """Free the slots still held (their requests end with this process) and stop renewing."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for slot in list(self._held):
            self._release(slot)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
