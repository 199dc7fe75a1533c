"""Native org routes: the current organization and its workspaces, tenant-isolated and audited."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org


async def test_current_organization(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.get("/api/v1/organizations/current", headers=bearer(org.management_key))
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["id"], data["name"], data["default_workspace_id"]) == (org.org_id, "Acme", org.workspace_id)
    assert (data["role"], data["base_currency"]) == ("owner", "USD")


async def test_rename_is_admin_only_and_audited(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    path = "/api/v1/organizations/current"
    assert (await client.patch(path, json={"name": "Nope"}, headers=bearer(member_key))).status_code == 403
    renamed = await client.patch(path, json={"name": " Acme Corp "}, headers=bearer(org.management_key))
    assert renamed.json()["data"]["name"] == "Acme Corp"
    audit = await client.get(
        "/api/v1/audit-events", params={"action": "organization.updated"}, headers=bearer(org.management_key)
    )
    assert audit.json()["data"][0]["details"] == {"name": "Acme Corp", "previous_name": "Acme"}


async def test_workspaces_are_created_listed_and_renamed(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/workspaces", json={"name": "Research"}, headers=headers)
    assert created.status_code == 201
    workspace_id = created.json()["data"]["id"]
    duplicate = await client.post("/api/v1/workspaces", json={"name": "research"}, headers=headers)
    assert duplicate.status_code == 409
    renamed = await client.patch(f"/api/v1/workspaces/{workspace_id}", json={"name": "R&D"}, headers=headers)
    assert renamed.json()["data"]["name"] == "R&D"
    listed = await client.get("/api/v1/workspaces", headers=headers)
    assert [(w["name"], w["is_default"]) for w in listed.json()["data"]] == [
        ("Default", True),
        ("R&D", False),
    ]
    audit = await client.get("/api/v1/audit-events", params={"object_id": workspace_id}, headers=headers)
    assert [e["action"] for e in audit.json()["data"]] == ["workspace.updated", "workspace.created"]


async def test_a_key_can_be_created_in_a_new_workspace(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    workspace_id = (await client.post("/api/v1/workspaces", json={"name": "Team"}, headers=headers)).json()[
        "data"
    ]["id"]
    key = await client.post("/api/v1/keys", json={"name": "k", "workspace_id": workspace_id}, headers=headers)
    assert key.status_code == 201 and key.json()["data"]["workspace_id"] == workspace_id


async def test_other_orgs_workspaces_are_invisible_and_not_found(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    listed = await client.get("/api/v1/workspaces", headers=bearer(other.management_key))
    assert org.workspace_id not in {w["id"] for w in listed.json()["data"]}
    response = await client.patch(
        f"/api/v1/workspaces/{org.workspace_id}",
        json={"name": "hijack"},
        headers=bearer(other.management_key),
    )
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "Workspace not found"}}


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "   "}, {"name": 5}, {"name": "x" * 201}, {"name": "a\x00"}]
)
async def test_bad_workspace_names_are_400_and_change_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    headers = bearer(org.management_key)
    response = await client.post("/api/v1/workspaces", json=body, headers=headers)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message"}
    assert len((await client.get("/api/v1/workspaces", headers=headers)).json()["data"]) == 1


async def test_org_routes_need_a_management_key(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    for path in ("/api/v1/organizations/current", "/api/v1/workspaces", "/api/v1/members", "/api/v1/budgets"):
        assert (await client.get(path, headers=bearer(inference))).status_code == 403
        assert (await client.get(path)).status_code == 401
