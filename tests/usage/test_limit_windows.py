"""Limit windows: UTC midnight boundaries, weeks from Monday, months rolling over (December too)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from keyplane.kernel.windows import next_reset, window_start, window_start_day


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_daily_window_starts_at_utc_midnight() -> None:
    assert window_start("daily", utc(2026, 3, 10, 23, 59, 59)) == utc(2026, 3, 10)


def test_a_daily_window_ends_at_the_next_utc_midnight() -> None:
    assert next_reset("daily", utc(2026, 3, 10, 0, 0, 0)) == utc(2026, 3, 11)


def test_one_microsecond_before_midnight_is_still_the_old_day() -> None:
    assert window_start("daily", utc(2026, 3, 10) - timedelta(microseconds=1)) == utc(2026, 3, 9)


@pytest.mark.parametrize("day", range(16, 23))  # Monday 16 .. Sunday 22 March 2026
def test_every_day_of_a_week_belongs_to_the_week_starting_monday(day: int) -> None:
    assert window_start("weekly", utc(2026, 3, day, 15)) == utc(2026, 3, 16)


def test_a_weekly_window_resets_on_the_next_monday() -> None:
    assert next_reset("weekly", utc(2026, 3, 22, 23, 59)) == utc(2026, 3, 23)


def test_a_week_can_start_in_the_previous_month_and_year() -> None:
    assert window_start("weekly", utc(2027, 1, 1)) == utc(2026, 12, 28)


def test_a_monthly_window_starts_on_the_first() -> None:
    assert window_start("monthly", utc(2026, 2, 28, 23)) == utc(2026, 2, 1)


def test_a_monthly_window_rolls_over_to_the_next_month() -> None:
    assert next_reset("monthly", utc(2026, 1, 31, 12)) == utc(2026, 2, 1)


def test_december_rolls_over_to_january_of_the_next_year() -> None:
    assert next_reset("monthly", utc(2026, 12, 31, 23, 59, 59)) == utc(2027, 1, 1)


def test_a_leap_day_is_in_februarys_window() -> None:
    assert (window_start("monthly", utc(2028, 2, 29)), next_reset("monthly", utc(2028, 2, 29))) == (
        utc(2028, 2, 1),
        utc(2028, 3, 1),
    )


def test_no_reset_has_no_window() -> None:
    assert (window_start(None, utc(2026, 3, 10)), next_reset(None, utc(2026, 3, 10))) == (None, None)


def test_a_non_utc_instant_is_windowed_by_its_utc_date() -> None:
    # 01:30 at +02:00 on the 11th is 23:30 UTC on the 10th
    now = datetime(2026, 3, 11, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (window_start("daily", now), window_start("monthly", now.replace(day=1))) == (
        utc(2026, 3, 10),
        utc(2026, 2, 1),
    )


def test_window_start_day_is_the_date_of_the_window_start() -> None:
    assert window_start_day("weekly", utc(2026, 3, 19, 8)) == date(2026, 3, 16)
