"""Fold the gateway's per-batch usage debits into one ledger entry per org and run, keeping sums exact.

The usage writer appends one debit per org per flush (up to two a second per instance), and every
balance is a SUM over the org's entries, including the gateway's balance reservation. Without
compaction a busy org gathers millions of entries a month and each balance read slows to seconds;
with it the ledger grows by one entry per org per run. Deletion and the replacing insert share a
transaction, so every reader sees the same sum before and after, and concurrent compactors (several
instances) can never count an entry twice: an entry's amount is re-inserted only by the transaction
whose DELETE removed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import LedgerEntry, Organization
from keyplane.models.base import utcnow

logger = logging.getLogger("keyplane.billing")

GATEWAY_ACTOR = "gateway"
COMPACTOR_ACTOR = "ledger-compactor"
COMPACTION_INTERVAL_SECONDS = 600.0
# Only entries older than this are folded: far longer than any usage flush transaction runs.
COMPACTION_LAG = timedelta(minutes=5)


async def compact_usage_debits(*, session: AsyncSession, org_id: str, before: datetime) -> int:
    """Replace the org's gateway usage debits created before `before` by one entry; returns how many."""
    removed = (
        await session.execute(
            delete(LedgerEntry)
            .where(
                LedgerEntry.org_id == org_id,
                LedgerEntry.kind == "usage",
                LedgerEntry.actor == GATEWAY_ACTOR,
                LedgerEntry.created_at < before,
            )
            .returning(LedgerEntry.amount_nanousd, LedgerEntry.created_at)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not removed:
        return 0
    latest = max(created_at for _amount, created_at in removed)
    session.add(
        LedgerEntry(
            org_id=org_id,
            user_id=None,
            amount_nanousd=sum(int(amount) for amount, _created in removed),
            kind="usage",
            note=f"gateway usage: {len(removed)} batches up to {latest.isoformat()}",
            actor=COMPACTOR_ACTOR,
            created_at=latest,
        )
    )
    await session.flush()
    return len(removed)


async def compact_all(context: AppContext, *, now: datetime | None = None) -> int:
    """One pass over every org, one short transaction per org."""
    before = (now or utcnow()) - COMPACTION_LAG
    async with context.sessions() as session:
        org_ids = list((await session.execute(select(Organization.id))).scalars())
    removed = 0
    for org_id in org_ids:
        async with session_scope(context.sessions) as session:
            removed += await compact_usage_debits(session=session, org_id=org_id, before=before)
    return removed


async def _run(context: AppContext) -> None:
    while True:
        await asyncio.sleep(COMPACTION_INTERVAL_SECONDS)
        try:
            removed = await compact_all(context)
            if removed:
                logger.info("folded %d gateway usage debits into the ledger", removed)
        except Exception:
            logger.exception("ledger compaction failed")


async def start_ledger_compactor(context: AppContext, stack: AsyncExitStack) -> None:
    """Lifespan hook: compact the ledger every few minutes in the background."""
    task = asyncio.create_task(_run(context))

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
