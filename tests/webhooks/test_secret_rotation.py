"""`keyplane secrets rotate` moves webhook signing secrets too: deliveries still verify afterwards."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
from sqlalchemy import select

from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.models import WebhookEndpoint
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.providers.secrets import SecretBox
from tests.factories import bearer
from tests.providers.test_rotate import NEW_KEY, _rotate
from tests.webhooks.helpers import dispatch, subscribe
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_dispatcher import crossing, queue


async def test_a_rotated_signing_secret_still_signs_deliveries(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    settings: Settings,
    receiver: Receiver,
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    code, output = await asyncio.to_thread(_rotate, settings, NEW_KEY)
    assert code == 0, output
    assert json.loads(output)["secrets_reencrypted"] == 1
    async with context.sessions() as session:
        stored = (await session.execute(select(WebhookEndpoint.secret))).scalar_one()
    assert SecretBox(NEW_KEY).decrypt(stored) == created["secret"]

    await queue(context, crossing(org.org_id))
    rotated = dataclasses.replace(context, secret_key=NEW_KEY)  # an instance started on the new key
    assert await dispatch(rotated) == 1
    assert receiver.received[0].verified(created["secret"])["type"] == "budget.threshold"
