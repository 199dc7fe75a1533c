"""An org-level key has org reach only while its creator is an admin: demotion narrows it at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    member_session,
)
from tests.usage.usage_data import event_for, key_of, write_usage

SCOPES = ["keys:read", "keys:write", "usage:read", "orgs:write"]
AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Setup:
    admin: str
    jwt: dict[str, str]
    org_key: str  # the admin's org-level management key, made on the portal
    admins_key: str  # hashes of one inference key each, both with one request of usage
    owners_key: str


async def setup(client: httpx.AsyncClient, context: AppContext, org: BootstrapResult) -> Setup:
    admin, jwt = await member_session(client, context, org, "admin@acme.test", role="admin")
    org_key = await create_portal_key(client, jwt, name="org-wide", org_id=org.org_id, scopes=SCOPES)
    mine = await key_of(context, await make_key(context, org_id=org.org_id, user_id=admin, role="admin"))
    owners = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    await write_usage(context, [event_for(mine, at=AT), event_for(owners, at=AT)])
    return Setup(admin, jwt, org_key["api_key"], mine.hash, owners.hash)


async def set_role(client: httpx.AsyncClient, org: BootstrapResult, user_id: str, role: str) -> None:
    response = await client.patch(
        f"/api/v1/members/{user_id}", json={"role": role}, headers=bearer(org.management_key)
    )
    assert response.status_code == 200, response.text


async def what_it_reaches(client: httpx.AsyncClient, s: Setup, new_email: str) -> dict[str, object]:
    """Everything the org-level key is asked for, as the key's holder would ask."""
    headers = bearer(s.org_key)
    listed = (await client.get("/api/v1/keys", headers=headers)).json()["data"]
    usage = (await client.get("/api/v1/usage", headers=headers)).json()
    return {
        "listed": sorted(k["hash"] for k in listed),
        "usage_users": sorted(r["user_id"] for r in usage["data"]),
        "owners_key": (await client.get(f"/api/v1/keys/{s.owners_key}", headers=headers)).status_code,
        "owners_usage": (
            await client.get("/api/v1/usage", params={"key_hash": s.owners_key}, headers=headers)
        ).status_code,
        "change_owners_key": (
            await client.patch(f"/api/v1/keys/{s.owners_key}", json={"name": "x"}, headers=headers)
        ).status_code,
        "portal_usage_of_all": (
            await client.get(f"{PORTAL}/usage", params={"user_id": s.admin}, headers=headers)
        ).status_code,
        "members": (await client.get("/api/v1/members", headers=headers)).status_code,
        "add_member": (
            await client.post(
                "/api/v1/members",
                json={"email": new_email},
                headers=headers,
            )
        ).status_code,
    }


def org_reach(s: Setup, org: BootstrapResult) -> dict[str, object]:
    return {
        "listed": sorted([s.admins_key, s.owners_key]),
        "usage_users": sorted([s.admin, org.user_id]),
        "owners_key": 200,
        "owners_usage": 200,
        "change_owners_key": 200,
        "portal_usage_of_all": 200,
    }


async def test_a_demoted_admins_org_key_sees_only_its_creators_objects_until_promoted(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    s = await setup(client, context, org)
    admin_powers = {"members": 200, "add_member": 201}
    assert await what_it_reaches(client, s, "first@acme.test") == org_reach(s, org) | admin_powers

    await set_role(client, org, s.admin, "member")
    assert await what_it_reaches(client, s, "second@acme.test") == {
        "listed": [s.admins_key],
        "usage_users": [s.admin],
        "owners_key": 404,
        "owners_usage": 404,
        "change_owners_key": 404,
        "portal_usage_of_all": 403,
        "members": 403,
        "add_member": 403,
    }

    await set_role(client, org, s.admin, "admin")
    assert await what_it_reaches(client, s, "third@acme.test") == org_reach(s, org) | admin_powers


async def test_a_demoted_admin_cannot_restore_their_org_level_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    s = await setup(client, context, org)
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=s.jwt))
    key_id = next(k["id"] for k in listed if k["name"] == "org-wide")
    assert_portal_ok(await client.post(f"{PORTAL}/api-keys/revoke", json={"id": key_id}, headers=s.jwt))
    await set_role(client, org, s.admin, "member")
    refused = await client.post(f"{PORTAL}/api-keys/restore", json={"id": key_id}, headers=s.jwt)
    assert_portal_error(refused, 403, "Only organization admins can restore organization-level keys")
    assert (await client.get("/api/v1/key", headers=bearer(s.org_key))).status_code == 401
    await set_role(client, org, s.admin, "admin")
    restored = await client.post(f"{PORTAL}/api-keys/restore", json={"id": key_id}, headers=s.jwt)
    assert assert_portal_ok(restored)["status"] == "active"


async def test_a_key_made_by_a_demoted_admins_org_key_keeps_only_user_reach(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    s = await setup(client, context, org)
    await set_role(client, org, s.admin, "member")
    body = {"name": "child", "is_management_key": True}
    child = await client.post("/v1/manage/api-keys", json=body, headers=bearer(s.org_key))
    assert child.status_code == 201, child.text
    await set_role(client, org, s.admin, "admin")
    # Promoted again: the parent has org reach back, the child made while demoted does not.
    parent_sees = await client.get("/api/v1/keys", headers=bearer(s.org_key))
    child_sees = await client.get("/api/v1/keys", headers=bearer(child.json()["api_key"]))
    assert sorted(k["hash"] for k in parent_sees.json()["data"]) == sorted([s.admins_key, s.owners_key])
    assert [k["hash"] for k in child_sees.json()["data"]] == [s.admins_key]


async def test_an_owners_personal_key_has_no_admin_powers(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    personal = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", reach="user", name="mine"
    )
    headers = bearer(personal)
    refused = [
        await client.post("/api/v1/members", json={"email": "x@acme.test"}, headers=headers),
        await client.get("/api/v1/audit-events", headers=headers),
        await client.post("/api/v1/budgets", json={"scope": "org", "limit": 5}, headers=headers),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert (await client.get("/api/v1/keys", headers=headers)).status_code == 200
