"""Repointing an org's credentials takes the admin or owner role: a plain member's management key
with providers:write still cannot create, replace, delete or refresh them (it may read them)."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.providers.conftest import openai_key
from tests.providers.test_bad_input import assert_bifrost_error


async def _member_key(context: AppContext, org: BootstrapResult, role: str) -> str:
    user = await add_user(context, org_id=org.org_id, email=f"{role}@tenant.test", role=role)
    return await make_key(
        context,
        org_id=org.org_id,
        user_id=user,
        role=role,
        kind="management",
        name=f"{role} key",
        scopes=["providers:read", "providers:write"],
    )


@pytest.mark.parametrize(("method", "suffix"), [("PUT", ""), ("DELETE", ""), ("POST", "/refresh-models")])
async def test_a_member_cannot_change_the_orgs_credentials(
    method: str, suffix: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    created = (
        await client.post(
            "/api/providers/openai/keys", json=openai_key(), headers=bearer(tenant.management_key)
        )
    ).json()
    member = await _member_key(context, tenant, "member")
    path = f"/api/providers/openai/keys/{created['id']}{suffix}"
    body = openai_key(value="sk-attacker-controlled-key") if method == "PUT" else None
    response = await client.request(method, path, json=body, headers=bearer(member))
    assert assert_bifrost_error(response, 403)["error"]["type"] == "admin_required"
    unchanged = await client.get(f"/api/providers/openai/keys/{created['id']}", headers=bearer(member))
    assert unchanged.status_code == 200 and unchanged.json() == created


async def test_a_member_cannot_add_a_credential(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    member = await _member_key(context, tenant, "member")
    response = await client.post("/api/providers/openai/keys", json=openai_key(), headers=bearer(member))
    assert_bifrost_error(response, 403)
    assert (await client.get("/api/keys", headers=bearer(member))).json() == []


async def test_an_admin_may_change_them(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    admin = await _member_key(context, tenant, "admin")
    created = await client.post("/api/providers/openai/keys", json=openai_key(), headers=bearer(admin))
    assert created.status_code == 200, created.text
    deleted = await client.delete(f"/api/providers/openai/keys/{created.json()['id']}", headers=bearer(admin))
    assert deleted.status_code == 200
