"""Ledger compaction folds gateway usage debits into one entry without changing any sum."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from keyplane.billing.compaction import COMPACTION_LAG, compact_all, compact_usage_debits
from keyplane.billing.ledger import add_credit, balance_nanos, total_credits_and_usage
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM
from keyplane.models import LedgerEntry
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import make_key, make_org
from tests.usage.usage_data import event_for, key_of, write_usage


async def entry_count(context: AppContext, org_id: str) -> int:
    async with context.sessions() as session:
        query = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.org_id == org_id)
        return int((await session.execute(query)).scalar_one())


async def sums(context: AppContext, org_id: str) -> tuple[int, tuple[int, int]]:
    async with context.sessions() as session:
        return (
            await balance_nanos(session=session, org_id=org_id),
            await total_credits_and_usage(session=session, org_id=org_id),
        )


async def seed(context: AppContext, org: BootstrapResult, batches: int = 5) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    async with session_scope(context.sessions) as session:
        await add_credit(session=session, principal=SYSTEM, org_id=org.org_id, amount_nanos=10**10)
    for i in range(batches):
        await write_usage(context, [event_for(key, at=utcnow(), cost_usd=0.01 * (i + 1))])


async def test_compaction_keeps_balance_and_totals(context: AppContext, org: BootstrapResult) -> None:
    await seed(context, org)
    before = await sums(context, org.org_id)
    assert await entry_count(context, org.org_id) == 6
    async with session_scope(context.sessions) as session:
        removed = await compact_usage_debits(
            session=session, org_id=org.org_id, before=utcnow() + timedelta(seconds=1)
        )
    assert removed == 5
    assert await entry_count(context, org.org_id) == 2  # the credit and one folded debit
    assert await sums(context, org.org_id) == before


async def test_recent_debits_and_credits_stay_and_reruns_fold_only_new_ones(
    context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org, batches=3)
    async with session_scope(context.sessions) as session:
        assert (
            await compact_usage_debits(
                session=session, org_id=org.org_id, before=utcnow() - timedelta(hours=1)
            )
            == 0
        )
        assert (
            await compact_usage_debits(
                session=session, org_id=org.org_id, before=utcnow() + timedelta(seconds=1)
            )
            == 3
        )
        assert (
            await compact_usage_debits(
                session=session, org_id=org.org_id, before=utcnow() + timedelta(seconds=1)
            )
            == 0
        )
    await seed(context, org, batches=2)
    before = await sums(context, org.org_id)
    async with session_scope(context.sessions) as session:
        assert (
            await compact_usage_debits(
                session=session, org_id=org.org_id, before=utcnow() + timedelta(seconds=1)
            )
            == 2
        )
    assert await sums(context, org.org_id) == before
    assert await entry_count(context, org.org_id) == 4  # two credits, two folded debits


async def test_concurrent_compactors_never_double_count(context: AppContext, org: BootstrapResult) -> None:
    await seed(context, org, batches=8)
    before = await sums(context, org.org_id)
    cutoff = utcnow() + timedelta(seconds=1)

    async def compact() -> int:
        async with session_scope(context.sessions) as session:
            return await compact_usage_debits(session=session, org_id=org.org_id, before=cutoff)

    removed = await asyncio.gather(compact(), compact())
    assert sorted(removed) == [0, 8]
    assert await sums(context, org.org_id) == before
    assert await entry_count(context, org.org_id) == 2


async def test_compact_all_covers_every_org_and_respects_the_lag(
    context: AppContext, org: BootstrapResult
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    await seed(context, org, batches=2)
    await seed(context, other, batches=3)
    assert await compact_all(context) == 0  # younger than the lag
    assert await compact_all(context, now=utcnow() + COMPACTION_LAG + timedelta(seconds=1)) == 5
    assert (await entry_count(context, org.org_id), await entry_count(context, other.org_id)) == (2, 2)


def test_every_server_runs_the_compactor() -> None:
    from keyplane.app import LIFESPAN_HOOKS
    from keyplane.billing.compaction import start_ledger_compactor

    assert start_ledger_compactor in LIFESPAN_HOOKS
