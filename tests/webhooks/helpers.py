"""Shared steps of the webhook tests: subscribe an endpoint, read the outbox, run dispatcher passes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import WebhookDelivery
from keyplane.webhooks.dispatcher import WebhookDispatcher


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["budget.threshold"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def outbox(context: AppContext) -> list[WebhookDelivery]:
    async with context.sessions() as session:
        query = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.threshold)
        return list((await session.execute(query)).scalars())


async def dispatch(context: AppContext, *, now: datetime | None = None) -> int:
    """One dispatcher pass, as the background task makes it every interval."""
    dispatcher = WebhookDispatcher.of(context)
    try:
        return await dispatcher.run_once(now=now)
    finally:
        await dispatcher.close()
