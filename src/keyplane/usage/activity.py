"""OpenRouter's activity view: per completed UTC day, model and provider, from the daily rollups."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest
from keyplane.kernel.money import nanos_to_usd
from keyplane.models import UsageRollup
from keyplane.usage.queries import UsageFilter
from keyplane.usage.repository import UsageRollupRepository

ACTIVITY_DAYS = 30
_ENDPOINT_NAMESPACE = uuid.UUID("6f2b9a4e-3c1d-4e8f-9a7b-5d0c2e1f4a3b")


def activity_window(today: date) -> tuple[date, date]:
    """[first, end) covering the last 30 completed UTC days: today is still running, so excluded."""
    return today - timedelta(days=ACTIVITY_DAYS), today


def parse_activity_date(value: str, today: date) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest("date must be a UTC date in YYYY-MM-DD format", code="invalid_date") from None
    first, end = activity_window(today)
    if not first <= day < end:
        raise BadRequest(
            f"date must be one of the last {ACTIVITY_DAYS} completed UTC days "
            f"({first.isoformat()} to {(end - timedelta(days=1)).isoformat()})",
            code="invalid_date",
        )
    return day


def endpoint_id(provider: str, model: str) -> str:
    """A stable id per (provider, model), standing in for OpenRouter's endpoint id."""
    return str(uuid.uuid5(_ENDPOINT_NAMESPACE, f"{provider}\n{model}"))


async def activity_rows(
    *,
    session: AsyncSession,
    filter: UsageFilter,
    now: datetime,
    day: date | None = None,
    by_workspace: bool = False,
) -> list[dict[str, Any]]:
    """Rows in OpenRouter's ActivityItem shape, newest day first; filter.start/end are ignored."""
    first, end = (day, day + timedelta(days=1)) if day is not None else activity_window(now.date())
    cost = UsageRollup.cost_nanousd
    columns: list[Any] = [UsageRollup.day, UsageRollup.model, UsageRollup.provider]
    if by_workspace:
        columns.append(UsageRollup.workspace_id)
    rollups = UsageRollupRepository(session, filter.org_id)
    sums = rollups.select_columns(
        *columns,
        func.coalesce(func.sum(case((UsageRollup.is_byok.is_(False), cost), else_=0)), 0),
        func.coalesce(func.sum(case((UsageRollup.is_byok.is_(True), cost), else_=0)), 0),
        func.coalesce(func.sum(UsageRollup.requests), 0),
        func.coalesce(func.sum(UsageRollup.prompt_tokens), 0),
        func.coalesce(func.sum(UsageRollup.completion_tokens), 0),
        func.coalesce(func.sum(UsageRollup.cached_tokens), 0),
    )
    query = (
        rollups.matching(sums, filter)
        .where(UsageRollup.day >= first, UsageRollup.day < end)
        .group_by(*columns)
    )
    rows = []
    for row in (await session.execute(query)).all():
        row_day, model, provider = row[0], row[1], row[2]
        platform, byok, requests, prompt, completion, cached = row[-6:]
        item: dict[str, Any] = {
            "date": row_day.isoformat() if isinstance(row_day, date) else str(row_day),
            "model": model,
            "model_permaslug": model,
            "endpoint_id": endpoint_id(provider, model),
            "provider_name": provider or "unknown",
            "usage": nanos_to_usd(int(platform)),
            "byok_usage_inference": nanos_to_usd(int(byok)),
            "requests": int(requests),
            "prompt_tokens": int(prompt),
            "completion_tokens": int(completion),
            "reasoning_tokens": 0,
            "cached_tokens": int(cached),
        }
        if by_workspace:
            item["workspace_id"] = row[3]
        rows.append(item)
    rows.sort(key=lambda r: -(r["usage"] + r["byok_usage_inference"]))
    rows.sort(key=lambda r: r["date"], reverse=True)  # stable: most expensive first within a day
    return rows
