"""Spend by tag: tagged records are indexed per tag, a record with two tags counts in both groups, a
tag filter narrows every read (pages, counts, groupings, the CSV), and sums stay exact."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.errors import BadRequest
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage import queries
from keyplane.usage.queries import UsageFilter
from tests.factories import bearer, make_key
from tests.usage.usage_data import event_for, key_of, write_usage

DAY = datetime(2026, 3, 10, tzinfo=UTC)


async def seed(context: AppContext, org: BootstrapResult) -> str:
    """Five records over three days (whole days and partial ones): tags a+b, a, b, none, a."""
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id, name="k"))
    at = DAY + timedelta(hours=6)
    events = [
        replace(event_for(key, at=at, cost_usd=1.0), tags=("team-a", "feature:x")),
        replace(event_for(key, at=at + timedelta(days=1), cost_usd=2.0, model="m/b"), tags=("team-a",)),
        replace(event_for(key, at=at + timedelta(days=1, hours=1), cost_usd=4.0), tags=("feature:x",)),
        event_for(key, at=at + timedelta(days=2), cost_usd=8.0),
        replace(
            event_for(key, at=at + timedelta(days=2, hours=2), cost_usd=16.0, is_byok=True), tags=("team-a",)
        ),
    ]
    await write_usage(context, events)
    return key.hash


def _by(rows: list[dict[str, object]], name: str) -> dict[object, dict[str, object]]:
    return {row[name]: row for row in rows}


async def test_a_record_with_two_tags_counts_in_both_groups_and_sums_are_exact(
    context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org)
    async with context.sessions() as session:
        rows = await queries.grouped_usage(
            session=session, filter=UsageFilter(org_id=org.org_id), group_by="tag"
        )
    groups = _by(rows, "tag")
    assert sorted(groups) == ["feature:x", "team-a"]
    assert (groups["team-a"]["requests"], groups["team-a"]["cost_nanousd"]) == (3, 19 * 10**9)
    assert groups["team-a"]["byok_cost_nanousd"] == 16 * 10**9
    assert (groups["feature:x"]["requests"], groups["feature:x"]["cost_nanousd"]) == (2, 5 * 10**9)
    assert groups["team-a"]["prompt_tokens"] == 30 and groups["team-a"]["total_tokens"] == 45
    assert [row["tag"] for row in rows] == ["team-a", "feature:x"]  # most expensive first


async def test_a_tag_filter_narrows_counts_pages_and_the_rollup_groupings(
    context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org)
    # A range of partial and whole days: without a tag it would read rollups for the middle day.
    tagged = UsageFilter(
        org_id=org.org_id, start=DAY + timedelta(hours=3), end=DAY + timedelta(days=3), tag="team-a"
    )
    async with context.sessions() as session:
        assert await queries.count_usage_records(session=session, filter=tagged) == 3
        records, total = await queries.list_usage_records(
            session=session, filter=tagged, page=1, page_size=10
        )
        by_day = await queries.grouped_usage(session=session, filter=tagged, group_by="day")
        by_model = await queries.grouped_usage(session=session, filter=tagged, group_by="model")
        everything = await queries.grouped_usage(
            session=session, filter=UsageFilter(org_id=org.org_id), group_by="day"
        )
    assert total == 3 and [r.cost_nanousd for r in records] == [16 * 10**9, 2 * 10**9, 10**9]
    assert all("team-a" in (r.tags or []) for r in records)
    assert [(row["day"], row["cost_nanousd"]) for row in by_day] == [
        ("2026-03-10", 10**9),
        ("2026-03-11", 2 * 10**9),
        ("2026-03-12", 16 * 10**9),
    ]
    assert _by(by_model, "model")["m/b"]["requests"] == 1
    assert sum(row["cost_nanousd"] for row in everything) == 31 * 10**9  # untagged reads unchanged


async def test_tag_group_and_filter_combine_over_the_api_and_the_csv_has_a_tags_column(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org)
    headers = bearer(org.management_key)
    grouped = await client.get("/api/v1/usage", params={"group_by": "tag"}, headers=headers)
    assert grouped.status_code == 200, grouped.text
    assert grouped.json()["group_by"] == "tag"
    assert {g["tag"]: g["cost"] for g in grouped.json()["data"]} == {"team-a": 19.0, "feature:x": 5.0}
    # Records carrying feature:x, grouped by every tag they carry.
    both = await client.get("/api/v1/usage", params={"group_by": "tag", "tag": "feature:x"}, headers=headers)
    assert {g["tag"]: g["requests"] for g in both.json()["data"]} == {"feature:x": 2, "team-a": 1}
    page = await client.get("/api/v1/usage", params={"tag": "feature:x"}, headers=headers)
    assert page.json()["pagination"]["total"] == 2
    assert sorted(tuple(r["tags"]) for r in page.json()["data"]) == [("feature:x",), ("team-a", "feature:x")]
    exported = await client.get("/api/v1/usage/export.csv", params={"tag": "team-a"}, headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(row["tags"] for row in rows) == ["team-a", "team-a", "team-a,feature:x"]
    untagged = await client.get("/api/v1/usage/export.csv", headers=headers)
    assert sorted(row["tags"] for row in csv.DictReader(io.StringIO(untagged.text)))[0] == ""


@pytest.mark.parametrize("tag", ["has space", "x" * 65, "a,b", "é"])
async def test_a_malformed_tag_filter_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, tag: str
) -> None:
    response = await client.get("/api/v1/usage", params={"tag": tag}, headers=bearer(org.management_key))
    assert response.status_code == 400, response.text


def test_a_tag_filter_is_checked_by_the_one_tag_rule() -> None:
    with pytest.raises(BadRequest):
        UsageFilter(org_id="o", tag="bad tag").validate()
