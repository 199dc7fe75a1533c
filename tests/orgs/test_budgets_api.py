"""Budgets CRUD: org, workspace and key scopes, current-window spend, admin-only, isolated, audited."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.usage.usage_data import event_for, key_of, write_usage


async def test_budgets_of_each_scope_show_their_window_spend(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    now = utcnow()
    await write_usage(
        context,
        [
            event_for(key, at=now, cost_usd=1.5),
            event_for(key, at=now, cost_usd=2.0, is_byok=True),
            event_for(key, at=now - timedelta(days=40), cost_usd=10.0),
        ],
    )
    headers = bearer(org.management_key)
    bodies = [
        {"scope": "org", "limit": 100, "reset": "monthly", "name": "org cap"},
        {
            "scope": "workspace",
            "limit": 50,
            "workspace_id": org.workspace_id,
            "include_byok": True,
            "reset": "daily",
        },
        {"scope": "key", "limit": 20, "key_hash": key.hash},
    ]
    created = []
    for body in bodies:
        response = await client.post("/api/v1/budgets", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created.append(response.json()["data"])
    assert [(b["scope"], b["spend"], b["remaining"]) for b in created] == [
        ("org", 1.5, 98.5),
        ("workspace", 3.5, 46.5),
        ("key", 11.5, 8.5),
    ]
    assert created[2]["key_hash"] == key.hash and created[2]["resets_at"] is None
    assert created[1]["resets_at"].endswith("T00:00:00.000Z")
    listed = await client.get("/api/v1/budgets", params={"scope": "key"}, headers=headers)
    assert [b["id"] for b in listed.json()["data"]] == [created[2]["id"]]


async def test_update_and_delete_are_audited(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    budget = (
        await client.post("/api/v1/budgets", json={"scope": "org", "limit": 5}, headers=headers)
    ).json()["data"]
    path = f"/api/v1/budgets/{budget['id']}"
    updated = await client.patch(
        path, json={"limit": 7.5, "reset": "weekly", "include_byok": True}, headers=headers
    )
    assert (updated.json()["data"]["limit"], updated.json()["data"]["reset"]) == (7.5, "weekly")
    cleared = await client.patch(path, json={"reset": None}, headers=headers)
    assert cleared.json()["data"]["reset"] is None and cleared.json()["data"]["limit"] == 7.5
    assert (await client.delete(path, headers=headers)).json() == {"deleted": True}
    assert (await client.get(path, headers=headers)).status_code == 404
    audit = await client.get("/api/v1/audit-events", params={"object_id": budget["id"]}, headers=headers)
    assert [e["action"] for e in audit.json()["data"]] == [
        "budget.deleted",
        "budget.updated",
        "budget.updated",
        "budget.created",
    ]


async def test_deleting_a_key_deletes_its_budgets(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    key_hash = (await client.post("/api/v1/keys", json={"name": "k"}, headers=headers)).json()["data"]["hash"]
    await client.post(
        "/api/v1/budgets", json={"scope": "key", "limit": 1, "key_hash": key_hash}, headers=headers
    )
    await client.delete(f"/api/v1/keys/{key_hash}", headers=headers)
    assert (await client.get("/api/v1/budgets", headers=headers)).json()["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"scope": "team", "limit": 1},
        {"scope": "org", "limit": -1},
        {"scope": "org", "limit": "5"},
        {"scope": "org", "limit": True},
        {"scope": "org", "limit": 1e12},
        {"scope": "org", "limit": 1, "reset": "hourly"},
        {"scope": "org", "limit": 1, "include_byok": "yes"},
        {"scope": "org", "limit": 1, "key_hash": "a" * 64},
        {"scope": "workspace", "limit": 1},
        {"scope": "key", "limit": 1},
        {"scope": "org"},
        {"scope": "org", "limit": 1, "name": "x\x00"},
    ],
)
async def test_bad_budgets_are_400_and_change_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    headers = bearer(org.management_key)
    response = await client.post("/api/v1/budgets", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert set(response.json()["error"]) == {"code", "message"}
    assert (await client.get("/api/v1/budgets", headers=headers)).json()["data"] == []


async def test_another_orgs_key_workspace_and_budget_are_not_found(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    budget = (
        await client.post("/api/v1/budgets", json={"scope": "org", "limit": 5}, headers=headers)
    ).json()["data"]
    other = await make_org(context, name="Other", email="owner@other.test")
    theirs = bearer(other.management_key)
    path = f"/api/v1/budgets/{budget['id']}"
    assert (await client.get(path, headers=theirs)).status_code == 404
    assert (await client.patch(path, json={"limit": 1}, headers=theirs)).status_code == 404
    assert (await client.delete(path, headers=theirs)).status_code == 404
    assert (await client.get("/api/v1/budgets", headers=theirs)).json()["data"] == []
    ws = {"scope": "workspace", "limit": 1, "workspace_id": org.workspace_id}
    assert (await client.post("/api/v1/budgets", json=ws, headers=theirs)).status_code == 404
    key_hash = (await client.post("/api/v1/keys", json={"name": "k"}, headers=headers)).json()["data"]["hash"]
    by_key = {"scope": "key", "limit": 1, "key_hash": key_hash}
    assert (await client.post("/api/v1/budgets", json=by_key, headers=theirs)).status_code == 404


async def test_budgets_are_admin_only(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    headers = bearer(member_key)
    assert (await client.get("/api/v1/budgets", headers=headers)).status_code == 403
    assert (
        await client.post("/api/v1/budgets", json={"scope": "org", "limit": 1}, headers=headers)
    ).status_code == 403
