"""What several pages share: the usage filter of a signed-in user, dates, paging."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi import Request

from keyplane.context import AppContext
from keyplane.deps import get_context
from keyplane.models.base import utcnow


def today() -> date:
    return utcnow().astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def next_day(day: date) -> date:
    return day + timedelta(days=1)


def context_of(request: Request) -> AppContext:
    return get_context(request)
