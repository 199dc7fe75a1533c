"""The webhook routes: create shows the secret once, URLs pass the egress guard, orgs stay apart."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import AuditEvent, WebhookEndpoint
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.webhooks.helpers import subscribe
from tests.webhooks.receiver import Receiver

URL = "/api/v1/webhooks"


def assert_native_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == status
    return str(body["error"]["message"])


async def test_create_answers_the_endpoint_and_a_standard_webhooks_secret_once(
    client: httpx.AsyncClient, org: BootstrapResult, receiver: Receiver, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    response = await client.post(
        URL,
        json={"url": receiver.url, "events": ["budget.threshold"], "description": "ops pager"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"data", "secret"}
    assert set(body["data"]) == {"id", "url", "events", "description", "created_at"}
    assert body["data"]["url"] == receiver.url and body["data"]["events"] == ["budget.threshold"]
    assert body["data"]["description"] == "ops pager"
    secret = body["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24

    listed = (await client.get(URL, headers=headers)).json()["data"]
    assert listed == [body["data"]]  # the secret is never shown again
    async with context.sessions() as session:
        stored = (await session.execute(select(WebhookEndpoint.secret))).scalar_one()
    assert secret.removeprefix("whsec_") not in stored  # encrypted at rest


async def test_create_and_delete_leave_one_audit_event_each(
    client: httpx.AsyncClient, org: BootstrapResult, receiver: Receiver, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await subscribe(client, headers, receiver.url)
    webhook_id = created["data"]["id"]
    assert (await client.delete(f"{URL}/{webhook_id}", headers=headers)).json() == {"deleted": True}
    assert_native_error(await client.delete(f"{URL}/{webhook_id}", headers=headers), 404)
    async with context.sessions() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.object_id)
                .where(AuditEvent.object_type == "webhook_endpoint")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [tuple(event) for event in events] == [
        ("webhook.created", webhook_id),
        ("webhook.deleted", webhook_id),
    ]
    assert (await client.get(URL, headers=headers)).json()["data"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.8/hooks",  # private network
        "http://[::1]:8080/hooks",  # the server's own loopback over IPv6
        "http://localhost:9000/hooks",
        "http://[::ffff:169.254.169.254]/hooks",  # metadata, IPv4-mapped
        "ftp://93.184.216.34/hooks",
        "http://user:pass@93.184.216.34/hooks",
        "not a url",
    ],
)
async def test_a_url_leading_to_a_private_or_metadata_address_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, url: str
) -> None:
    response = await client.post(
        URL, json={"url": url, "events": ["budget.threshold"]}, headers=bearer(org.management_key)
    )
    assert_native_error(response, 400)
    assert (await client.get(URL, headers=bearer(org.management_key))).json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://93.184.216.34/hooks", "events": ["budget.exploded"]},
        {"url": "https://93.184.216.34/hooks", "events": []},
        {"url": "https://93.184.216.34/hooks"},
        {"url": "https://93.184.216.34/hooks", "events": ["budget.threshold"], "secret": "whsec_mine"},
        {"url": "https://93.184.216.34/hooks\n", "events": ["budget.threshold"]},
        {"url": 5, "events": ["budget.threshold"]},
    ],
    ids=["unknown-event", "no-events", "no-events-field", "unknown-field", "control-char", "not-a-string"],
)
async def test_bad_bodies_are_a_400_in_the_native_error_shape(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    response = await client.post(URL, json=body, headers=bearer(org.management_key))
    assert_native_error(response, 400)


async def test_a_public_address_is_accepted(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    created = await subscribe(client, bearer(org.management_key), "https://93.184.216.34/keyplane")
    assert created["data"]["url"] == "https://93.184.216.34/keyplane"


async def test_another_org_can_neither_list_delete_nor_read_the_deliveries_of_a_webhook(
    client: httpx.AsyncClient, org: BootstrapResult, receiver: Receiver, context: AppContext
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    webhook_id = created["data"]["id"]
    other = await make_org(context, name="Globex", email="owner@globex.test")
    theirs = bearer(other.management_key)

    assert (await client.get(URL, headers=theirs)).json()["data"] == []
    assert_native_error(await client.get(f"{URL}/{webhook_id}/deliveries", headers=theirs), 404)
    assert_native_error(await client.delete(f"{URL}/{webhook_id}", headers=theirs), 404)
    mine = (await client.get(URL, headers=bearer(org.management_key))).json()["data"]
    assert [w["id"] for w in mine] == [webhook_id]


async def test_only_org_admins_manage_webhooks(
    client: httpx.AsyncClient, org: BootstrapResult, receiver: Receiver, context: AppContext
) -> None:
    member = await add_user(context, org_id=org.org_id, email="member@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    inference_key = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    body = {"url": receiver.url, "events": ["budget.threshold"]}
    assert_native_error(await client.post(URL, json=body, headers=bearer(member_key)), 403)
    assert_native_error(await client.get(URL, headers=bearer(member_key)), 403)
    assert (await client.post(URL, json=body, headers=bearer(inference_key))).status_code in (401, 403)
    assert_native_error(await client.get(URL), 401)


async def test_deliveries_of_a_new_webhook_are_an_empty_list(
    client: httpx.AsyncClient, org: BootstrapResult, receiver: Receiver
) -> None:
    created = await subscribe(client, bearer(org.management_key), receiver.url)
    path = f"{URL}/{created['data']['id']}/deliveries"
    response = await client.get(path, headers=bearer(org.management_key))
    assert response.status_code == 200 and response.json() == {"data": []}


async def test_an_org_holds_at_most_twenty_webhooks_even_when_created_at_once(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    body = {"url": "https://93.184.216.34/many", "events": ["budget.threshold"]}
    answers = await asyncio.gather(*(client.post(URL, json=body, headers=headers) for _ in range(24)))
    assert sorted(a.status_code for a in answers) == [201] * 20 + [400] * 4
    assert len((await client.get(URL, headers=headers)).json()["data"]) == 20
