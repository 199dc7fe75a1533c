"""The one Redis client setup every subsystem shares (key invalidation, rate limits, login
throttle): short timeouts and no retries, because callers fall back instead of waiting."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("keyplane.redis")

# Redis calls fail fast: a request never waits long on it, the fallbacks take over.
SOCKET_TIMEOUT_SECONDS = 0.5


def redis_client(url: str) -> Redis:
    """One client per process: short timeouts and no retries (callers fall back instead); redis-py
    is imported here, so a server without Redis never loads it."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


class Outage:
    """Logs the start and the end of a Redis outage once each, not once per failure."""

    def __init__(self, what: str, meanwhile: str) -> None:
        self.what = what
        self.meanwhile = meanwhile
        self.down = False

    def failed(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            logger.warning(
                "Redis unreachable for %s (%s: %s); %s", self.what, type(exc).__name__, exc, self.meanwhile
            )

    def recovered(self) -> None:
        if self.down:
            self.down = False
            logger.warning("Redis reachable again for %s", self.what)
