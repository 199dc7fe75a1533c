"""Invitations: single use, expiring, and never a hint of whether an email has an account."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.models import Invitation, Membership
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, add_user, bearer, make_key, make_org
from tests.tenancy.helpers import TENANT_PASSWORD, create_org, login

INVALID = {"error": {"code": 400, "message": "This invitation is invalid, already used or expired"}}


async def _accept(client: httpx.AsyncClient, token: str, password: str = TENANT_PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/invitations/accept", json={"token": token, "password": password})


async def test_accepting_creates_the_owner_who_can_sign_in(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    created = await create_org(client, org)
    response = await _accept(client, created["invitation"]["token"])
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["org_id"], data["role"], data["email"]) == (
        created["data"]["id"],
        "owner",
        "boss@globex.test",
    )
    me = await client.get("/api/v1/auth/me", headers=bearer(await login(client, "boss@globex.test")))
    assert me.json()["data"]["memberships"] == [{"org_id": created["data"]["id"], "role": "owner"}]
    assert me.json()["data"]["name"] == "Boss"


async def test_used_unknown_and_expired_tokens_answer_the_same_400(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    first = await create_org(client, org)
    second = await create_org(client, org, name="Initech", email="bill@initech.test")
    assert (await _accept(client, first["invitation"]["token"])).status_code == 200
    async with session_scope(context.sessions) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == second["invitation"]["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    answers = [
        await _accept(client, first["invitation"]["token"]),
        await _accept(client, "kp_inv_" + "0" * 64),
        await _accept(client, "garbage"),
        await _accept(client, second["invitation"]["token"]),
    ]
    assert [(r.status_code, r.json()) for r in answers] == [(400, INVALID)] * 4


async def test_concurrent_accepts_have_one_winner(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    created = await create_org(client, org)
    answers = await asyncio.gather(*(_accept(client, created["invitation"]["token"]) for _ in range(5)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 1 and all(c in (200, 400, 409) for c in codes), codes


async def test_an_existing_account_must_give_its_own_password(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    invited = await client.post(
        "/api/v1/members", headers=bearer(tenant.management_key), json={"email": org.email, "role": "admin"}
    )
    token = invited.json()["invitation"]["token"]
    wrong = await _accept(client, token, password="not-the-password")
    assert wrong.status_code == 401
    right = await _accept(client, token, password=DEFAULT_PASSWORD)
    assert right.status_code == 200 and right.json()["data"]["user_id"] == org.user_id
    async with context.sessions() as session:
        roles = (
            (await session.execute(select(Membership.role).where(Membership.user_id == org.user_id)))
            .scalars()
            .all()
        )
    assert sorted(roles) == ["admin", "owner"]


async def test_inviting_never_reveals_whether_the_email_has_an_account(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    headers = bearer(tenant.management_key)
    existing = await client.post("/api/v1/members", headers=headers, json={"email": org.email})
    fresh = await client.post("/api/v1/members", headers=headers, json={"email": "nobody@else.test"})
    assert existing.status_code == fresh.status_code == 201
    assert set(existing.json()) == set(fresh.json()) == {"invitation"}
    assert set(existing.json()["invitation"]) == set(fresh.json()["invitation"])
    assert org.user_id not in existing.text
    members = await client.get("/api/v1/members", headers=headers)
    assert [m["email"] for m in members.json()["data"]] == ["owner@tenant.test"]  # nobody linked silently


async def test_a_password_in_the_member_body_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.post(
        "/api/v1/members",
        headers=bearer(org.management_key),
        json={"email": "x@y.test", "password": "p" * 12},
    )
    assert response.status_code == 400 and "invitation" in response.json()["error"]["message"]


async def test_admins_list_and_cancel_their_invitations_only(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    invited = await client.post(
        "/api/v1/members", headers=bearer(org.management_key), json={"email": "n@a.test"}
    )
    invitation_id = invited.json()["invitation"]["id"]
    listed = await client.get("/api/v1/invitations", headers=bearer(org.management_key))
    assert [i["id"] for i in listed.json()["data"]] == [invitation_id]
    assert listed.json()["data"][0]["token"] is None
    foreign = await client.delete(
        f"/api/v1/invitations/{invitation_id}", headers=bearer(tenant.management_key)
    )
    assert foreign.status_code == 404
    cancelled = await client.delete(
        f"/api/v1/invitations/{invitation_id}", headers=bearer(org.management_key)
    )
    assert cancelled.status_code == 200
    again = await client.delete(f"/api/v1/invitations/{invitation_id}", headers=bearer(org.management_key))
    assert again.status_code == 404
    assert (await _accept(client, invited.json()["invitation"]["token"])).status_code == 400


async def test_members_cannot_invite_and_only_owners_invite_owners(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test", role="member")
    admin = await add_user(context, org_id=org.org_id, email="a@acme.test", role="admin")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    admin_key = await make_key(context, org_id=org.org_id, user_id=admin, role="admin", kind="management")
    by_member = await client.post("/api/v1/members", headers=bearer(member_key), json={"email": "x@y.test"})
    owner_by_admin = await client.post(
        "/api/v1/members", headers=bearer(admin_key), json={"email": "x@y.test", "role": "owner"}
    )
    assert (by_member.status_code, owner_by_admin.status_code) == (403, 403)


async def test_concurrent_cancels_have_one_winner_and_one_audit_event(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    invited = await client.post("/api/v1/members", headers=headers, json={"email": "n@a.test"})
    path = f"/api/v1/invitations/{invited.json()['invitation']['id']}"
    answers = await asyncio.gather(*(client.delete(path, headers=headers) for _ in range(8)))
    assert sorted(r.status_code for r in answers) == [200] + [404] * 7
    trail = await client.get(
        "/api/v1/audit-events", params={"action": "invitation.cancelled"}, headers=headers
    )
    assert len(trail.json()["data"]) == 1
