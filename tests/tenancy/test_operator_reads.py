"""org_id on usage, balance, ledger and audit: the operator reads any tenant, a tenant only itself."""

from __future__ import annotations

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.tenancy.helpers import onboard

READS = [
    "/api/v1/usage",
    "/api/v1/usage/export.csv",
    "/api/v1/billing/balance",
    "/api/v1/billing/ledger",
    "/api/v1/audit-events",
    "/api/v1/usage?group_by=model",
]


async def test_the_operator_reads_a_tenants_audit_trail(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    own = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    theirs = await client.get(
        "/api/v1/audit-events", params={"org_id": tenant.org_id}, headers=bearer(org.management_key)
    )
    assert theirs.status_code == 200
    assert "invitation.accepted" in [e["action"] for e in theirs.json()["data"]]
    assert "invitation.accepted" not in [e["action"] for e in own.json()["data"]]


async def test_the_operator_reads_a_tenants_balance_and_ledger(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    tenant = await onboard(client, org)
    credit = await client.post(
        "/api/v1/billing/credits",
        headers=bearer(org.management_key),
        json={"amount": 7.5, "org_id": tenant.org_id},
    )
    assert credit.status_code == 201, credit.text
    headers, params = bearer(org.management_key), {"org_id": tenant.org_id}
    balance = await client.get("/api/v1/billing/balance", params=params, headers=headers)
    assert balance.json()["data"]["balance"] == 7.5
    own = await client.get("/api/v1/billing/balance", headers=headers)
    assert own.json()["data"]["balance"] == 0
    ledger = await client.get("/api/v1/billing/ledger", params=params, headers=headers)
    assert [e["amount"] for e in ledger.json()["data"]] == [7.5]


@pytest.mark.parametrize("path", READS)
async def test_a_tenant_naming_another_org_is_a_403_never_its_own_data(
    client: httpx.AsyncClient, org: BootstrapResult, path: str
) -> None:
    tenant = await onboard(client, org)
    headers = bearer(tenant.management_key)
    sep = "&" if "?" in path else "?"
    other = await client.get(f"{path}{sep}org_id={org.org_id}", headers=headers)
    unknown = await client.get(f"{path}{sep}org_id=no-such-org", headers=headers)
    assert (other.status_code, unknown.status_code) == (403, 403)
    assert other.json() == unknown.json()
    own = await client.get(f"{path}{sep}org_id={tenant.org_id}", headers=headers)
    assert own.status_code == 200


@pytest.mark.parametrize("path", READS)
async def test_an_unknown_org_is_a_404_for_the_operator(
    client: httpx.AsyncClient, org: BootstrapResult, path: str
) -> None:
    sep = "&" if "?" in path else "?"
    response = await client.get(f"{path}{sep}org_id=no-such-org", headers=bearer(org.management_key))
    assert response.status_code == 404
