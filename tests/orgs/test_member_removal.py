"""Removing a member stops every key they made in the org; none comes back without an admin."""

from __future__ import annotations

import httpx

from keyplane.auth.tokens import hash_key
from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, bearer
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    login,
    member_session,
)

ORG_KEY_SCOPES = ["keys:read", "keys:write", "balance:read"]


async def _works(client: httpx.AsyncClient, plaintext: str) -> bool:
    status = (await client.get("/api/v1/key", headers=bearer(plaintext))).status_code
    assert status in (200, 401)
    return status == 200


async def _remove(client: httpx.AsyncClient, org: BootstrapResult, user_id: str) -> int:
    response = await client.delete(f"/api/v1/members/{user_id}", headers=bearer(org.management_key))
    assert response.status_code == 200, response.text
    audit = await client.get(
        "/api/v1/audit-events", params={"object_type": "member"}, headers=bearer(org.management_key)
    )
    removed = audit.json()["data"][0]
    assert (removed["action"], removed["object_id"]) == ("member.removed", user_id)
    return int(removed["details"]["keys_revoked"])


async def test_removal_revokes_keys_of_every_kind_and_a_removed_admin_restores_none(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    admin, jwt = await member_session(client, context, org, "admin@acme.test", role="admin")
    org_key = await create_portal_key(client, jwt, name="org-wide", org_id=org.org_id, scopes=ORG_KEY_SCOPES)
    personal = await create_portal_key(client, jwt, name="personal")
    made = await client.post("/api/v1/keys", json={"name": "inference"}, headers=bearer(org_key["api_key"]))
    child = await client.post(
        "/v1/manage/api-keys",
        json={"name": "cortecs child", "is_management_key": True},
        headers=bearer(org_key["api_key"]),
    )
    plaintexts = [org_key["api_key"], personal["api_key"], made.json()["key"], child.json()["api_key"]]
    assert [await _works(client, p) for p in plaintexts] == [True] * 4

    assert await _remove(client, org, admin) == 4
    assert [await _works(client, p) for p in plaintexts] == [False] * 4

    # The removed admin still has a login; every portal route answers as if the keys did not exist.
    for key in (org_key, personal):
        for response in (
            await client.post(f"{PORTAL}/api-keys/restore", json={"id": key["id"]}, headers=jwt),
            await client.post(f"{PORTAL}/api-keys/revoke", json={"id": key["id"]}, headers=jwt),
            await client.put(f"{PORTAL}/api-keys/{key['id']}", json={"name": "back"}, headers=jwt),
            await client.delete(f"{PORTAL}/api-keys/{key['id']}", headers=jwt),
        ):
            assert_portal_error(response, 404, "API key not found")
    assert assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt)) == []
    assert [await _works(client, p) for p in plaintexts] == [False] * 4


async def test_a_key_revoked_before_removal_stays_revoked(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    admin, jwt = await member_session(client, context, org, "admin@acme.test", role="admin")
    org_key = await create_portal_key(client, jwt, name="org-wide", org_id=org.org_id)
    assert_portal_ok(await client.post(f"{PORTAL}/api-keys/revoke", json={"id": org_key["id"]}, headers=jwt))
    assert await _remove(client, org, admin) == 0
    restore = await client.post(f"{PORTAL}/api-keys/restore", json={"id": org_key["id"]}, headers=jwt)
    assert_portal_error(restore, 404, "API key not found")
    assert not await _works(client, org_key["api_key"])


async def test_a_rejoined_member_needs_an_admin_to_bring_a_key_back(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member, jwt = await member_session(client, context, org, "member@acme.test")
    key = await create_portal_key(client, jwt, name="personal")
    assert await _remove(client, org, member) == 1
    owner = bearer(org.management_key)
    rejoined = await client.post("/api/v1/members", json={"email": "member@acme.test"}, headers=owner)
    assert rejoined.status_code == 201
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": rejoined.json()["invitation"]["token"], "password": DEFAULT_PASSWORD},
    )
    assert accepted.status_code == 200, accepted.text
    jwt = await login(client, "member@acme.test")
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert [(k["id"], k["status"]) for k in listed] == [(key["id"], "revoked")]

    refused = await client.post(f"{PORTAL}/api-keys/restore", json={"id": key["id"]}, headers=jwt)
    assert_portal_error(
        refused, 403, "An organization admin disabled this key: only an owner or admin can enable it again"
    )
    assert not await _works(client, key["api_key"])

    # An admin lifts the hold; then the member may restore their own key.
    enabled = await client.patch(
        f"/api/v1/keys/{hash_key(key['api_key'])}", json={"disabled": False}, headers=owner
    )
    assert enabled.status_code == 200, enabled.text
    restored = assert_portal_ok(
        await client.post(f"{PORTAL}/api-keys/restore", json={"id": key["id"]}, headers=jwt)
    )
    assert restored["status"] == "active"
    assert_portal_ok(await client.get(f"{PORTAL}/balance", headers=bearer(key["api_key"])))
