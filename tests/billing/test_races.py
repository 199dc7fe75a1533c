"""Concurrent writes to one rate, one price or one budget: upserts all succeed on one row, a delete
has one winner and one audit event."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.models import Budget, ExchangeRate, ModelPrice
from keyplane.orgs.bootstrap import BootstrapResult
from tests.concurrency import at_once, audit_events, count_rows, statuses
from tests.factories import bearer


async def test_concurrent_upserts_of_one_exchange_rate_all_land_on_one_row(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    responses = await at_once(
        20, lambda i: client.put("/api/v1/billing/exchange-rates/eur", json={"rate": 1 + i}, headers=headers)
    )
    assert statuses(responses) == [200] * 20
    assert await count_rows(context, ExchangeRate) == 1
    assert await audit_events(context, "exchange_rate.set") == 20
    listed = await client.get("/api/v1/billing/exchange-rates", headers=headers)
    (rate,) = listed.json()["data"]
    assert rate["rate"] in range(1, 21)


async def test_concurrent_upserts_of_one_model_price_all_land_on_one_row(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    responses = await at_once(
        20, lambda i: client.put("/api/v1/model-prices/m1", json={"input": i, "output": 1}, headers=headers)
    )
    assert statuses(responses) == [200] * 20
    assert await count_rows(context, ModelPrice) == 1


async def test_concurrent_deletes_of_one_budget_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/budgets", json={"scope": "org", "limit": 5}, headers=headers)
    path = f"/api/v1/budgets/{created.json()['data']['id']}"
    responses = await at_once(12, lambda _: client.delete(path, headers=headers))
    assert statuses(responses) == [200] + [404] * 11
    assert await count_rows(context, Budget) == 0
    assert await audit_events(context, "budget.deleted") == 1
