"""The operator's tenant lifecycle: create with an owner invitation, list, get, rename, suspend."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.tenancy.helpers import create_org, onboard


async def test_operator_creates_an_org_with_a_single_use_owner_invitation(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    body = await create_org(client, org)
    data, invitation = body["data"], body["invitation"]
    assert data["name"] == "Globex" and data["status"] == "active" and data["default_workspace_id"]
    assert invitation["org_id"] == data["id"] and invitation["role"] == "owner"
    assert invitation["email"] == "boss@globex.test" and invitation["token"].startswith("kp_inv_")
    listed = await client.get("/api/v1/invitations", headers=bearer(org.management_key))
    assert listed.json()["data"] == []  # the tenant's invitation is the tenant's, not the operator's


async def test_operator_lists_and_reads_every_org(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    created = (await create_org(client, org))["data"]
    page = await client.get("/api/v1/organizations", headers=bearer(org.management_key))
    assert page.status_code == 200
    assert [o["id"] for o in page.json()["data"]] == [org.org_id, created["id"]]
    assert page.json()["pagination"]["total"] == 2
    one = await client.get(f"/api/v1/organizations/{created['id']}", headers=bearer(org.management_key))
    assert one.json()["data"] == created


async def test_operator_renames_and_caps_an_org(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    created = (await create_org(client, org))["data"]
    response = await client.patch(
        f"/api/v1/organizations/{created['id']}",
        headers=bearer(org.management_key),
        json={"name": "Globex Corp", "max_api_keys": 5},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["data"]["name"], response.json()["data"]["max_api_keys"]) == ("Globex Corp", 5)


async def test_unknown_org_is_404_for_the_operator(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.get("/api/v1/organizations/nope", headers=bearer(org.management_key))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "Organization not found"}}


async def test_a_tenant_cannot_create_list_read_or_change_orgs(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    headers = bearer(tenant.management_key)
    attempts = [
        await client.post(
            "/api/v1/organizations", headers=headers, json={"name": "x", "owner_email": "a@b.c"}
        ),
        await client.get("/api/v1/organizations", headers=headers),
        await client.get(f"/api/v1/organizations/{org.org_id}", headers=headers),
        await client.get("/api/v1/organizations/does-not-exist", headers=headers),
        await client.patch(
            f"/api/v1/organizations/{org.org_id}", headers=headers, json={"status": "suspended"}
        ),
    ]
    assert [r.status_code for r in attempts] == [403] * 5
    # the same answer whether the org exists or not: nothing learned about other orgs
    assert attempts[2].json() == attempts[3].json()


async def test_an_operator_member_and_a_key_without_the_scope_are_refused(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test", role="member")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    reader = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=["orgs:read"]
    )
    create = {"name": "x", "owner_email": "a@b.test"}
    assert (
        await client.post("/api/v1/organizations", headers=bearer(member_key), json=create)
    ).status_code == 403
    assert (
        await client.post("/api/v1/organizations", headers=bearer(reader), json=create)
    ).status_code == 403
    assert (await client.get("/api/v1/organizations", headers=bearer(reader))).status_code == 200


async def test_the_operator_org_cannot_suspend_itself(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.patch(
        f"/api/v1/organizations/{org.org_id}",
        headers=bearer(org.management_key),
        json={"status": "suspended"},
    )
    assert response.status_code == 409


async def test_bad_input_is_a_400_in_the_openrouter_shape(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    bad = [
        await client.post("/api/v1/organizations", headers=headers, json={"name": "x"}),
        await client.post(
            "/api/v1/organizations", headers=headers, json={"name": "x", "owner_email": "nope"}
        ),
        await client.post(
            "/api/v1/organizations", headers=headers, json={"name": "", "owner_email": "a@b.c"}
        ),
        await client.patch(f"/api/v1/organizations/{org.org_id}", headers=headers, json={"status": "gone"}),
        await client.patch(f"/api/v1/organizations/{org.org_id}", headers=headers, json={"max_api_keys": -1}),
    ]
    assert [r.status_code for r in bad] == [400] * 5
    assert all(set(r.json()["error"]) == {"code", "message"} for r in bad)


async def test_creating_an_org_leaves_audit_events_in_both_orgs(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    operator_trail = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    assert "organization.created" in [e["action"] for e in operator_trail.json()["data"]]
    tenant_trail = await client.get("/api/v1/audit-events", headers=bearer(tenant.management_key))
    actions = [e["action"] for e in tenant_trail.json()["data"]]
    assert "invitation.created" in actions and "invitation.accepted" in actions
    assert "organization.created" not in actions
