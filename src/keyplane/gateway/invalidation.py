"""Key changes spread over Redis pub/sub (KEYPLANE_REDIS_URL): every instance drops them at once.

Any committed transaction that added, changed or deleted an api_keys row (ORM objects, whatever
service did it) publishes the key hashes on CHANNEL after the commit; each gateway subscribes and
drops them from its key cache. While the subscription is live and answering pings the key cache
keeps records for KEYPLANE_KEY_CACHE_TTL_SECONDS uncapped; whenever Redis is silent or gone it falls
back to the short TTL (0.5 s) and, once back, forgets every cached record (messages may be lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from keyplane.gateway.key_cache import KeyCache
from keyplane.models import ApiKey, Organization
from keyplane.shared_redis import Outage

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported only where Redis is configured

logger = logging.getLogger("keyplane.gateway")

CHANNEL = "keyplane:invalidate"
SINK = "keyplane.key_changes"  # session.info entry: called with the changed hashes after commit
_PENDING = "keyplane.changed_key_hashes"
# Redis calls fail fast: a request never waits long on it, the fallbacks take over.

PING_INTERVAL_SECONDS = 0.25
SILENCE_LIMIT_SECONDS = 0.75  # no word from Redis this long: trust only the short TTL
RECONNECT_AFTER_SECONDS = 3.0
BACKOFF_START_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0

EVERY_KEY = "*"  # published when an org changed: drop every cached record

KeySink = Callable[[set[str]], None]


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    if SINK not in session.info:
        return
    touched = (*session.new, *session.dirty, *session.deleted)
    changed = {key_hash for obj in touched if isinstance(obj, ApiKey) for key_hash in _secrets_of(obj)}
    if any(isinstance(obj, Organization) for obj in touched):
        changed.add(EVERY_KEY)  # a suspension or resumption changes every key of the org
    if changed:
        session.info.setdefault(_PENDING, set()).update(changed)


def _secrets_of(key: ApiKey) -> set[str]:
    """Every hash a cache may hold the key under: current, previous, and those a rotation replaced."""
    state = inspect(key)
    found = {key.hash, key.previous_hash}
    for name in ("hash", "previous_hash"):
        found.update(state.attrs[name].history.deleted or ())
    return {key_hash for key_hash in found if key_hash}


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    changed = session.info.pop(_PENDING, None)
    sink = session.info.get(SINK)
    if changed and sink is not None:
        sink(changed)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def drop_changed_keys(keys: KeyCache, hashes: set[str]) -> None:
    """The session sink without Redis: this process forgets what it changed, right after commit."""
    for key_hash in hashes:
        keys.invalidate(None if key_hash == EVERY_KEY else key_hash)


class KeyInvalidation:
    """Publishes this process's key changes and applies everyone's to the local key cache."""

    def __init__(self, client: Redis, keys: KeyCache, *, pushed_ttl: float) -> None:
        self._client = client
        self._keys = keys
        self._short_ttl = keys.ttl
        self._pushed_ttl = max(pushed_ttl, keys.ttl)
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = False  # subscribed and hearing from Redis: the key cache keeps records longer
        self._publish_outage = Outage("publishing key changes", "kept and retried")
        self._listen_outage = Outage("receiving key changes", "the key cache TTL is 0.5 s meanwhile")

    def changed(self, hashes: set[str]) -> None:
        """The session sink (after commit, synchronous): drop locally now, publish soon."""
        drop_changed_keys(self._keys, hashes)
        self._pending |= hashes
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._publish()), asyncio.create_task(self._listen())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._keys.ttl = self._short_ttl

    async def _publish(self) -> None:
        backoff = BACKOFF_START_SECONDS
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = set(self._pending)
                try:
                    await self._client.publish(CHANNEL, " ".join(sorted(batch)))
                except Exception as exc:  # kept and retried: a change is never silently dropped
                    self._publish_outage.failed(exc)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
                    continue
                self._publish_outage.recovered()
                backoff = BACKOFF_START_SECONDS
                self._pending -= batch

    async def _listen(self) -> None:
        backoff = BACKOFF_START_SECONDS
        while True:
            pubsub: Any = self._client.pubsub()  # (PubSub.aclose is untyped)
            try:
                await pubsub.subscribe(CHANNEL)
                await self._follow(pubsub)
            except Exception as exc:
                self._listen_outage.failed(exc)
            finally:
                self._keys.ttl = self._short_ttl
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            if self.listening:  # it worked for a while: reconnect quickly
                self.listening = False
                backoff = BACKOFF_START_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)

    async def _follow(self, pubsub: Any) -> None:
        """Apply messages; ping so that silence is noticed; raise when Redis stops answering."""
        subscribed = False
        last_heard = last_ping = time.monotonic()
        while True:
            message = await pubsub.get_message(timeout=PING_INTERVAL_SECONDS)
            now = time.monotonic()
            if message is not None:
                last_heard = now
                kind = message["type"]
                if kind == "subscribe" and not subscribed:
                    subscribed = self.listening = True
                    self._keys.invalidate()  # whatever changed while nobody listened
                    self._listen_outage.recovered()
                elif kind == "message":
                    for key_hash in message["data"].split():
                        name = key_hash.decode()
                        self._keys.invalidate(None if name == EVERY_KEY else name)
                if subscribed:
                    self._keys.ttl = self._pushed_ttl
            elif now - last_heard > SILENCE_LIMIT_SECONDS:
                self._keys.ttl = self._short_ttl
                if now - last_heard > RECONNECT_AFTER_SECONDS:
                    raise ConnectionError("Redis stopped answering pings")
            if now - last_ping >= PING_INTERVAL_SECONDS:
                last_ping = now
                await pubsub.ping()
