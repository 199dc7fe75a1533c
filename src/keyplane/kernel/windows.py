"""Limit reset windows: UTC midnight boundaries, weeks start on Monday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def window_start(reset: str | None, now: datetime) -> datetime | None:
    """Start of the current window for a reset interval; None means the window never resets."""
    now = now.astimezone(UTC)  # windows follow the UTC calendar whatever zone the instant is in
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if reset == "daily":
        return midnight
    if reset == "weekly":
        return midnight - timedelta(days=midnight.weekday())
    if reset == "monthly":
        return datetime(now.year, now.month, 1, tzinfo=UTC)
    return None


def next_reset(reset: str | None, now: datetime) -> datetime | None:
    """When the current window ends, for messages such as 'resets at ...'."""
    start = window_start(reset, now)
    if start is None:
        return None
    if reset == "daily":
        return start + timedelta(days=1)
    if reset == "weekly":
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def window_start_day(reset: str | None, now: datetime) -> date | None:
    start = window_start(reset, now)
    return start.date() if start else None
