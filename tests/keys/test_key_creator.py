"""A key's creator is the calling key's user, set by the server: a client cannot pin it on someone else."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key
from tests.keys.keys_data import count_keys


async def _member_key(context: AppContext, org: BootstrapResult) -> tuple[str, str]:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    return member, key


async def _works(client: httpx.AsyncClient, plaintext: str) -> bool:
    status = (await client.get("/api/v1/key", headers=bearer(plaintext))).status_code
    assert status in (200, 401)
    return status == 200


async def test_naming_another_member_as_creator_is_400_and_creates_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    _member, key = await _member_key(context, org)
    before = await count_keys(context)
    body = {"name": "outlives me", "creator_user_id": org.user_id}
    response = await client.post("/api/v1/keys", json=body, headers=bearer(key))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": 400,
            "message": "creator_user_id is set by the server to the user of the calling key; "
            "omit it or send that user's id",
        }
    }
    assert await count_keys(context) == before


async def test_the_creator_is_the_caller_and_goes_with_them(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member, key = await _member_key(context, org)
    named = await client.post(
        "/api/v1/keys", json={"name": "named", "creator_user_id": member}, headers=bearer(key)
    )
    unnamed = await client.post("/api/v1/keys", json={"name": "unnamed"}, headers=bearer(key))
    assert [r.status_code for r in (named, unnamed)] == [201, 201]
    assert [r.json()["data"]["creator_user_id"] for r in (named, unnamed)] == [member, member]
    plaintexts = [named.json()["key"], unnamed.json()["key"]]
    removed = await client.delete(f"/api/v1/members/{member}", headers=bearer(org.management_key))
    assert removed.status_code == 200
    assert [await _works(client, p) for p in plaintexts] == [False, False]


async def test_a_cortecs_body_cannot_choose_the_creator(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member, key = await _member_key(context, org)
    body = {"name": "outlives me", "creator_user_id": org.user_id, "is_management_key": False}
    created = await client.post("/v1/manage/api-keys", json=body, headers=bearer(key))
    assert created.status_code == 201  # the Cortecs surface ignores fields it does not know
    plaintext = created.json()["api_key"]
    current = await client.get("/api/v1/key", headers=bearer(plaintext))
    assert current.json()["data"]["creator_user_id"] == member
    removed = await client.delete(f"/api/v1/members/{member}", headers=bearer(org.management_key))
    assert removed.status_code == 200
    assert not await _works(client, plaintext)
