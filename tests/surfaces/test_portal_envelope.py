"""The portal envelope on every answer, with helpers the other portal tests share."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, add_user

PORTAL = "/api/v1/portal/management"


def assert_portal_ok(response: httpx.Response) -> Any:
    """200 with meta {code 0, "success", request_id = X-Request-ID}; returns data."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"meta", "data"}
    assert body["meta"] == {"code": 0, "message": "success", "request_id": response.headers["x-request-id"]}
    return body["data"]


def assert_portal_error(response: httpx.Response, status: int, message: str | None = None) -> str:
    """The error envelope: meta.code is the HTTP status, data is null; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"meta", "data"} and body["data"] is None
    meta = body["meta"]
    assert meta["code"] == status and meta["request_id"] == response.headers["x-request-id"]
    assert isinstance(meta["message"], str) and meta["message"]
    if message is not None:
        assert meta["message"] == message
    return str(meta["message"])


async def login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def member_session(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult, email: str, role: str = "member"
) -> tuple[str, dict[str, str]]:
    """A new member of the org, logged in: (user id, auth headers)."""
    user_id = await add_user(context, org_id=org.org_id, email=email, role=role)
    return user_id, await login(client, email)


async def create_portal_key(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    payload = {"name": "k", "scopes": ["balance:read", "usage:read"], **body}
    data: dict[str, Any] = assert_portal_ok(
        await client.post(f"{PORTAL}/api-keys", json=payload, headers=headers)
    )
    return data


async def test_errors_carry_the_request_id_of_the_response(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.get(f"{PORTAL}/balance", headers={"X-Request-ID": "trace-123"})
    assert assert_portal_error(response, 401) == "Missing Authentication header"
    assert response.json()["meta"]["request_id"] == "trace-123"


async def test_an_unknown_portal_route_is_an_enveloped_404(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    assert_portal_error(await client.get(f"{PORTAL}/nothing-here"), 404)


async def test_success_carries_the_request_id(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = await login(client, org.email)
    listed = await client.get(f"{PORTAL}/api-keys", headers={**headers, "X-Request-ID": "abc.def"})
    assert_portal_ok(listed)
    assert listed.json()["meta"]["request_id"] == "abc.def"
