"""Per-key spend for the current day, week, month and all time, read from the daily rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kernel.windows import window_start_day
from keyplane.models import ApiKey, UsageRollup
from keyplane.usage.repository import UsageRollupRepository


@dataclass(slots=True)
class SpendTotals:
    """nano-USD spent by a key in each window."""

    total: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    def for_reset(self, reset: str | None) -> int:
        return {"daily": self.daily, "weekly": self.weekly, "monthly": self.monthly}.get(
            reset or "", self.total
        )


@dataclass(slots=True)
class KeyUsage:
    platform: SpendTotals
    byok: SpendTotals

    def window_spend(self, reset: str | None, *, include_byok: bool) -> int:
        spent = self.platform.for_reset(reset)
        return spent + self.byok.for_reset(reset) if include_byok else spent


def empty_usage() -> KeyUsage:
    return KeyUsage(platform=SpendTotals(), byok=SpendTotals())


async def usage_for_keys(session: AsyncSession, keys: Sequence[ApiKey], now: datetime) -> dict[str, KeyUsage]:
    """One grouped query over the rollups for all the given keys (of one org)."""
    ids = [key.id for key in keys]
    result = {key_id: empty_usage() for key_id in ids}
    if not ids:
        return result
    (org_id,) = {key.org_id for key in keys}
    day_start, week_start, month_start = (
        window_start_day("daily", now),
        window_start_day("weekly", now),
        window_start_day("monthly", now),
    )
    cost = UsageRollup.cost_nanousd
    query = (
        UsageRollupRepository(session, org_id)
        .select_columns(
            UsageRollup.key_id,
            UsageRollup.is_byok,
            func.coalesce(func.sum(cost), 0),
            func.coalesce(func.sum(case((UsageRollup.day >= day_start, cost), else_=0)), 0),
            func.coalesce(func.sum(case((UsageRollup.day >= week_start, cost), else_=0)), 0),
            func.coalesce(func.sum(case((UsageRollup.day >= month_start, cost), else_=0)), 0),
        )
        .where(UsageRollup.key_id.in_(ids))
        .group_by(UsageRollup.key_id, UsageRollup.is_byok)
    )
    for key_id, is_byok, total, daily, weekly, monthly in (await session.execute(query)).all():
        totals = SpendTotals(int(total), int(daily), int(weekly), int(monthly))
        if is_byok:
            result[key_id].byok = totals
        else:
            result[key_id].platform = totals
    return result
