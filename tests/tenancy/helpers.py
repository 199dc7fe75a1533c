"""Onboarding steps through the public APIs, shared by the tenancy tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer

OWNER_SCOPES = [
    "keys:read",
    "keys:write",
    "usage:read",
    "balance:read",
    "orgs:write",
    "audit:read",
    "providers:read",
    "providers:write",
    "settings:read",
    "settings:write",
]
TENANT_PASSWORD = "tenant-owner-password-1"


@dataclass(frozen=True)
class Tenant:
    org_id: str
    workspace_id: str
    owner_email: str
    session_token: str
    management_key: str


async def create_org(
    client: httpx.AsyncClient,
    operator: BootstrapResult,
    name: str = "Globex",
    email: str = "boss@globex.test",
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/organizations",
        headers=bearer(operator.management_key),
        json={"name": name, "owner_email": email, "owner_name": "Boss"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = TENANT_PASSWORD) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def onboard(
    client: httpx.AsyncClient,
    operator: BootstrapResult,
    name: str = "Globex",
    email: str = "boss@globex.test",
) -> Tenant:
    """Operator creates the org, the owner accepts, signs in and makes the org's management key."""
    created = await create_org(client, operator, name, email)
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": created["invitation"]["token"], "password": TENANT_PASSWORD},
    )
    assert accepted.status_code == 200, accepted.text
    token = await login(client, email)
    org_id = created["data"]["id"]
    key = await client.post(
        "/api/v1/portal/management/api-keys",
        headers=bearer(token),
        json={"name": "tenant admin", "org_id": org_id, "scopes": OWNER_SCOPES},
    )
    assert key.status_code in (200, 201), key.text
    return Tenant(
        org_id=org_id,
        workspace_id=created["data"]["default_workspace_id"],
        owner_email=email,
        session_token=token,
        management_key=str(key.json()["data"]["api_key"]),
    )
