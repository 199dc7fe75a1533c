"""Per-key rpm/tpm counted in Redis (KEYPLANE_REDIS_URL), so a key's rate limit holds across instances.

A sliding 60-second window in one-second buckets (a hash per key and kind, second -> count, on
Redis's clock), checked and counted by one Lua script: one round trip per request of a key that has
a rate limit, none for the others. Tokens are added after the answer, off the hot path. While Redis
errors the per-process limiter (ratelimit.py) stands in, and Redis is retried after a pause.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from keyplane.gateway.ratelimit import RateLimiter, rpm_exceeded, tpm_exceeded
from keyplane.shared_redis import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported only where Redis is configured

RETRY_REDIS_AFTER_SECONDS = 2.0

# KEYS: request and token buckets; ARGV: rpm, tpm (0 = none). {0, 0} = admitted and counted,
# {1, seconds} = over rpm, {2, seconds} = over tpm (seconds until the window has room).
ADMIT = """
local now = tonumber(redis.call('TIME')[1])
local function window(key)
  local flat = redis.call('HGETALL', key)
  local seconds, counts, total, stale = {}, {}, 0, {}
  for i = 1, #flat, 2 do
    local second = tonumber(flat[i])
    if second <= now - 60 then
      stale[#stale + 1] = flat[i]
    else
      seconds[#seconds + 1] = second
      counts[second] = tonumber(flat[i + 1])
      total = total + counts[second]
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(seconds)
  return seconds, counts, total
end
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if rpm > 0 then
  local seconds, counts, total = window(KEYS[1])
  local excess = total - rpm + 1
  if excess > 0 then
    for _, second in ipairs(seconds) do
      excess = excess - counts[second]
      if excess <= 0 then return {1, second + 60 - now} end
    end
  end
end
if tpm > 0 then
  local seconds, _, total = window(KEYS[2])
  if total >= tpm then return {2, seconds[1] + 60 - now} end
end
if rpm > 0 then
  redis.call('HINCRBY', KEYS[1], now, 1)
  redis.call('EXPIRE', KEYS[1], 61)
end
return {0, 0}
"""

RECORD = """
local now = redis.call('TIME')[1]
redis.call('HINCRBY', KEYS[1], now, tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], 61)
return 0
"""


def bucket_keys(key_id: str) -> list[str]:
    """The request and token buckets of one key (one hash tag: same Redis Cluster slot)."""
    return [f"keyplane:rl:{{{key_id}}}:rpm", f"keyplane:rl:{{{key_id}}}:tpm"]


class SharedRateLimiter:
    def __init__(self, client: Redis, local: RateLimiter) -> None:
        self.local = local
        self._admit = client.register_script(ADMIT)
        self._record = client.register_script(RECORD)
        self._skip_until = 0.0
        self._outage = Outage("rate limits", "counting them per process meanwhile")
        self._writes: set[asyncio.Task[None]] = set()

    async def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> None:
        """Count one request across instances, or raise 429 with Retry-After."""
        if time.monotonic() < self._skip_until:
            self.local.admit(key_id, rpm, tpm)
            return
        try:
            verdict, wait = await self._admit(keys=bucket_keys(key_id), args=[rpm or 0, tpm or 0])
        except Exception as exc:  # a Redis outage never fails a request
            self._failed(exc)
            self.local.admit(key_id, rpm, tpm)
            return
        self._outage.recovered()
        if verdict == 1 and rpm:
            raise rpm_exceeded(rpm, int(wait))
        if verdict == 2 and tpm:
            raise tpm_exceeded(tpm, int(wait))

    def record_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        """Add a finished request's tokens (locally too, for the fallback), without waiting."""
        if not tpm or tokens <= 0:
            return
        self.local.record_tokens(key_id, tpm, tokens)
        if time.monotonic() < self._skip_until:
            return
        task = asyncio.create_task(self._add_tokens(key_id, tokens))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _add_tokens(self, key_id: str, tokens: int) -> None:
        try:
            await self._record(keys=bucket_keys(key_id)[1:], args=[tokens])
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self._outage.failed(exc)
        self._skip_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS

    async def close(self) -> None:
        """Wait for token writes still in flight (they time out on their own)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
