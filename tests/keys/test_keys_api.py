"""The OpenRouter-compatible keys API over ASGI, on both backends."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openrouter import operations
from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import ApiKey, AuditEvent
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org
from tests.keys.keys_data import key_row


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


async def test_full_lifecycle_create_get_rename_disable_delete(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys", json={"name": "svc", "limit": 20, "limit_reset": "weekly"}, headers=headers
    )
    key_hash = created.json()["data"]["hash"]
    fetched = (await client.get(f"/api/v1/keys/{key_hash}", headers=headers)).json()["data"]
    assert (fetched["name"], fetched["limit"], fetched["limit_reset"]) == ("svc", 20.0, "weekly")

    patched = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"name": "svc-2", "disabled": True, "limit": 7.5}, headers=headers
    )
    assert patched.status_code == 200
    data = patched.json()["data"]
    assert (data["name"], data["disabled"], data["limit"], data["limit_reset"]) == (
        "svc-2",
        True,
        7.5,
        "weekly",
    )
    assert data["updated_at"] is not None

    deleted = await client.delete(f"/api/v1/keys/{key_hash}", headers=headers)
    assert deleted.json() == {"deleted": True}
    gone = await client.get(f"/api/v1/keys/{key_hash}", headers=headers)
    assert gone.status_code == 404


async def test_patch_with_null_limit_and_reset_clears_them(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys", json={"name": "capped", "limit": 3, "limit_reset": "daily"}, headers=headers
    )
    key_hash = created.json()["data"]["hash"]
    patched = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"limit": None, "limit_reset": None}, headers=headers
    )
    data = patched.json()["data"]
    assert (data["limit"], data["limit_remaining"], data["limit_reset"]) == (None, None, None)


async def test_patch_leaves_fields_that_were_not_sent_unchanged(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys",
        json={"name": "keep", "limit": 4, "limit_reset": "monthly", "include_byok_in_limit": True},
        headers=headers,
    )
    key_hash = created.json()["data"]["hash"]
    data = (await client.patch(f"/api/v1/keys/{key_hash}", json={}, headers=headers)).json()["data"]
    assert (data["name"], data["limit"], data["limit_reset"], data["include_byok_in_limit"]) == (
        "keep",
        4.0,
        "monthly",
        True,
    )


# The SDK itself warns when it builds GetCurrentKeyData.rate_limit, a field it still requires.
SDK_RATE_LIMIT_DEPRECATION = "ignore:.*DEPRECATED.*:DeprecationWarning"


@pytest.mark.filterwarnings(SDK_RATE_LIMIT_DEPRECATION)
async def test_responses_parse_with_the_openrouter_sdk_models(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys",
        json={"name": "sdk", "limit": 1, "limit_reset": "monthly", "expires_at": "2099-01-01T00:00:00Z"},
        headers=headers,
    )
    parsed = operations.CreateKeysResponse.model_validate(created.json())
    assert parsed.key.startswith("sk-kp-v1-") and parsed.data.limit == 1.0
    key_hash = parsed.data.hash
    operations.ListResponse.model_validate((await client.get("/api/v1/keys", headers=headers)).json())
    operations.GetKeyResponse.model_validate(
        (await client.get(f"/api/v1/keys/{key_hash}", headers=headers)).json()
    )
    operations.UpdateKeysResponse.model_validate(
        (await client.patch(f"/api/v1/keys/{key_hash}", json={"name": "x"}, headers=headers)).json()
    )
    current = operations.GetCurrentKeyResponse.model_validate(
        (await client.get("/api/v1/key", headers=bearer(parsed.key))).json()
    )
    assert current.data.is_management_key is False and current.data.effective_budget is not None
    operations.DeleteKeysResponse.model_validate(
        (await client.delete(f"/api/v1/keys/{key_hash}", headers=headers)).json()
    )


async def test_current_key_describes_a_management_key(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.get("/api/v1/key", headers=bearer(org.management_key))
    data = response.json()["data"]
    assert data["hash"] == org.management_key_hash
    assert (data["is_management_key"], data["organization_id"]) == (True, org.org_id)


async def test_external_user_is_kept_from_openrouters_external_object(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    created = await client.post(
        "/api/v1/keys",
        json={"name": "partner", "external": {"user": "customer-42", "api_key": "lookup"}},
        headers=bearer(org.management_key),
    )
    assert created.json()["data"]["external_user"] == "customer-42"


async def test_expires_at_is_returned_in_utc_with_z(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    created = await client.post(
        "/api/v1/keys",
        json={"name": "temp", "expires_at": "2099-12-31T23:59:59Z"},
        headers=bearer(org.management_key),
    )
    assert created.json()["data"]["expires_at"] == "2099-12-31T23:59:59.000Z"


async def test_plaintext_is_never_stored(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    created = await client.post("/api/v1/keys", json={"name": "secret"}, headers=bearer(org.management_key))
    plaintext = created.json()["key"]
    row = await key_row(context, created.json()["data"]["hash"])
    assert row is not None
    stored = [str(getattr(row, column.key)) for column in row.__table__.columns]
    assert not any(plaintext in value or plaintext[9:] in value for value in stored)


async def test_every_change_leaves_an_audit_event(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "audited"}, headers=headers)
    key_hash = created.json()["data"]["hash"]
    await client.patch(f"/api/v1/keys/{key_hash}", json={"disabled": True}, headers=headers)
    await client.delete(f"/api/v1/keys/{key_hash}", headers=headers)
    async with context.sessions() as session:
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor_id)
                .where(AuditEvent.object_id == key_hash)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [tuple(e) for e in events] == [
        ("key.created", org.management_key_hash),
        ("key.updated", org.management_key_hash),
        ("key.deleted", org.management_key_hash),
    ]


async def test_another_orgs_key_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    created = await client.post("/api/v1/keys", json={"name": "mine"}, headers=bearer(org.management_key))
    key_hash = created.json()["data"]["hash"]
    response = await client.get(f"/api/v1/keys/{key_hash}", headers=bearer(other.management_key))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "API key not found"}}


async def test_another_org_can_neither_change_nor_delete_a_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    created = await client.post("/api/v1/keys", json={"name": "mine"}, headers=bearer(org.management_key))
    key_hash = created.json()["data"]["hash"]
    foreign = bearer(other.management_key)
    patched = await client.patch(f"/api/v1/keys/{key_hash}", json={"name": "pwned"}, headers=foreign)
    deleted = await client.delete(f"/api/v1/keys/{key_hash}", headers=foreign)
    listed = await client.get("/api/v1/keys", headers=foreign)
    assert (patched.status_code, deleted.status_code) == (404, 404)
    assert listed.json()["data"] == []
    row = await key_row(context, key_hash)
    assert row is not None and row.name == "mine"


async def test_a_created_key_is_committed_before_the_response_is_sent(
    app: FastAPI, org: BootstrapResult, context: AppContext
) -> None:
    """A client that reads right after a write must see it: commit precedes the response."""
    body = json.dumps({"name": "committed-first"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/keys",
        "raw_path": b"/api/v1/keys",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {org.management_key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    visible_at_start: list[int] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            async with context.sessions() as session:
                found = await session.execute(select(ApiKey.id).where(ApiKey.name == "committed-first"))
                visible_at_start.append(len(found.all()))

    await app(scope, receive, send)
    assert visible_at_start == [1]
