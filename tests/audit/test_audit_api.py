"""GET /api/v1/audit-events: every management change is there, for admins of the same org only."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org


async def make_changes(client: httpx.AsyncClient, org: BootstrapResult) -> str:
    # A forged X-Forwarded-For: no proxy is trusted by default, so the socket peer is recorded.
    headers = {**bearer(org.management_key), "X-Forwarded-For": "203.0.113.9"}
    created = await client.post("/api/v1/keys", json={"name": "audited"}, headers=headers)
    key_hash: str = created.json()["data"]["hash"]
    await client.patch(f"/api/v1/keys/{key_hash}", json={"disabled": True}, headers=headers)
    await client.post("/api/v1/billing/credits", json={"amount": 3}, headers=headers)
    await client.put("/api/v1/billing/exchange-rates/EUR", json={"rate": 0.9}, headers=headers)
    return key_hash


async def test_changes_are_listed_newest_first_with_actor_and_address(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    key_hash = await make_changes(client, org)
    response = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    assert response.status_code == 200
    events = response.json()["data"]
    actions = [e["action"] for e in events]
    assert actions[:4] == ["exchange_rate.set", "credits.added", "key.updated", "key.created"]
    updated = events[2]
    assert (updated["object_type"], updated["object_id"]) == ("api_key", key_hash)
    assert (updated["actor_type"], updated["actor_id"]) == ("api_key", org.management_key_hash)
    assert updated["ip_address"] == "127.0.0.1"  # httpx's ASGI transport peer
    assert updated["details"] == {"changes": {"disabled": True, "disabled_by_admin": True}}
    assert updated["created_at"].endswith("Z")


async def test_filters_and_pages(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key_hash = await make_changes(client, org)
    headers = bearer(org.management_key)

    async def actions(**params: str) -> list[str]:
        response = await client.get("/api/v1/audit-events", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [e["action"] for e in response.json()["data"]]

    assert await actions(action="credits.added") == ["credits.added"]
    assert await actions(object_type="api_key", object_id=key_hash) == ["key.updated", "key.created"]
    assert await actions(actor=org.management_key_hash, object_type="exchange_rate") == ["exchange_rate.set"]
    assert await actions(until="2000-01-01T00:00:00Z") == []
    assert len(await actions(since="2000-01-01")) >= 4
    first = await client.get("/api/v1/audit-events", params={"page_size": 2}, headers=headers)
    second = await client.get("/api/v1/audit-events", params={"page_size": 2, "page": 2}, headers=headers)
    assert first.json()["pagination"]["has_more"] is True
    assert [e["action"] for e in second.json()["data"]] == ["key.updated", "key.created"]


async def test_only_admins_with_audit_scope_may_read(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    unscoped = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["keys:read"]
    )
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    for key in (member_key, unscoped, inference):
        response = await client.get("/api/v1/audit-events", headers=bearer(key))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == 403
    scoped = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["audit:read"]
    )
    assert (await client.get("/api/v1/audit-events", headers=bearer(scoped))).status_code == 200


async def test_another_orgs_events_are_invisible(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key_hash = await make_changes(client, org)
    other = await make_org(context, name="Other", email="owner@other.test")
    response = await client.get(
        "/api/v1/audit-events", params={"object_id": key_hash}, headers=bearer(other.management_key)
    )
    assert response.json()["data"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-01-02", "until": "2026-01-01"},
        {"since": "soon"},
        {"page": "0"},
        {"page_size": "100000"},
        {"action": "a\x00b"},
        {"page": "10000", "page_size": "500"},
    ],
)
async def test_bad_filters_are_400(
    client: httpx.AsyncClient, org: BootstrapResult, params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/audit-events", params=params, headers=bearer(org.management_key))
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
