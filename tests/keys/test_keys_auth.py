"""Who may call the keys API: management keys with the right scope; everyone else gets 401/403."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.kernel.scopes import KEYS_READ, KEYS_WRITE, USAGE_READ
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, bearer, make_key
from tests.keys.keys_data import count_keys, set_key_state

MANAGEMENT_ROUTES = [
    ("GET", "/api/v1/keys"),
    ("POST", "/api/v1/keys"),
    ("GET", "/api/v1/keys/" + "0" * 64),
    ("PATCH", "/api/v1/keys/" + "0" * 64),
    ("DELETE", "/api/v1/keys/" + "0" * 64),
]
BODIES = {"POST": {"name": "x"}, "PATCH": {"name": "x"}}


async def _call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return await client.request(method, path, json=BODIES.get(method), headers=headers)


@pytest.mark.parametrize(("method", "path"), MANAGEMENT_ROUTES)
async def test_a_request_without_credentials_is_401(
    client: httpx.AsyncClient, org: BootstrapResult, method: str, path: str
) -> None:
    response = await _call(client, method, path, {})
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": "Missing Authentication header"}}


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-key",
        "Bearer sk_mg_" + "g" * 64,
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.bad",
        "Bearer sk_mg_" + "ab" * 32,  # well-formed, never issued
        "Bearer sk-kp-v1-" + "cd" * 32,
    ],
)
async def test_garbage_or_unknown_credentials_are_401(
    client: httpx.AsyncClient, org: BootstrapResult, authorization: str
) -> None:
    response = await client.get("/api/v1/keys", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"disabled": True}, "API key disabled"),
        ({"revoked": True}, "API key revoked"),
        ({"expires_at": "past"}, "API key expired"),
    ],
)
async def test_a_management_key_that_may_not_be_used_is_401(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    state: dict[str, object],
    message: str,
) -> None:
    if state.get("expires_at") == "past":
        state = {"expires_at": utcnow() - timedelta(seconds=1)}
    await set_key_state(context, org.management_key, **state)  # type: ignore[arg-type]
    response = await client.get("/api/v1/keys", headers=bearer(org.management_key))
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": message}}


async def test_current_key_refuses_a_disabled_inference_key(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    await set_key_state(context, plaintext, disabled=True)
    response = await client.get("/api/v1/key", headers=bearer(plaintext))
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), MANAGEMENT_ROUTES)
async def test_an_inference_key_on_management_routes_is_403(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, method: str, path: str
) -> None:
    plaintext = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    response = await _call(client, method, path, bearer(plaintext))
    assert response.status_code == 403
    assert response.json() == {"error": {"code": 403, "message": "Not a management key"}}


async def test_an_inference_key_reads_its_own_metadata(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    plaintext = await make_key(context, org_id=org.org_id, user_id=org.user_id, name="worker")
    response = await client.get("/api/v1/key", headers=bearer(plaintext))
    assert response.status_code == 200
    assert (response.json()["data"]["name"], response.json()["data"]["is_management_key"]) == (
        "worker",
        False,
    )


async def test_a_read_only_management_key_lists_but_cannot_create(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    reader = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=[KEYS_READ]
    )
    before = await count_keys(context)
    listed = await client.get("/api/v1/keys", headers=bearer(reader))
    created = await client.post("/api/v1/keys", json={"name": "x"}, headers=bearer(reader))
    assert listed.status_code == 200
    assert created.status_code == 403
    assert created.json() == {"error": {"code": 403, "message": "This key lacks the 'keys:write' scope"}}
    assert await count_keys(context) == before


async def test_a_key_with_other_scopes_cannot_read_keys(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    usage_only = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=[USAGE_READ]
    )
    response = await client.get("/api/v1/keys", headers=bearer(usage_only))
    assert response.status_code == 403


async def test_a_write_scoped_key_can_create(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    writer = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, kind="management", scopes=[KEYS_WRITE]
    )
    response = await client.post("/api/v1/keys", json={"name": "x"}, headers=bearer(writer))
    assert response.status_code == 201


async def test_a_user_session_jwt_is_refused_on_the_keys_api(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    login = await client.post("/api/v1/auth/login", json={"email": org.email, "password": DEFAULT_PASSWORD})
    token = login.json()["access_token"]
    response = await client.get("/api/v1/keys", headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {"error": {"code": 403, "message": "Not a management key"}}
