"""Usage queries: rollups for whole days plus raw edges give the same answers as the raw rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keyplane.context import AppContext
from keyplane.errors import BadRequest
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.queries import (
    UsageFilter,
    count_usage_records,
    grouped_usage,
    iter_usage_records,
    list_usage_records,
    split_range,
)
from tests.factories import make_key
from tests.usage.usage_data import event_for, key_of, write_usage

DAY = datetime(2026, 3, 10, tzinfo=UTC)


def test_split_range_uses_rollups_only_for_whole_days() -> None:
    split = split_range(DAY + timedelta(hours=6), DAY + timedelta(days=3, hours=2))
    assert split.whole_days == ((DAY + timedelta(days=1)).date(), (DAY + timedelta(days=3)).date())
    assert split.edges == (
        (DAY + timedelta(hours=6), DAY + timedelta(days=1)),
        (DAY + timedelta(days=3), DAY + timedelta(days=3, hours=2)),
    )
    assert split_range(DAY, DAY + timedelta(days=2)).edges == ()
    inside = split_range(DAY + timedelta(hours=1), DAY + timedelta(hours=2))
    assert inside.whole_days is None and len(inside.edges) == 1
    assert split_range(None, None).whole_days == (None, None)


async def seed(context: AppContext, org: BootstrapResult) -> tuple[str, str]:
    """Two keys; 5 requests spread over three days at various hours, two models."""
    first = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id, name="a"))
    second = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id, name="b"))
    await write_usage(
        context,
        [
            event_for(first, at=DAY + timedelta(hours=1), cost_usd=1.0),
            event_for(first, at=DAY + timedelta(hours=23), cost_usd=2.0, model="anthropic/claude"),
            event_for(second, at=DAY + timedelta(days=1, hours=12), cost_usd=4.0),
            event_for(first, at=DAY + timedelta(days=2, hours=3), cost_usd=8.0, is_byok=True),
            event_for(second, at=DAY + timedelta(days=2, hours=20), cost_usd=16.0, model="anthropic/claude"),
        ],
    )
    return first.id, second.id


@pytest.mark.parametrize(
    ("start_h", "end_h", "expected"),
    [
        (None, None, 5),
        (0, 72, 5),
        (2, 68, 3),
        (2, 22, 0),
        (1, 1 + 48 + 2, 3),
        (23, 24, 1),
        (36, None, 3),
        (None, 30, 2),
        (24, 48, 1),
        (24, 30, 0),
        (12, 48, 2),
    ],
)
async def test_count_matches_the_raw_rows_for_any_range(
    context: AppContext, org: BootstrapResult, start_h: int | None, end_h: int | None, expected: int
) -> None:
    await seed(context, org)
    start = None if start_h is None else DAY + timedelta(hours=start_h)
    end = None if end_h is None else DAY + timedelta(hours=end_h)
    usage_filter = UsageFilter(org_id=org.org_id, start=start, end=end)
    async with context.sessions() as session:
        assert await count_usage_records(session=session, filter=usage_filter) == expected
        records, total = await list_usage_records(session=session, filter=usage_filter, page=1, page_size=100)
    assert total == expected == len(records)


async def test_grouping_by_day_model_and_key_across_partial_days(
    context: AppContext, org: BootstrapResult
) -> None:
    first, second = await seed(context, org)
    usage_filter = UsageFilter(
        org_id=org.org_id, start=DAY + timedelta(hours=12), end=DAY + timedelta(days=2, hours=6)
    )
    async with context.sessions() as session:
        by_day = await grouped_usage(session=session, filter=usage_filter, group_by="day")
        by_model = await grouped_usage(session=session, filter=usage_filter, group_by="model")
        by_key = await grouped_usage(session=session, filter=usage_filter, group_by="key")
    assert [(r["day"], r["requests"], r["cost_nanousd"]) for r in by_day] == [
        ("2026-03-10", 1, 2_000_000_000),
        ("2026-03-11", 1, 4_000_000_000),
        ("2026-03-12", 1, 8_000_000_000),
    ]
    assert [(r["model"], r["requests"]) for r in by_model] == [("openai/gpt-4o", 2), ("anthropic/claude", 1)]
    assert [(r["key_id"], r["key_name"], r["cost_nanousd"], r["byok_cost_nanousd"]) for r in by_key] == [
        (first, "a", 10_000_000_000, 8_000_000_000),
        (second, "b", 4_000_000_000, 0),
    ]
    assert by_day[0]["total_tokens"] == 15


async def test_pages_are_newest_first_and_filters_combine(context: AppContext, org: BootstrapResult) -> None:
    first, _second = await seed(context, org)
    async with context.sessions() as session:
        page1, total = await list_usage_records(
            session=session, filter=UsageFilter(org_id=org.org_id, key_id=first), page=1, page_size=2
        )
        page2, _ = await list_usage_records(
            session=session, filter=UsageFilter(org_id=org.org_id, key_id=first), page=2, page_size=2
        )
        claude, claude_total = await list_usage_records(
            session=session,
            filter=UsageFilter(org_id=org.org_id, key_id=first, model="anthropic/claude"),
            page=1,
            page_size=10,
        )
    assert total == 3
    assert [r.cost_nanousd for r in page1 + page2] == [8_000_000_000, 2_000_000_000, 1_000_000_000]
    assert claude_total == 1 and claude[0].cost_nanousd == 2_000_000_000


@pytest.mark.parametrize(("page", "page_size"), [(0, 10), (1, 0), (1, 1001), (1, 10**6), (10**6, 1000)])
async def test_bad_pages_are_refused(
    context: AppContext, org: BootstrapResult, page: int, page_size: int
) -> None:
    async with context.sessions() as session:
        with pytest.raises(BadRequest):
            await list_usage_records(
                session=session, filter=UsageFilter(org_id=org.org_id), page=page, page_size=page_size
            )


async def test_inverted_range_is_refused(context: AppContext, org: BootstrapResult) -> None:
    usage_filter = UsageFilter(org_id=org.org_id, start=DAY, end=DAY - timedelta(seconds=1))
    async with context.sessions() as session:
        with pytest.raises(BadRequest):
            await grouped_usage(session=session, filter=usage_filter, group_by="day")


async def test_export_iteration_pages_by_keyset_through_equal_timestamps(
    context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    same = DAY + timedelta(hours=5)
    await write_usage(
        context,
        [event_for(key, at=same, cost_usd=0.001 * i) for i in range(1, 6)]
        + [event_for(key, at=DAY + timedelta(hours=h), cost_usd=1.0 * h) for h in (1, 9)],
    )
    async with context.sessions() as session:
        seen = [
            r.id
            async for r in iter_usage_records(
                session=session, filter=UsageFilter(org_id=org.org_id), batch_size=2
            )
        ]
        expected, _total = await list_usage_records(
            session=session, filter=UsageFilter(org_id=org.org_id), page=1, page_size=100
        )
    assert seen == [r.id for r in expected] and len(seen) == 7
