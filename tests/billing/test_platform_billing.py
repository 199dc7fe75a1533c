"""Credits and exchange rates belong to the operator: a tenant admin cannot mint credit or move rates."""

from __future__ import annotations

import httpx
import pytest

from keyplane.billing.ledger import balance_nanos
from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org


async def _balance(context: AppContext, org_id: str) -> int:
    async with context.sessions() as session:
        return await balance_nanos(session=session, org_id=org_id)


async def test_a_tenant_admin_cannot_credit_its_own_org(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    response = await client.post(
        "/api/v1/billing/credits", json={"amount": 100}, headers=bearer(tenant.management_key)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 403
    assert await _balance(context, tenant.org_id) == 0


async def test_a_tenant_admin_cannot_set_exchange_rates(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    response = await client.put(
        "/api/v1/billing/exchange-rates/EUR", json={"rate": 0.5}, headers=bearer(tenant.management_key)
    )
    assert response.status_code == 403
    rates = await client.get("/api/v1/billing/exchange-rates", headers=bearer(org.management_key))
    assert rates.json()["data"] == []


async def test_the_operator_credits_another_org_by_id(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    response = await client.post(
        "/api/v1/billing/credits",
        json={"amount": 12.5, "org_id": tenant.org_id, "note": "invoice 9"},
        headers=bearer(org.management_key),
    )
    assert response.status_code == 201, response.text
    assert await _balance(context, tenant.org_id) == 12_500_000_000
    assert await _balance(context, org.org_id) == 0


UNKNOWN_ORG = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize("target", ["own", "operator", "other tenant", "unknown", "garbage"])
async def test_a_tenant_gets_the_same_403_whether_the_org_id_exists_or_not(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, target: str
) -> None:
    """No existence oracle: a tenant probing org ids learns nothing from the answer."""
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    other = await make_org(context, name="Other", email="owner@other.test")
    org_id = {
        "own": tenant.org_id,
        "operator": org.org_id,
        "other tenant": other.org_id,
        "unknown": UNKNOWN_ORG,
        "garbage": "x" * 36,
    }[target]
    response = await client.post(
        "/api/v1/billing/credits", json={"amount": 5, "org_id": org_id}, headers=bearer(tenant.management_key)
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": "Credits belong to the platform: only an owner or admin of the operator "
            "organization may change them",
        }
    }
    assert [await _balance(context, o) for o in (org.org_id, tenant.org_id, other.org_id)] == [0, 0, 0]


async def test_crediting_an_unknown_org_is_404_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    response = await client.post(
        "/api/v1/billing/credits",
        json={"amount": 5, "org_id": UNKNOWN_ORG},
        headers=bearer(org.management_key),
    )
    assert response.json() == {"error": {"code": 404, "message": "Organization not found"}}
    assert await _balance(context, org.org_id) == 0
    events = await client.get("/api/v1/audit-events", headers=bearer(org.management_key))
    assert "credits.added" not in [e["action"] for e in events.json()["data"]]
