"""Which orgs have an endpoint for an event, cached per process, so flushes of other orgs skip webhooks.

A create or delete in this process refreshes it at once; other instances see it within the TTL.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.models import WebhookEndpoint

DEFAULT_TTL_SECONDS = 2.0
_generation = 0


def changed() -> None:
    """An endpoint was created or deleted in this process: every cache reloads on its next use."""
    global _generation
    _generation += 1


class Subscribers:
    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._by_event: dict[str, frozenset[str]] = {}
        self._loaded_at = float("-inf")
        self._generation = -1

    async def orgs(self, sessions: async_sessionmaker[AsyncSession], event: str) -> frozenset[str]:
        """The orgs subscribed to `event`: one small query per TTL, none in between, on its own
        connection (a failure here never touches the caller's transaction)."""
        now = time.monotonic()
        if self._generation != _generation or now - self._loaded_at >= self._ttl:
            generation = _generation
            async with sessions() as session:
                rows = (await session.execute(select(WebhookEndpoint.org_id, WebhookEndpoint.events))).all()
            by_event: dict[str, set[str]] = {}
            for org_id, events in rows:
                for name in events or []:
                    by_event.setdefault(str(name), set()).add(org_id)
            self._by_event = {name: frozenset(orgs) for name, orgs in by_event.items()}
            self._loaded_at, self._generation = now, generation
        return self._by_event.get(event, frozenset())
