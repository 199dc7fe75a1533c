"""The per-org key cap (organizations.max_api_keys, else KEYPLANE_MAX_KEYS_PER_ORG): a tenant cannot
mint keys without bound through any surface, not even by racing, restoring or switching kinds."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import Organization
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key, make_org
from tests.keys.keys_data import set_key_state
from tests.surfaces.test_portal_envelope import PORTAL, assert_portal_error, create_portal_key, login

MESSAGE = (
    "Key limit reached: this organization may hold at most {cap} API keys "
    "(management and inference together, revoked ones not counted); revoke or delete one first"
)


async def set_cap(context: AppContext, org_id: str, cap: int | None) -> None:
    """What the operator's organizations API stores; the column is the rule's only input."""
    async with session_scope(context.sessions) as session:
        await session.execute(update(Organization).where(Organization.id == org_id).values(max_api_keys=cap))


async def create(client: httpx.AsyncClient, org: BootstrapResult, **body: object) -> httpx.Response:
    return await client.post("/api/v1/keys", json={"name": "k", **body}, headers=bearer(org.management_key))


def assert_refused(response: httpx.Response, cap: int) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {"error": {"code": 403, "message": MESSAGE.format(cap=cap)}}


async def test_the_keys_api_refuses_a_key_over_the_org_cap(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await set_cap(context, org.org_id, 3)  # the bootstrap management key is one of them
    assert [(await create(client, org)).status_code for _ in range(2)] == [201, 201]
    assert_refused(await create(client, org), 3)
    listed = await client.get("/api/v1/keys", headers=bearer(org.management_key))
    assert len(listed.json()["data"]) == 2  # the inference keys; nothing was created by the refusals


async def test_a_null_cap_means_the_server_default(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    context.settings.max_keys_per_org = 2
    assert (await create(client, org)).status_code == 201
    assert_refused(await create(client, org), 2)


async def test_a_cap_of_zero_refuses_every_new_key(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await set_cap(context, org.org_id, 0)
    assert_refused(await create(client, org), 0)


async def test_disabled_and_expired_keys_count_revoked_and_deleted_ones_do_not(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await set_cap(context, org.org_id, 3)
    disabled = (await create(client, org)).json()["data"]["hash"]
    expired = (await create(client, org)).json()["data"]["hash"]
    await set_key_state(context, disabled, disabled=True)  # a PATCH re-enables it: it still counts
    await set_key_state(context, expired, expires_at=utcnow() - timedelta(days=1))  # likewise
    assert_refused(await create(client, org), 3)
    await set_key_state(context, disabled, revoked=True)
    assert (await create(client, org)).status_code == 201
    deleted = await client.delete(f"/api/v1/keys/{expired}", headers=bearer(org.management_key))
    assert deleted.status_code == 200
    assert (await create(client, org)).status_code == 201


async def test_another_orgs_keys_do_not_count(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    await set_cap(context, tenant.org_id, 2)
    for _ in range(3):
        await make_key(context, org_id=org.org_id, user_id=org.user_id)
    assert (await create(client, tenant)).status_code == 201
    assert_refused(await create(client, tenant), 2)


async def test_concurrent_creations_at_the_cap_do_not_all_pass(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    """The org row is locked while counting: of eight racing creates for the last slot, one wins."""
    await set_cap(context, org.org_id, 2)
    responses = await asyncio.gather(*(create(client, org, name=f"race {i}") for i in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [403] * 7
    listed = await client.get("/api/v1/keys", headers=bearer(org.management_key))
    assert len(listed.json()["data"]) == 1


async def test_the_cortecs_surface_refuses_over_the_org_cap_in_its_shape(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await set_cap(context, org.org_id, 1)
    response = await client.post(
        "/v1/manage/api-keys", json={"name": "one more"}, headers=bearer(org.management_key)
    )
    assert response.status_code == 403
    assert response.json() == {"error": MESSAGE.format(cap=1)}


async def test_the_portal_refuses_a_new_or_restored_key_over_the_org_cap(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    jwt = await login(client, org.email)
    await set_cap(context, org.org_id, 2)
    key = await create_portal_key(client, jwt, name="second")
    third = await client.post(f"{PORTAL}/api-keys", json={"name": "third"}, headers=jwt)
    assert_portal_error(third, 403, MESSAGE.format(cap=2))
    revoke = await client.post(f"{PORTAL}/api-keys/revoke", json={"id": key["id"]}, headers=jwt)
    assert revoke.status_code == 200
    await create_portal_key(client, jwt, name="in its place")
    # Restoring the revoked key would make three: revoke, create, restore is no way around the cap.
    restore = await client.post(f"{PORTAL}/api-keys/restore", json={"id": key["id"]}, headers=jwt)
    assert_portal_error(restore, 403, MESSAGE.format(cap=2))


@pytest.mark.parametrize("kind", ["inference", "management"])
async def test_the_cap_is_checked_in_the_key_service_for_every_caller(
    context: AppContext, org: BootstrapResult, kind: str
) -> None:
    from keyplane.keys.caps import OrgKeyLimitReached

    await set_cap(context, org.org_id, 1)
    with pytest.raises(OrgKeyLimitReached):
        await make_key(context, org_id=org.org_id, user_id=org.user_id, kind=kind)
