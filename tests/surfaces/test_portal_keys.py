"""Portal management keys: created, listed, updated, revoked, restored and deleted with a user JWT."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import AuditEvent
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    login,
    member_session,
)


async def test_the_key_lifecycle_end_to_end(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    jwt = await login(client, org.email)
    created = await create_portal_key(
        client,
        jwt,
        name="finance-dashboard",
        description="Used for finance dashboard queries",
        expires_at=0,
    )
    plaintext = created["api_key"]
    assert re.fullmatch(r"sk_mg_[0-9a-f]{64}", plaintext)
    assert created["display"] == f"sk_mg_{plaintext[6:14]}...{plaintext[-8:]}"
    assert created["org_id"] == org.org_id and created["status"] == "active"
    assert created["expires_at"] == 0 and created["last_used_at"] == 0
    assert abs(created["created_at"] - time.time()) < 3600
    assert created["scopes"] == ["balance:read", "usage:read"] and created["reach"] == "user"
    key_id = created["id"]

    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    mine = next(k for k in listed if k["id"] == key_id)
    assert "api_key" not in mine and mine["name"] == "finance-dashboard"

    future = int(time.time()) + 86_400
    update = {"name": "finance", "description": "renamed", "scopes": ["balance:read"], "expires_at": future}
    updated = assert_portal_ok(await client.put(f"{PORTAL}/api-keys/{key_id}", json=update, headers=jwt))
    assert (updated["name"], updated["description"], updated["scopes"]) == (
        "finance",
        "renamed",
        ["balance:read"],
    )
    assert updated["expires_at"] == future

    assert_portal_ok(await client.get(f"{PORTAL}/balance", headers=bearer(plaintext)))
    used = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert next(k for k in used if k["id"] == key_id)["last_used_at"] > 0

    revoked = assert_portal_ok(
        await client.post(f"{PORTAL}/api-keys/revoke", json={"id": key_id}, headers=jwt)
    )
    assert revoked["status"] == "revoked"
    assert_portal_error(
        await client.get(f"{PORTAL}/balance", headers=bearer(plaintext)), 401, "API key revoked"
    )
    refused = await client.get("/v1/manage/users/balance", headers=bearer(plaintext))
    assert refused.status_code == 401

    restored = assert_portal_ok(
        await client.post(f"{PORTAL}/api-keys/restore", json={"id": key_id}, headers=jwt)
    )
    assert restored["status"] == "active"
    assert_portal_ok(await client.get(f"{PORTAL}/balance", headers=bearer(plaintext)))

    deleted = assert_portal_ok(await client.delete(f"{PORTAL}/api-keys/{key_id}", headers=jwt))
    assert deleted == {"id": key_id}
    assert_portal_error(
        await client.get(f"{PORTAL}/balance", headers=bearer(plaintext)), 401, "API key not found"
    )
    assert_portal_error(
        await client.delete(f"{PORTAL}/api-keys/{key_id}", headers=jwt), 404, "API key not found"
    )

    async with session_scope(context.sessions) as session:
        rows = await session.execute(
            select(AuditEvent.action).where(AuditEvent.actor_type == "user").order_by(AuditEvent.id)
        )
        actions = list(rows.scalars())[1:]  # the first is the bootstrap key's creation
    assert actions == ["key.created", "key.updated", "key.revoked", "key.restored", "key.deleted"]


async def test_the_eleventh_active_key_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    _member, jwt = await member_session(client, context, org, "member@acme.test")
    ids = [(await create_portal_key(client, jwt, name=f"k{i}"))["id"] for i in range(10)]
    eleventh = await client.post(f"{PORTAL}/api-keys", json={"name": "k10"}, headers=jwt)
    message = assert_portal_error(eleventh, 400)
    assert "at most 10 active management keys" in message
    # Revoking one frees a place; restoring it while full is refused the same way.
    assert_portal_ok(await client.post(f"{PORTAL}/api-keys/revoke", json={"id": ids[0]}, headers=jwt))
    await create_portal_key(client, jwt, name="k10")
    restore = await client.post(f"{PORTAL}/api-keys/restore", json={"id": ids[0]}, headers=jwt)
    assert "at most 10 active" in assert_portal_error(restore, 400)
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert sorted(k["status"] for k in listed) == ["active"] * 10 + ["revoked"]


async def test_org_level_keys_need_an_org_admin(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    owner_jwt = await login(client, org.email)
    org_key = await create_portal_key(client, owner_jwt, name="org-wide", org_id=org.org_id)
    assert org_key["reach"] == "org" and org_key["org_id"] == org.org_id

    _member, member_jwt = await member_session(client, context, org, "member@acme.test")
    refused = await client.post(
        f"{PORTAL}/api-keys", json={"name": "x", "org_id": org.org_id}, headers=member_jwt
    )
    assert_portal_error(refused, 403, "Only organization admins can create organization-level keys")
    other = await make_org(context, name="Other", email="owner@other.test")
    foreign = await client.post(
        f"{PORTAL}/api-keys", json={"name": "x", "org_id": other.org_id}, headers=owner_jwt
    )
    assert_portal_error(foreign, 404, "Organization not found")
    assert assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=member_jwt)) == []


async def test_another_users_key_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    owner_jwt = await login(client, org.email)
    key = await create_portal_key(client, owner_jwt, name="owners")
    _member, member_jwt = await member_session(client, context, org, "member@acme.test", role="admin")
    key_id = key["id"]
    for response in (
        await client.put(f"{PORTAL}/api-keys/{key_id}", json={"name": "mine now"}, headers=member_jwt),
        await client.delete(f"{PORTAL}/api-keys/{key_id}", headers=member_jwt),
        await client.post(f"{PORTAL}/api-keys/revoke", json={"id": key_id}, headers=member_jwt),
        await client.post(f"{PORTAL}/api-keys/restore", json={"id": key_id}, headers=member_jwt),
    ):
        assert_portal_error(response, 404, "API key not found")
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=owner_jwt))
    assert next(k for k in listed if k["id"] == key_id) | {"last_used_at": 0} == {
        k: v for k, v in key.items() if k != "api_key"
    } | {"last_used_at": 0}


async def test_an_expiring_key_stops_at_its_expiry(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    jwt = await login(client, org.email)
    soon = int(time.time()) + 3600
    key = await create_portal_key(client, jwt, name="short", expires_at=soon)
    assert key["expires_at"] == soon and key["status"] == "active"
    past = await client.put(f"{PORTAL}/api-keys/{key['id']}", json={"expires_at": 1_000_000}, headers=jwt)
    assert_portal_error(past, 400, "expires_at must be in the future (or 0 for never)")
    never = assert_portal_ok(
        await client.put(f"{PORTAL}/api-keys/{key['id']}", json={"expires_at": 0}, headers=jwt)
    )
    assert never["expires_at"] == 0


async def test_keys_of_every_kind_the_user_made_are_listed(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    jwt = await login(client, org.email)
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert [k["name"] for k in listed] == ["bootstrap management key"]
    # No scopes listed means every scope: shown as the full vocabulary.
    assert "keys:write" in listed[0]["scopes"] and listed[0]["reach"] == "org"


async def test_concurrent_creates_never_pass_the_cap(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    context.settings.management_keys_per_user = 3
    _member, jwt = await member_session(client, context, org, "member@acme.test")

    async def create(index: int) -> int:
        response = await client.post(f"{PORTAL}/api-keys", json={"name": f"k{index}"}, headers=jwt)
        return response.status_code

    statuses = await asyncio.gather(*(create(i) for i in range(6)))
    assert sorted(statuses) == [200, 200, 200, 400, 400, 400]
    assert len(assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))) == 3
