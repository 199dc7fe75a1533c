"""GET /api/v1/activity: OpenRouter's daily rows per model and provider, last 30 completed UTC days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openrouter import components

from keyplane.context import AppContext
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.usage.usage_data import event_for, key_of, write_usage


def midday(days_ago: int) -> datetime:
    today = utcnow().date()
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


async def seed(context: AppContext, org: BootstrapResult) -> str:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    await write_usage(
        context,
        [
            event_for(key, at=midday(1), cost_usd=0.5, prompt_tokens=100, completion_tokens=20),
            event_for(key, at=midday(1), cost_usd=0.25, prompt_tokens=50, completion_tokens=10, is_byok=True),
            event_for(key, at=midday(1), cost_usd=1.0, model="anthropic/claude", provider="anthropic"),
            event_for(key, at=midday(30), cost_usd=2.0),
            event_for(key, at=midday(0), cost_usd=9.0),  # today is not a completed day
            event_for(key, at=midday(31), cost_usd=9.0),  # older than 30 days
        ],
    )
    return key.hash


async def test_rows_match_the_spec_and_the_sdk_model(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await seed(context, org)
    response = await client.get("/api/v1/activity", headers=bearer(org.management_key))
    assert response.status_code == 200
    parsed = components.ActivityResponse.model_validate(response.json())
    rows = [
        (i.date_, i.model, i.provider_name, i.usage, i.byok_usage_inference, i.requests) for i in parsed.data
    ]
    assert rows == [
        (midday(1).date().isoformat(), "anthropic/claude", "anthropic", 1.0, 0.0, 1),
        (midday(1).date().isoformat(), "openai/gpt-4o", "openai", 0.5, 0.25, 2),
        (midday(30).date().isoformat(), "openai/gpt-4o", "openai", 2.0, 0.0, 1),
    ]
    first = response.json()["data"][1]
    assert (first["prompt_tokens"], first["completion_tokens"], first["reasoning_tokens"]) == (150, 30, 0)
    assert first["model_permaslug"] == "openai/gpt-4o" and len(first["endpoint_id"]) == 36
    assert "workspace_id" not in first


async def test_date_key_user_and_workspace_filters(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key_hash = await seed(context, org)
    headers = bearer(org.management_key)
    day = midday(30).date().isoformat()
    one_day = (await client.get("/api/v1/activity", params={"date": day}, headers=headers)).json()["data"]
    assert [(r["date"], r["usage"]) for r in one_day] == [(day, 2.0)]
    by_key = await client.get("/api/v1/activity", params={"api_key_hash": key_hash}, headers=headers)
    assert len(by_key.json()["data"]) == 3
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    assert (await client.get("/api/v1/activity", params={"user_id": member}, headers=headers)).json()[
        "data"
    ] == []
    split = await client.get(
        "/api/v1/activity",
        params={"group_by": "workspace", "workspace_id": org.workspace_id},
        headers=headers,
    )
    assert {r["workspace_id"] for r in split.json()["data"]} == {org.workspace_id}


@pytest.mark.parametrize(
    "params",
    [
        {"date": "2025-13-01"},
        {"date": "not-a-date"},
        {"date": "1999-01-01"},
        {"group_by": "model"},
        {"user_id": "u\x00"},
        {"date": "\x00"},
    ],
)
async def test_bad_filters_are_400_in_openrouter_shape(
    client: httpx.AsyncClient, org: BootstrapResult, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/activity", params=params, headers=bearer(org.management_key))
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}


async def test_today_is_refused_as_a_date_filter(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    today = utcnow().date().isoformat()
    response = await client.get(
        "/api/v1/activity", params={"date": today}, headers=bearer(org.management_key)
    )
    assert response.status_code == 400


async def test_another_orgs_key_and_workspace_are_not_found(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key_hash = await seed(context, org)
    other = await make_org(context, name="Other", email="owner@other.test")
    headers = bearer(other.management_key)
    assert (await client.get("/api/v1/activity", headers=headers)).json() == {"data": []}
    assert (
        await client.get("/api/v1/activity", params={"api_key_hash": key_hash}, headers=headers)
    ).status_code == 404
    ws = await client.get("/api/v1/activity", params={"workspace_id": org.workspace_id}, headers=headers)
    assert ws.status_code == 404
