"""Members: admins invite, change roles and remove; owners stay in charge."""

from __future__ import annotations

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, add_user, bearer, make_key, make_org


async def _invite_and_accept(
    client: httpx.AsyncClient, headers: dict[str, str], email: str, role: str
) -> str:
    invited = await client.post("/api/v1/members", json={"email": email, "role": role}, headers=headers)
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": invited.json()["invitation"]["token"], "password": "long-enough-pw"},
    )
    assert accepted.status_code == 200, accepted.text
    return str(accepted.json()["data"]["user_id"])


async def test_an_accepted_invitation_makes_a_member_who_can_log_in(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    await _invite_and_accept(client, headers, "New@Acme.test", "admin")
    login = await client.post(
        "/api/v1/auth/login", json={"email": "new@acme.test", "password": "long-enough-pw"}
    )
    assert login.status_code == 200
    listed = await client.get("/api/v1/members", headers=headers)
    assert [(m["email"], m["role"]) for m in listed.json()["data"]] == [
        ("owner@acme.test", "owner"),
        ("new@acme.test", "admin"),
    ]


async def test_an_existing_member_accepting_again_is_a_409(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    invited = await client.post("/api/v1/members", json={"email": org.email}, headers=headers)
    assert invited.status_code == 201
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": invited.json()["invitation"]["token"], "password": DEFAULT_PASSWORD},
    )
    assert accepted.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"email": "new@acme.test", "password": "long-enough-pw"},  # passwords are the invitee's
        {"email": "not-an-email"},
        {"email": "new@acme.test", "role": "superuser"},
        {"email": 7},
        {"role": "admin"},
    ],
)
async def test_bad_member_input_is_400_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    headers = bearer(org.management_key)
    response = await client.post("/api/v1/members", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert len((await client.get("/api/v1/members", headers=headers)).json()["data"]) == 1
    assert (await client.get("/api/v1/invitations", headers=headers)).json()["data"] == []


async def test_a_short_password_on_accept_is_a_400_and_the_invitation_stays_open(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    invited = await client.post("/api/v1/members", json={"email": "new@acme.test"}, headers=headers)
    token = invited.json()["invitation"]["token"]
    short = await client.post("/api/v1/invitations/accept", json={"token": token, "password": "short"})
    assert short.status_code == 400
    ok = await client.post("/api/v1/invitations/accept", json={"token": token, "password": "long-enough-pw"})
    assert ok.status_code == 200


async def test_role_change_and_the_last_owner_rule(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    promoted = await client.patch(f"/api/v1/members/{member}", json={"role": "admin"}, headers=headers)
    assert promoted.json()["data"]["role"] == "admin"
    last_owner = await client.patch(
        f"/api/v1/members/{org.user_id}", json={"role": "member"}, headers=headers
    )
    assert last_owner.status_code == 409
    assert (await client.delete(f"/api/v1/members/{org.user_id}", headers=headers)).status_code == 409


async def test_an_admin_cannot_touch_owners(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    admin = await add_user(context, org_id=org.org_id, email="a@acme.test", role="admin")
    admin_key = await make_key(context, org_id=org.org_id, user_id=admin, role="admin", kind="management")
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    headers = bearer(admin_key)
    assert (
        await client.patch(f"/api/v1/members/{member}", json={"role": "owner"}, headers=headers)
    ).status_code == 403
    assert (await client.delete(f"/api/v1/members/{org.user_id}", headers=headers)).status_code == 403
    assert (
        await client.patch(f"/api/v1/members/{member}", json={"role": "admin"}, headers=headers)
    ).status_code == 200


async def test_removing_a_member_revokes_their_keys_and_is_audited(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    their_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    assert (await client.get("/api/v1/key", headers=bearer(their_key))).status_code == 200
    headers = bearer(org.management_key)
    assert (await client.delete(f"/api/v1/members/{member}", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/key", headers=bearer(their_key))).status_code == 401
    assert (await client.delete(f"/api/v1/members/{member}", headers=headers)).status_code == 404
    audit = await client.get("/api/v1/audit-events", params={"object_type": "member"}, headers=headers)
    removed = audit.json()["data"][0]
    assert (removed["action"], removed["object_id"], removed["details"]["keys_revoked"]) == (
        "member.removed",
        member,
        1,
    )


async def test_members_are_admin_only_and_isolated(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    assert (await client.get("/api/v1/members", headers=bearer(member_key))).status_code == 403
    body = {"email": "x@acme.test"}
    assert (await client.post("/api/v1/members", json=body, headers=bearer(member_key))).status_code == 403
    other = await make_org(context, name="Other", email="owner@other.test")
    headers = bearer(other.management_key)
    assert (
        await client.patch(f"/api/v1/members/{member}", json={"role": "admin"}, headers=headers)
    ).status_code == 404
    assert (await client.delete(f"/api/v1/members/{member}", headers=headers)).status_code == 404
    listed = await client.get("/api/v1/members", headers=headers)
    assert [m["email"] for m in listed.json()["data"]] == ["owner@other.test"]
