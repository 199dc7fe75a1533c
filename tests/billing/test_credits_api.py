"""POST /api/v1/billing/credits and GET /api/v1/credits (OpenRouter shape) over HTTP."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.usage.usage_data import event_for, key_of, write_usage


async def test_admin_adds_credit_and_balance_follows(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    added = await client.post(
        "/api/v1/billing/credits", json={"amount": 25.5, "note": "invoice 1"}, headers=headers
    )
    assert added.status_code == 201
    data = added.json()["data"]
    assert (data["amount"], data["kind"], data["note"], data["balance"]) == (
        25.5,
        "credit",
        "invoice 1",
        25.5,
    )
    assert data["actor"] == org.management_key_hash
    balance = await client.get("/api/v1/billing/balance", headers=headers)
    assert balance.json()["data"]["balance"] == 25.5 and balance.json()["data"]["currency"] == "USD"
    ledger = await client.get("/api/v1/billing/ledger", headers=headers)
    assert [e["amount"] for e in ledger.json()["data"]] == [25.5]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -1},
        {"amount": "10"},
        {"amount": True},
        {},
        {"amount": 1e12},
        {"amount": 5, "x": 1},
    ],
)
async def test_bad_credit_is_400_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    headers = bearer(org.management_key)
    response = await client.post("/api/v1/billing/credits", json=body, headers=headers)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
    assert (await client.get("/api/v1/billing/ledger", headers=headers)).json()["data"] == []


async def test_credit_needs_admin_role_and_billing_scope(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    scoped = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["usage:read"]
    )
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    for key, status in ((member_key, 403), (scoped, 403), (inference, 403)):
        response = await client.post("/api/v1/billing/credits", json={"amount": 1}, headers=bearer(key))
        assert response.status_code == status
    assert (await client.post("/api/v1/billing/credits", json={"amount": 1})).status_code == 401


async def test_credits_match_openrouter_shape_and_ledger(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    await client.post("/api/v1/billing/credits", json={"amount": 100.5}, headers=headers)
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    now = utcnow()
    await write_usage(
        context,
        [event_for(key, at=now, cost_usd=20.5), event_for(key, at=now - timedelta(days=40), cost_usd=5.25)],
    )
    response = await client.get("/api/v1/credits", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"data": {"total_credits": 100.5, "total_usage": 25.75}}


async def test_credits_are_per_org_and_need_a_management_key(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    await client.post("/api/v1/billing/credits", json={"amount": 7}, headers=bearer(org.management_key))
    theirs = await client.get("/api/v1/credits", headers=bearer(other.management_key))
    assert theirs.json() == {"data": {"total_credits": 0.0, "total_usage": 0.0}}
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    refused = await client.get("/api/v1/credits", headers=bearer(inference))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403


async def test_a_member_reads_the_balance_but_only_their_own_share(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    headers = bearer(org.management_key)
    await client.post("/api/v1/billing/credits", json={"amount": 4, "user_id": member}, headers=headers)
    await client.post("/api/v1/billing/credits", json={"amount": 6}, headers=headers)
    member_key = bearer(
        await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    )
    org_wide = await client.get("/api/v1/billing/balance", headers=member_key)
    assert org_wide.json()["data"]["balance"] == 10.0
    own = await client.get("/api/v1/billing/balance", params={"user_id": member}, headers=member_key)
    assert own.json()["data"]["balance"] == 4.0
    other = await client.get("/api/v1/billing/balance", params={"user_id": org.user_id}, headers=member_key)
    assert other.status_code == 403
    ledger = await client.get("/api/v1/billing/ledger", headers=member_key)
    assert [e["amount"] for e in ledger.json()["data"]] == [4.0]
    unknown_member = await client.post(
        "/api/v1/billing/credits", json={"amount": 1, "user_id": "nobody"}, headers=headers
    )
    assert unknown_member.status_code == 404
