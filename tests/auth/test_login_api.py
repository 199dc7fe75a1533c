"""POST /api/v1/auth/login issues a user session JWT; where it works and where it is refused."""

from __future__ import annotations

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, bearer


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_the_right_password_returns_a_bearer_token(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await _login(client, org.email, DEFAULT_PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("eyJ")
    assert body["user"]["memberships"] == [{"org_id": org.org_id, "role": "owner"}]


async def test_the_email_is_matched_case_insensitively(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await _login(client, org.email.upper(), DEFAULT_PASSWORD)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("owner@acme.test", "wrong-password"), ("nobody@acme.test", DEFAULT_PASSWORD)],
    ids=["wrong password", "unknown email"],
)
async def test_bad_credentials_are_401_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient, org: BootstrapResult, email: str, password: str
) -> None:
    response = await _login(client, email, password)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "message": "Invalid email or password"}}


@pytest.mark.parametrize(
    "body", [{}, {"email": "", "password": "x"}, {"email": "a@b.c"}, {"email": 1, "password": 2}]
)
async def test_malformed_login_bodies_are_400(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


async def test_the_session_token_works_on_auth_me(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    token = (await _login(client, org.email, DEFAULT_PASSWORD)).json()["access_token"]
    response = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 200
    assert (response.json()["data"]["id"], response.json()["data"]["email"]) == (org.user_id, org.email)


async def test_a_tampered_token_is_401_on_auth_me(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    token = (await _login(client, org.email, DEFAULT_PASSWORD)).json()["access_token"]
    response = await client.get("/api/v1/auth/me", headers=bearer(token[:-2] + "xx"))
    assert response.status_code == 401


async def test_a_management_key_is_not_a_session_on_auth_me(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.get("/api/v1/auth/me", headers=bearer(org.management_key))
    assert response.status_code == 401


async def test_a_session_token_is_refused_on_the_management_keys_api(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    token = (await _login(client, org.email, DEFAULT_PASSWORD)).json()["access_token"]
    for method, path in (("GET", "/api/v1/keys"), ("POST", "/api/v1/keys")):
        response = await client.request(method, path, json={"name": "x"}, headers=bearer(token))
        assert response.status_code == 403
        assert response.json() == {"error": {"code": 403, "message": "Not a management key"}}


async def test_a_session_token_is_not_a_key_on_current_key(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    token = (await _login(client, org.email, DEFAULT_PASSWORD)).json()["access_token"]
    response = await client.get("/api/v1/key", headers=bearer(token))
    assert response.status_code == 401
