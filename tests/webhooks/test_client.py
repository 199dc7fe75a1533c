"""keyplane.client's webhook calls answer the API's JSON (both backends)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from keyplane.client import AsyncKeyplaneClient, KeyplaneAPIError
from keyplane.orgs.bootstrap import BootstrapResult
from tests.webhooks.receiver import Receiver


async def test_webhook_calls_answer_the_apis_json(
    app: FastAPI, org: BootstrapResult, receiver: Receiver
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with AsyncKeyplaneClient("http://testserver", org.management_key, transport=transport) as client:
        created = await client.create_webhook(receiver.url, description="ops")
        listed = await client.list_webhooks()
        deliveries = await client.list_webhook_deliveries(created["data"]["id"], limit=10)
        await client.delete_webhook(created["data"]["id"])
        with pytest.raises(KeyplaneAPIError) as gone:
            await client.delete_webhook(created["data"]["id"])
        with pytest.raises(KeyplaneAPIError) as refused:
            await client.create_webhook("http://10.1.2.3/hooks")
    assert created["secret"].startswith("whsec_")
    assert listed == [created["data"]] and created["data"]["description"] == "ops"
    assert deliveries == []
    assert gone.value.status_code == 404 and refused.value.status_code == 400
