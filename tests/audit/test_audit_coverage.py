"""Every management change of the billing/org plane leaves exactly its audit event, with its actor."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key


async def test_each_change_records_its_action(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    key_hash = (await client.post("/api/v1/keys", json={"name": "k"}, headers=headers)).json()["data"]["hash"]
    calls = [
        ("POST", "/api/v1/billing/credits", {"amount": 1}),
        ("PUT", "/api/v1/billing/exchange-rates/EUR", {"rate": 0.9}),
        ("PATCH", "/api/v1/organizations/current", {"name": "Acme 2"}),
        ("POST", "/api/v1/workspaces", {"name": "Team"}),
        ("POST", "/api/v1/members", {"email": "n@acme.test"}),
        ("POST", "/api/v1/budgets", {"scope": "key", "limit": 2, "key_hash": key_hash}),
    ]
    token = ""
    for method, path, body in calls:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        if path == "/api/v1/members":
            token = response.json()["invitation"]["token"]
            accepted = await client.post(
                "/api/v1/invitations/accept", json={"token": token, "password": "long-enough-pw"}
            )
            assert accepted.status_code == 200, accepted.text
    member_id = accepted.json()["data"]["user_id"]
    budget_id = (await client.get("/api/v1/budgets", headers=headers)).json()["data"][0]["id"]
    workspace_id = (await client.get("/api/v1/workspaces", headers=headers)).json()["data"][1]["id"]
    for method, path, body in [
        ("PATCH", f"/api/v1/workspaces/{workspace_id}", {"name": "Team 2"}),
        ("PATCH", f"/api/v1/members/{member_id}", {"role": "admin"}),
        ("PATCH", f"/api/v1/budgets/{budget_id}", {"limit": 3}),
        ("DELETE", f"/api/v1/budgets/{budget_id}", None),
        ("DELETE", f"/api/v1/members/{member_id}", None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 200, response.text
    events = (await client.get("/api/v1/audit-events", params={"page_size": 500}, headers=headers)).json()[
        "data"
    ]
    actions = [e["action"] for e in reversed(events) if not e["action"].startswith(("key.", "org."))]
    assert actions == [
        "credits.added",
        "exchange_rate.set",
        "organization.updated",
        "workspace.created",
        "invitation.created",
        "invitation.accepted",
        "budget.created",
        "workspace.updated",
        "member.role_changed",
        "budget.updated",
        "budget.deleted",
        "member.removed",
    ]
    actors = {(e["actor_type"], e["actor_id"]) for e in events if e["action"] != "org.initialized"}
    assert actors - {("user", member_id)} == {("api_key", org.management_key_hash)} | {
        ("user", org.user_id)
    }  # the bootstrap key was created by the owner user; the invitee accepted


async def test_refused_changes_leave_no_event(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    before = len((await client.get("/api/v1/audit-events", headers=headers)).json()["data"])
    for method, path, body in [
        ("POST", "/api/v1/billing/credits", {"amount": -1}),
        ("PUT", "/api/v1/billing/exchange-rates/XX", {"rate": 1}),
        ("POST", "/api/v1/workspaces", {"name": ""}),
        ("POST", "/api/v1/budgets", {"scope": "org", "limit": -5}),
        ("PATCH", "/api/v1/members/nobody", {"role": "admin"}),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code in (400, 404), response.text
    scoped = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["usage:read"]
    )
    assert (
        await client.post("/api/v1/workspaces", json={"name": "x"}, headers=bearer(scoped))
    ).status_code == 403
    after = len((await client.get("/api/v1/audit-events", headers=headers)).json()["data"])
    assert after == before + 1  # only the scoped key's own creation
