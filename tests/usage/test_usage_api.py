"""GET /api/v1/usage and /api/v1/usage/export.csv over HTTP: filters, visibility, bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.usage.usage_data import event_for, key_of, write_usage

DAY = datetime(2026, 3, 10, tzinfo=UTC)


async def seed(context: AppContext, org: BootstrapResult) -> tuple[str, str, str]:
    """The owner's key (3 requests) and a member's key (1 request); returns both hashes and the member."""
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    mine = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id, name="mine"))
    theirs = await key_of(
        context, await make_key(context, org_id=org.org_id, user_id=member, role="member", name="theirs")
    )
    await write_usage(
        context,
        [
            event_for(mine, at=DAY + timedelta(hours=1), cost_usd=1.0),
            event_for(mine, at=DAY + timedelta(days=1, hours=1), cost_usd=2.0, model="m/b"),
            event_for(mine, at=DAY + timedelta(days=2, hours=1), cost_usd=3.0),
            event_for(theirs, at=DAY + timedelta(hours=5), cost_usd=4.0),
        ],
    )
    return mine.hash, theirs.hash, member


async def test_page_lists_records_with_key_hash_and_total(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine, _theirs, _member = await seed(context, org)
    response = await client.get(
        "/api/v1/usage", params={"key_hash": mine, "page_size": 2}, headers=bearer(org.management_key)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "page_size": 2, "total": 3, "has_more": True}
    assert [(r["cost"], r["key_hash"]) for r in body["data"]] == [(3.0, mine), (2.0, mine)]
    assert body["data"][0]["created_at"] == "2026-03-12T01:00:00.000Z"


async def test_time_range_model_and_grouping(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org)
    headers = bearer(org.management_key)
    params = {"start": "2026-03-10T03:00:00Z", "end": "2026-03-12", "group_by": "day"}
    by_day = (await client.get("/api/v1/usage", params=params, headers=headers)).json()
    assert by_day["group_by"] == "day"
    assert [(r["day"], r["requests"], r["cost"]) for r in by_day["data"]] == [
        ("2026-03-10", 1, 4.0),
        ("2026-03-11", 1, 2.0),
    ]
    by_model = await client.get(
        "/api/v1/usage", params={"group_by": "model", "model": "m/b"}, headers=headers
    )
    assert [(r["model"], r["requests"]) for r in by_model.json()["data"]] == [("m/b", 1)]
    by_key = (await client.get("/api/v1/usage", params={"group_by": "key"}, headers=headers)).json()["data"]
    assert [(r["key_name"], r["cost"]) for r in by_key] == [("mine", 6.0), ("theirs", 4.0)]
    assert "key_id" not in by_key[0]


async def test_a_member_sees_only_their_own_usage(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine, theirs, member = await seed(context, org)
    member_mgmt = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    headers = bearer(member_mgmt)
    listed = (await client.get("/api/v1/usage", headers=headers)).json()
    assert [r["key_hash"] for r in listed["data"]] == [theirs]
    assert (await client.get("/api/v1/usage", params={"key_hash": mine}, headers=headers)).status_code == 404
    other_user = await client.get("/api/v1/usage", params={"user_id": org.user_id}, headers=headers)
    assert other_user.status_code == 403


async def test_user_reach_key_of_an_admin_sees_only_its_creators_usage(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine, _theirs, _member = await seed(context, org)
    user_reach = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", reach="user"
    )
    listed = (await client.get("/api/v1/usage", headers=bearer(user_reach))).json()
    assert {r["key_hash"] for r in listed["data"]} == {mine}


async def test_csv_export_streams_every_matching_record(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine, _theirs, _member = await seed(context, org)
    response = await client.get(
        "/api/v1/usage/export.csv", params={"key_hash": mine}, headers=bearer(org.management_key)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["key_hash"], r["cost"], r["model"]) for r in rows] == [
        (mine, "3.0", "openai/gpt-4o"),
        (mine, "2.0", "m/b"),
        (mine, "1.0", "openai/gpt-4o"),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-03-12", "end": "2026-03-10"},
        {"start": "2026-03-12", "end": "2026-03-12"},
        {"page": "0"},
        {"page_size": "1000000"},
        {"page_size": "0"},
        {"page": "abc"},
        {"start": "yesterday"},
        {"group_by": "hour"},
        {"page": "1000", "page_size": "1000"},
        {"model": "gpt\x00"},
        {"user_id": "\x00"},
        {"workspace_id": "w\x00"},
        {"start": "9999-12-31T12:00:00Z"},
        {"end": "0001-01-01T00:30:00"},
        {"start": "2026-01-01T00:00:00+25:00"},
    ],
)
async def test_bad_query_is_a_clear_400(
    client: httpx.AsyncClient, org: BootstrapResult, params: dict[str, str]
) -> None:
    for path in ("/api/v1/usage", "/api/v1/usage/export.csv"):
        if path.endswith("csv") and ("page" in params or "page_size" in params or "group_by" in params):
            continue
        response = await client.get(path, params=params, headers=bearer(org.management_key))
        assert response.status_code == 400, (path, params, response.text)
        error = response.json()["error"]
        assert error["code"] == 400 and error["message"]


async def test_another_orgs_key_and_workspace_are_not_found(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine, _theirs, _member = await seed(context, org)
    other = await make_org(context, name="Other", email="owner@other.test")
    headers = bearer(other.management_key)
    assert (await client.get("/api/v1/usage", params={"key_hash": mine}, headers=headers)).status_code == 404
    ws = await client.get("/api/v1/usage", params={"workspace_id": org.workspace_id}, headers=headers)
    assert ws.status_code == 404
    assert (await client.get("/api/v1/usage", headers=headers)).json()["data"] == []


async def test_usage_needs_the_usage_read_scope(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    scoped = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["keys:read"]
    )
    assert (await client.get("/api/v1/usage", headers=bearer(scoped))).status_code == 403
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    assert (await client.get("/api/v1/usage", headers=bearer(inference))).status_code == 403


async def test_cache_reads_and_writes_are_columns_of_records_groups_and_the_csv(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    mine = await key_of(
        context, await make_key(context, org_id=org.org_id, user_id=org.user_id, name="cache")
    )
    event = event_for(mine, at=DAY + timedelta(hours=1), prompt_tokens=1000)
    event.cached_tokens, event.cache_write_tokens = 600, 300
    await write_usage(context, [event, event_for(mine, at=DAY + timedelta(hours=2))])
    headers = bearer(org.management_key)
    listed = (await client.get("/api/v1/usage", params={"key_hash": mine.hash}, headers=headers)).json()
    assert sorted((r["cached_tokens"], r["cache_write_tokens"]) for r in listed["data"]) == [
        (0, 0),
        (600, 300),
    ]
    grouped = (await client.get("/api/v1/usage", params={"group_by": "model"}, headers=headers)).json()
    assert [(r["cached_tokens"], r["cache_write_tokens"]) for r in grouped["data"]] == [(600, 300)]
    exported = await client.get("/api/v1/usage/export.csv", params={"key_hash": mine.hash}, headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["prompt_tokens"], r["cached_tokens"], r["cache_write_tokens"]) for r in rows] == [
        ("10", "0", "0"),
        ("1000", "600", "300"),
    ]
