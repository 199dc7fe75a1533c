"""Usage and limit_remaining on key objects, computed from usage written by the real batch writer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key
from tests.usage.usage_data import event_for, key_of, write_usage

# Distinct powers of two: every window's sum names exactly the rows it counted.
DAYS_AGO_AND_COST = [(0, 1.0), (1, 2.0), (6, 4.0), (8, 8.0), (40, 16.0)]
BYOK_TODAY = 64.0


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def _expected(today: date) -> dict[str, float]:
    """The windows by calendar arithmetic independent of keyplane.kernel.windows."""
    days = [(today - timedelta(days=ago), cost) for ago, cost in DAYS_AGO_AND_COST]
    return {
        "usage": sum(cost for _, cost in days),
        "usage_daily": sum(cost for day, cost in days if day == today),
        "usage_weekly": sum(cost for day, cost in days if day.isocalendar()[:2] == today.isocalendar()[:2]),
        "usage_monthly": sum(
            cost for day, cost in days if (day.year, day.month) == (today.year, today.month)
        ),
    }


async def _key_with_usage(
    context: AppContext, org: BootstrapResult, *, limit: float, reset: str | None
) -> tuple[str, date]:
    plaintext = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, limit_usd=limit, limit_reset=reset
    )
    key = await key_of(context, plaintext)
    now = utcnow()
    today = now.date()
    events = [
        event_for(key, at=now if ago == 0 else _at(today - timedelta(days=ago)), cost_usd=cost)
        for ago, cost in DAYS_AGO_AND_COST
    ]
    events.append(event_for(key, at=now, cost_usd=BYOK_TODAY, is_byok=True))
    await write_usage(context, events)
    return plaintext, today


async def _key_object(client: httpx.AsyncClient, org: BootstrapResult, plaintext: str) -> dict[str, object]:
    current = (await client.get("/api/v1/key", headers=bearer(plaintext))).json()["data"]
    response = await client.get(f"/api/v1/keys/{current['hash']}", headers=bearer(org.management_key))
    data: dict[str, object] = response.json()["data"]
    return data


async def test_usage_fields_follow_the_utc_day_monday_week_and_calendar_month(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext, today = await _key_with_usage(context, org, limit=100, reset="monthly")
    data = await _key_object(client, org, plaintext)
    expected = _expected(today)
    assert {name: data[name] for name in expected} == pytest.approx(expected)


async def test_byok_usage_is_reported_apart_from_platform_usage(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext, _today = await _key_with_usage(context, org, limit=100, reset="monthly")
    data = await _key_object(client, org, plaintext)
    assert (data["byok_usage"], data["byok_usage_daily"]) == pytest.approx((BYOK_TODAY, BYOK_TODAY))


@pytest.mark.parametrize("reset", ["daily", "weekly", "monthly", None])
async def test_limit_remaining_counts_only_the_current_window(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, reset: str | None
) -> None:
    plaintext, today = await _key_with_usage(context, org, limit=100, reset=reset)
    data = await _key_object(client, org, plaintext)
    window = {"daily": "usage_daily", "weekly": "usage_weekly", "monthly": "usage_monthly", None: "usage"}
    assert data["limit_remaining"] == pytest.approx(100 - _expected(today)[window[reset]])


async def test_limit_remaining_includes_byok_when_the_key_says_so(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext, today = await _key_with_usage(context, org, limit=100, reset="daily")
    key_hash = (await client.get("/api/v1/key", headers=bearer(plaintext))).json()["data"]["hash"]
    response = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"include_byok_in_limit": True}, headers=bearer(org.management_key)
    )
    remaining = response.json()["data"]["limit_remaining"]
    assert remaining == pytest.approx(100 - _expected(today)["usage_daily"] - BYOK_TODAY)


async def test_limit_remaining_is_never_negative(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext, _today = await _key_with_usage(context, org, limit=0.5, reset=None)
    data = await _key_object(client, org, plaintext)
    assert data["limit_remaining"] == 0


async def test_current_key_budget_resets_at_the_next_window_boundary(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext, today = await _key_with_usage(context, org, limit=100, reset="daily")
    data = (await client.get("/api/v1/key", headers=bearer(plaintext))).json()["data"]
    budget = data["effective_budget"]
    tomorrow = today + timedelta(days=1)
    assert budget["resets_at"] == f"{tomorrow.isoformat()}T00:00:00.000Z"
    assert (budget["spend_usd"], budget["remaining_usd"]) == pytest.approx(
        (_expected(today)["usage_daily"], data["limit_remaining"])
    )
    assert data["usage_daily"] == pytest.approx(_expected(today)["usage_daily"])
