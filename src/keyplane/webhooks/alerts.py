"""Threshold alerts from a usage flush: which key limits, budgets and balances it pushed past 80/95/100 %.

Runs inside the flush's transaction, after the spend counters were charged: on PostgreSQL the
charged counter rows (and, for balances, the org row locked here) are held until commit, so two
instances' flushes see consecutive before/after amounts and each crossing once. The outbox's
unique constraint settles any remaining overlap. Only orgs with a subscribed endpoint cost a query.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.billing.ledger import LedgerRepository, total_credits_and_usage
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import LedgerEntry, Organization, SpendCounter
from keyplane.webhooks.outbox import enqueue_crossings
from keyplane.webhooks.repository import WebhookEndpointRepository
from keyplane.webhooks.schemas import BUDGET_THRESHOLD
from keyplane.webhooks.subscriptions import Subscribers
from keyplane.webhooks.thresholds import NEVER_RESETS, Crossing, SpendChange, crossed

logger = logging.getLogger("keyplane.webhooks")
COUNTERS_PER_QUERY = 500


class ThresholdAlerts:
    """Per process: the subscriber cache and the step the usage flusher calls once per batch."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], subscribers: Subscribers | None = None
    ) -> None:
        self._sessions = sessions
        self.subscribers = subscribers or Subscribers()

    async def watched_orgs(self) -> frozenset[str]:
        """The orgs with an endpoint for threshold events (cached): the flusher skips the others."""
        return await self.subscribers.orgs(self._sessions, BUDGET_THRESHOLD)

    async def after_flush(
        self,
        session: AsyncSession,
        changes: Sequence[SpendChange],
        platform_debits: Mapping[str, int],
        orgs: frozenset[str],
    ) -> int:
        """Queue a delivery for every threshold this batch crossed in `orgs`; returns how many."""
        watched = [c for c in changes if c.org_id in orgs and c.added_nanos > 0]
        crossings = await _limit_crossings(session, watched)
        for org_id in sorted(org for org, debit in platform_debits.items() if debit > 0 and org in orgs):
            crossings.extend(await _balance_crossings(session, org_id, platform_debits[org_id]))
        if not crossings:
            return 0
        crossings = await _public_ids(session, crossings)
        queued = 0
        for org_id in sorted({c.org_id for c in crossings}):
            endpoints = await WebhookEndpointRepository(session, org_id).subscribed(BUDGET_THRESHOLD)
            queued += await enqueue_crossings(
                session, [c for c in crossings if c.org_id == org_id], endpoints
            )
        return queued


async def _charged_counters(
    session: AsyncSession, changes: Sequence[SpendChange]
) -> dict[tuple[str, datetime], int]:
    """Spent now on each changed counter (charged in this transaction), a query per 500 counters."""
    spent: dict[tuple[str, datetime], int] = {}
    names = sorted({change.counter for change in changes})
    windows = sorted({change.window_start for change in changes})  # a few: today, this week, ...
    for start in range(0, len(names), COUNTERS_PER_QUERY):
        query = select(SpendCounter.subject, SpendCounter.window_start, SpendCounter.spent_nanousd).where(
            SpendCounter.subject.in_(names[start : start + COUNTERS_PER_QUERY]),
            SpendCounter.window_start.in_(windows),
        )
        for subject, window, amount in (await session.execute(query)).all():
            spent[(subject, window)] = int(amount)
    return spent


async def _limit_crossings(session: AsyncSession, changes: Sequence[SpendChange]) -> list[Crossing]:
    """Each counter's spent now is `after`; less what this batch added, `before`."""
    if not changes:
        return []
    spent = await _charged_counters(session, changes)
    found: list[Crossing] = []
    for change in changes:
        after = spent.get((change.counter, change.window_start))
        if after is None:
            continue
        found.extend(
            Crossing(
                org_id=change.org_id,
                subject=change.subject,
                subject_key=f"{change.subject}:{change.subject_id}",
                subject_id=change.subject_id,
                threshold=threshold,
                usage_nanos=after,
                limit_nanos=change.limit_nanos,
                window_start=change.window_start,
            )
            for threshold in crossed(after - change.added_nanos, after, change.limit_nanos)
        )
    return found


async def _balance_crossings(session: AsyncSession, org_id: str, debit: int) -> list[Crossing]:
    """The org's usage against its credits since its latest top-up (a top-up opens a new window)."""
    # Serialize the balance reads of concurrent flushes for this org (a no-op UPDATE locks the row).
    await session.execute(
        update(Organization).where(Organization.id == org_id).values(updated_at=Organization.updated_at)
    )
    credits, usage = await total_credits_and_usage(session=session, org_id=org_id)
    ledger = LedgerRepository(session, org_id)
    latest = await ledger.scalar(
        ledger.select_columns(func.max(LedgerEntry.created_at)).where(LedgerEntry.amount_nanousd > 0)
    )
    window: datetime = latest if isinstance(latest, datetime) else NEVER_RESETS
    return [
        Crossing(
            org_id=org_id,
            subject="balance",
            subject_key=f"balance:{org_id}",
            subject_id=org_id,
            threshold=threshold,
            usage_nanos=usage,
            limit_nanos=credits,
            window_start=window,
        )
        for threshold in crossed(usage - debit, usage, credits)
    ]


async def _public_ids(session: AsyncSession, crossings: list[Crossing]) -> list[Crossing]:
    """Keys are named by their hash in payloads (their id is internal)."""
    out: list[Crossing] = []
    names: dict[str, tuple[str, str]] = {}
    for org_id in sorted({c.org_id for c in crossings if c.subject == "key"}):
        ids = [c.subject_id for c in crossings if c.subject == "key" and c.org_id == org_id]
        names.update(await ApiKeyRepository(session, org_id).names_by_id(ids))
    for crossing in crossings:
        if crossing.subject == "key" and crossing.subject_id in names:
            crossing = dataclasses.replace(crossing, subject_id=names[crossing.subject_id][0])
        out.append(crossing)
    return out
