"""Usage off the hot path: requests enqueue, one background task writes batches.

A batch is one transaction: usage records, rollups and ledger debits (usage/writer.py), the
settlement of its reservations, and the keys' last_used_at. A graceful shutdown drains the queue;
a killed process's queue is in its usage journal (gateway/journal.py), settled by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.gateway.journal import UsageJournal
from keyplane.gateway.spend_reservations import Settlement, SpendLedger
from keyplane.gateway.threshold_watch import spend_changes
from keyplane.models import ApiKey
from keyplane.usage.writer import UsageEvent, write_usage_batch
from keyplane.webhooks.alerts import ThresholdAlerts

logger = logging.getLogger("keyplane.gateway.metering")

# On a database outage the queue keeps growing; past this many events the oldest retry is logged.
MAX_RETRY_DELAY_SECONDS = 5.0
ANOMALY_LOG_INTERVAL_SECONDS = 10.0  # one warning per reason this often; the counter counts all

USAGE_ANOMALIES = Counter(
    "keyplane_gateway_usage_anomalies_total",
    "Answers whose reported usage was clamped, or whose charge exceeded the request's reservation",
    ["reason"],
)
_last_logged: dict[str, float] = {}


def usage_anomaly(reason: str, message: str, *args: object) -> None:
    """Count an anomaly ("clamped", "over_reservation") and warn, at most once per interval each."""
    USAGE_ANOMALIES.labels(reason).inc()
    now = time.monotonic()
    last = _last_logged.get(reason)
    if last is None or now - last >= ANOMALY_LOG_INTERVAL_SECONDS:
        _last_logged[reason] = now
        logger.warning("usage anomaly (%s): " + message, reason, *args)


class UsageMeter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        ledger: SpendLedger,
        *,
        interval_seconds: float,
        batch_size: int,
        journal: UsageJournal | None = None,
        alerts: ThresholdAlerts | None = None,
    ) -> None:
        self._sessions = sessions
        self._alerts = alerts
        self._ledger = ledger
        self._journal = journal
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._queue: deque[tuple[UsageEvent, Settlement]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.flushed_total = 0

    def record(self, event: UsageEvent, settlement: Settlement) -> None:
        """Never blocks, never fails: the request is done, its usage is the flusher's job."""
        self._ledger.release_unused(settlement)
        self._queue.append((event, settlement))
        if len(self._queue) >= self._batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="keyplane-usage-flusher")

    async def stop(self) -> None:
        """Stop the loop, then write everything still queued (graceful shutdown loses no usage)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _ in range(100):
            if not self._queue:
                break
            try:
                await self.flush()
            except Exception:
                logger.exception("usage flush failed at shutdown; %d events lost", len(self._queue))
                break
        try:
            await self._ledger.release_free()
        except Exception:
            logger.exception("could not hand back spend leases at shutdown (they expire as stale)")
        if self._journal is not None:
            self._journal.close()  # kept when events are left: the next process settles them

    async def _run(self) -> None:
        delay = self._interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            self._wake.clear()
            try:
                while self._queue:
                    await self.flush()
                await self._ledger.release_free()
                if self._journal is not None:
                    self._journal.compact()
                delay = self._interval
            except Exception:
                logger.exception("usage flush failed; %d events kept for retry", len(self._queue))
                delay = min(MAX_RETRY_DELAY_SECONDS, delay * 2)

    async def flush(self) -> int:
        """Write one batch now; on failure the batch goes back to the front of the queue."""
        async with self._flush_lock:
            batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
            if not batch:
                return 0
            events = [event for event, _ in batch]
            settlements = [settlement for _, settlement in batch]
            watched = await self._watched_orgs()  # before the transaction: no lock waits on it
            try:
                async with self._sessions() as session:
                    await write_usage_batch(session, events)
                    await self._ledger.settle_in(session, settlements)
                    await _touch_keys(session, events)
                    await self._queue_alerts(session, batch, watched)
                    await session.commit()
            except BaseException:
                self._ledger.abort(settlements)
                self._queue.extendleft(reversed(batch))
                raise
            self._ledger.after_commit(settlements)
            if self._journal is not None:
                self._journal.committed(settlement.journal_seq for settlement in settlements)
            self.flushed_total += len(batch)
            return len(batch)

    async def _watched_orgs(self) -> frozenset[str]:
        """The orgs with a threshold webhook (cached; empty without alerts or when unreadable)."""
        if self._alerts is None:
            return frozenset()
        try:
            return await self._alerts.watched_orgs()
        except Exception:
            logger.exception("reading which orgs have webhooks failed; this batch's alerts are skipped")
            return frozenset()

    async def _queue_alerts(
        self, session: AsyncSession, batch: Sequence[tuple[UsageEvent, Settlement]], orgs: frozenset[str]
    ) -> None:
        """Threshold webhooks of this batch, in a savepoint: a webhook problem never loses usage."""
        if self._alerts is None or not orgs or not any(event.org_id in orgs for event, _ in batch):
            return
        try:
            changes, debits = spend_changes(batch)
            async with session.begin_nested():
                await self._alerts.after_flush(session, changes, debits, orgs)
        except Exception:
            logger.exception("queueing threshold webhooks failed; this batch's alerts are skipped")


async def _touch_keys(session: AsyncSession, events: Sequence[UsageEvent]) -> None:
    latest: dict[str, UsageEvent] = {}
    for event in events:
        seen = latest.get(event.key_id)
        if seen is None or event.created_at > seen.created_at:
            latest[event.key_id] = event
    for key_id, event in sorted(latest.items()):
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id)
            .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < event.created_at))
            .values(last_used_at=event.created_at)
        )
