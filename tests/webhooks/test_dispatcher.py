"""The outbox dispatcher: retries with backoff, resumes after a restart, claims each attempt once,
checks the receiver's address again at connect time, and gives up after the last attempt."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import WebhookDelivery
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.webhooks.dispatcher import BACKOFF_SECONDS, MAX_ATTEMPTS, WebhookDispatcher
from keyplane.webhooks.outbox import enqueue_crossings
from keyplane.webhooks.repository import WebhookEndpointRepository
from keyplane.webhooks.thresholds import Crossing
from tests.factories import bearer
from tests.fakes.dns import FakeDns
from tests.harness import eventually
from tests.webhooks.helpers import dispatch, outbox, subscribe
from tests.webhooks.receiver import STALL, Receiver

WINDOW = datetime(2026, 12, 1, tzinfo=UTC)


def crossing(org_id: str, threshold: int = 80, subject_id: str = "budget-1") -> Crossing:
    return Crossing(
        org_id=org_id,
        subject="budget",
        subject_key=f"budget:{subject_id}",
        subject_id=subject_id,
        threshold=threshold,
        usage_nanos=threshold * 10**7,
        limit_nanos=10**9,
        window_start=WINDOW,
    )


async def queue(context: AppContext, *crossings: Crossing) -> int:
    """Enqueue as a usage flush would, in its own transaction."""
    async with session_scope(context.sessions) as session:
        endpoints = await WebhookEndpointRepository(session, crossings[0].org_id).subscribed(
            "budget.threshold"
        )
        return await enqueue_crossings(session, list(crossings), endpoints)


async def test_a_failed_delivery_is_retried_after_its_backoff_with_the_same_id(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    receiver.statuses.append(500)

    assert await dispatch(context) == 1
    [row] = await outbox(context)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 500)
    assert row.last_error == "The receiver answered HTTP 500"
    assert await dispatch(context) == 0  # not due before its backoff
    later = datetime.now(UTC) + timedelta(seconds=BACKOFF_SECONDS[0] + 1)
    assert await dispatch(context, now=later) == 1

    [row] = await outbox(context)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("delivered", 2, 204, None)
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.id
    assert first.verified(created["secret"]) == second.verified(created["secret"]) == row.payload


async def test_a_pending_delivery_is_sent_by_a_new_instance_after_a_restart(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    receiver: Receiver,
    settings: Settings,
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    receiver.statuses.append(503)
    assert await dispatch(context) == 1  # fails; the process then goes away

    restarted: FastAPI = create_app(settings.model_copy(update={"webhook_dispatch_interval_seconds": 0.05}))
    async with restarted.router.lifespan_context(restarted):
        new_context: AppContext = restarted.state.keyplane
        async with session_scope(new_context.sessions) as session:  # its backoff has passed meanwhile
            await session.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC)))

        async def delivered() -> bool:
            return [row.status for row in await outbox(new_context)] == ["delivered"]

        await eventually(delivered)  # the new instance's own background dispatcher sent it
    assert len(receiver.received) == 2
    assert receiver.received[1].verified(created["secret"])["data"]["threshold"] == 80


async def test_a_receiver_that_does_not_answer_in_time_is_retried(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    receiver.statuses.append(STALL)
    impatient = dataclasses.replace(
        context, settings=context.settings.model_copy(update={"webhook_timeout_seconds": 0.5})
    )
    dispatcher = WebhookDispatcher.of(impatient)
    try:
        assert await dispatcher.run_once() == 1
    finally:
        await dispatcher.close()
        receiver.release.set()
    [row] = await outbox(context)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error == "The receiver did not answer in time"


async def test_after_the_last_attempt_a_delivery_is_failed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    async with session_scope(context.sessions) as session:
        await session.execute(update(WebhookDelivery).values(attempts=MAX_ATTEMPTS - 1))
    receiver.statuses.append(500)
    assert await dispatch(context) == 1
    [row] = await outbox(context)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert await dispatch(context, now=datetime.now(UTC) + timedelta(days=1)) == 0


def test_retries_span_more_than_an_hour() -> None:
    assert sum(BACKOFF_SECONDS[: MAX_ATTEMPTS - 1]) >= 3600
    assert tuple(sorted(BACKOFF_SECONDS)) == BACKOFF_SECONDS


async def test_two_dispatchers_polling_together_send_each_delivery_once(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    await subscribe(client, bearer(org.management_key), receiver.url)
    assert await queue(context, *(crossing(org.org_id, subject_id=f"budget-{n}") for n in range(6))) == 6
    first, second = WebhookDispatcher.of(context), WebhookDispatcher.of(context)
    try:
        attempted = await asyncio.gather(first.run_once(), second.run_once())
    finally:
        await first.close()
        await second.close()
    assert sum(attempted) == 6
    assert sorted(m.headers["webhook-id"] for m in receiver.received) == sorted(
        r.id for r in await outbox(context)
    )
    assert {row.status for row in await outbox(context)} == {"delivered"}


async def test_the_same_crossing_queued_by_two_flushes_at_once_is_stored_once(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    await subscribe(client, bearer(org.management_key), receiver.url)
    added = await asyncio.gather(*(queue(context, crossing(org.org_id, threshold=95)) for _ in range(4)))
    assert sorted(added) == [0, 0, 0, 1]
    assert [row.threshold for row in await outbox(context)] == [95]


async def test_the_receivers_address_is_checked_again_when_connecting(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, fake_dns: FakeDns
) -> None:
    fake_dns.answers["hooks.test"] = ["93.184.216.34"]  # public when the webhook is created
    await subscribe(client, bearer(org.management_key), "http://hooks.test/keyplane")
    await queue(context, crossing(org.org_id))
    fake_dns.answers["hooks.test"] = ["10.0.0.9"]  # then the name is rebound to a private address
    assert await dispatch(context) == 1
    [row] = await outbox(context)
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, None)
    assert row.last_error == "The webhook URL does not lead to a public internet address"


async def test_deleting_a_webhook_drops_its_pending_deliveries(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    response = await client.delete(
        f"/api/v1/webhooks/{created['data']['id']}", headers=bearer(org.management_key)
    )
    assert response.status_code == 200
    assert await outbox(context) == []
    assert await dispatch(context) == 0 and receiver.received == []


async def test_deliveries_are_listed_newest_first_with_their_state(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id, threshold=80))
    await dispatch(context)  # delivered
    await queue(context, crossing(org.org_id, threshold=95))
    receiver.statuses.append(500)
    await dispatch(context)  # failed once, pending
    response = await client.get(
        f"/api/v1/webhooks/{created['data']['id']}/deliveries", headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text
    listed = response.json()["data"]
    assert [(d["payload"]["data"]["threshold"], d["status"], d["last_status_code"]) for d in listed] == [
        (95, "pending", 500),
        (80, "delivered", 204),
    ]
    assert listed[0]["next_attempt_at"] is not None and listed[0]["delivered_at"] is None
    assert listed[1]["next_attempt_at"] is None and listed[1]["delivered_at"] is not None


async def test_a_redirect_is_never_followed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, receiver: Receiver
) -> None:
    await subscribe(client, bearer(org.management_key), receiver.url)
    await queue(context, crossing(org.org_id))
    elsewhere = Receiver().start()
    try:
        receiver.redirect_to = elsewhere.url
        receiver.statuses.append(307)
        assert await dispatch(context) == 1
        assert elsewhere.received == []
    finally:
        elsewhere.stop()
    [row] = await outbox(context)
    assert (row.status, row.last_status_code, row.last_error) == (
        "pending",
        307,
        "The receiver answered HTTP 307",
    )
