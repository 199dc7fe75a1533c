"""The OpenRouter-compatible keys API over ASGI, on both backends."""

from __future__ import annotations

import httpx

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer


async def test_create_returns_plaintext_once_and_lists_newest_first(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    first = await client.post("/api/v1/keys", json={"name": "first"}, headers=headers)
    second = await client.post("/api/v1/keys", json={"name": "second", "limit": 5}, headers=headers)
    assert first.status_code == 201 and second.status_code == 201
    assert second.json()["key"].startswith("sk-kp-v1-")
    listed = await client.get("/api/v1/keys", headers=headers)
    assert [k["name"] for k in listed.json()["data"]] == ["second", "first"]
    assert "key" not in listed.json()["data"][0]


async def test_another_orgs_key_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult, context
) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import make_org

    other = await make_org(context, name="Other", email="owner@other.test")
    created = await client.post("/api/v1/keys", json={"name": "mine"}, headers=bearer(org.management_key))
    key_hash = created.json()["data"]["hash"]
    response = await client.get(f"/api/v1/keys/{key_hash}", headers=bearer(other.management_key))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "API key not found"}}
