"""Suspension: every key and session of the org is refused everywhere; resuming restores them."""

from __future__ import annotations

import httpx

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.tenancy.helpers import onboard

SUSPENDED = "organization_suspended"


async def _set_status(client: httpx.AsyncClient, operator: BootstrapResult, org_id: str, status: str) -> None:
    response = await client.patch(
        f"/api/v1/organizations/{org_id}", headers=bearer(operator.management_key), json={"status": status}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == status


async def test_a_suspended_orgs_management_key_is_refused_on_every_surface_reads_included(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    headers = bearer(tenant.management_key)
    reads = [
        "/api/v1/keys",
        "/api/v1/key",
        "/api/v1/usage",
        "/api/v1/organizations/current",
        "/v1/manage/api-keys",
        "/api/v1/portal/management/balance",
        "/api/providers/openai/keys",
    ]
    before = [(await client.get(path, headers=headers)).status_code for path in reads]
    assert all(code == 200 for code in before), before
    await _set_status(client, org, tenant.org_id, "suspended")
    answers = [await client.get(path, headers=headers) for path in reads]
    assert [r.status_code for r in answers] == [403] * len(reads)
    assert answers[0].json()["error"]["message"] == "This organization is suspended"
    assert answers[4].json() == {"error": "This organization is suspended"}  # Cortecs' shape
    write = await client.post("/api/v1/keys", headers=headers, json={"name": "x"})
    assert write.status_code == 403
    await _set_status(client, org, tenant.org_id, "active")
    assert (await client.get("/api/v1/keys", headers=headers)).status_code == 200


async def test_a_suspended_orgs_session_and_inference_keys_are_refused(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    created = await client.post("/api/v1/keys", headers=bearer(tenant.management_key), json={"name": "inf"})
    inference = created.json()["key"]
    await _set_status(client, org, tenant.org_id, "suspended")
    portal = await client.get("/api/v1/portal/management/api-keys", headers=bearer(tenant.session_token))
    assert portal.status_code == 403 and portal.json()["meta"]["message"] == "This organization is suspended"
    gateway = await client.get("/v1/models", headers=bearer(inference))
    assert gateway.status_code == 403 and gateway.json()["error"]["code"] == SUSPENDED
    await _set_status(client, org, tenant.org_id, "active")
    assert (await client.get("/v1/models", headers=bearer(inference))).status_code == 200


async def test_suspension_deletes_nothing(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    tenant = await onboard(client, org)
    await client.post("/api/v1/keys", headers=bearer(tenant.management_key), json={"name": "keep me"})
    await _set_status(client, org, tenant.org_id, "suspended")
    await _set_status(client, org, tenant.org_id, "active")
    keys = await client.get("/api/v1/keys", headers=bearer(tenant.management_key))
    assert [k["name"] for k in keys.json()["data"]] == ["keep me"]


async def test_the_operator_sees_suspended_orgs_and_the_change_is_audited(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    await _set_status(client, org, tenant.org_id, "suspended")
    listed = await client.get("/api/v1/organizations?status=suspended", headers=bearer(org.management_key))
    assert [o["id"] for o in listed.json()["data"]] == [tenant.org_id]
    trail = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    assert "organization.suspended" in [e["action"] for e in trail.json()["data"]]
