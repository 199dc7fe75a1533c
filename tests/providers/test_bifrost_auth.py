"""Who may call the Bifrost API, and what each org sees: own keys, platform keys read-only."""

from __future__ import annotations

import httpx
import pytest

from keyplane.auth.sessions import issue_session_token
from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key, make_org
from tests.providers.conftest import openai_key
from tests.providers.test_bad_input import assert_bifrost_error

ROUTES = [
    ("GET", "/api/keys"),
    ("GET", "/api/providers/openai/keys"),
    ("POST", "/api/providers/openai/keys"),
    ("GET", "/api/providers/openai/keys/k"),
    ("PUT", "/api/providers/openai/keys/k"),
    ("DELETE", "/api/providers/openai/keys/k"),
    ("POST", "/api/providers/openai/keys/k/refresh-models"),
]


async def _send(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = openai_key() if method in ("POST", "PUT") else None
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_inference_key_is_refused(
    method: str, path: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    key = await make_key(context, org_id=org.org_id, user_id=org.user_id, kind="inference")
    assert_bifrost_error(await _send(client, method, path, bearer(key)), 403)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_user_session_is_refused(
    method: str, path: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    token, _ = issue_session_token(org.user_id, secret=context.secret_key, ttl_seconds=600)
    assert_bifrost_error(await _send(client, method, path, bearer(token)), 403)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_x_api_key_header_is_refused(
    method: str, path: str, client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    assert_bifrost_error(await _send(client, method, path, {"x-api-key": org.management_key}), 401)


async def test_missing_scope_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    reader = await make_key(
        context,
        org_id=org.org_id,
        user_id=org.user_id,
        kind="management",
        name="reader",
        scopes=["providers:read"],
    )
    assert (await client.get("/api/keys", headers=bearer(reader))).status_code == 200
    refused = await client.post("/api/providers/openai/keys", json=openai_key(), headers=bearer(reader))
    assert_bifrost_error(refused, 403)


async def test_another_orgs_key_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    created = (
        await client.post("/api/providers/openai/keys", json=openai_key(), headers=bearer(org.management_key))
    ).json()
    path = f"/api/providers/openai/keys/{created['id']}"
    headers = bearer(other.management_key)
    for method, suffix in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("POST", "/refresh-models")):
        response = await _send(client, method, path + suffix, headers)
        assert_bifrost_error(response, 404)
    assert (await client.get("/api/keys", headers=headers)).json() == []
    # Names are per org: the other org may use the same name.
    same_name = await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)
    assert same_name.status_code == 200
    still = await client.get(path, headers=bearer(org.management_key))
    assert still.status_code == 200 and still.json()["name"] == "prod"


async def _platform_key(client: httpx.AsyncClient, org: BootstrapResult) -> dict[str, object]:
    response = await client.post(
        "/api/providers/openai/keys",
        json=openai_key(name="platform-openai", platform=True),
        headers=bearer(org.management_key),
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_operator_admin_creates_platform_keys_other_orgs_read_them(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    platform = await _platform_key(client, org)
    assert platform["platform"] is True
    other = await make_org(context, name="Other", email="owner@other.test")
    headers = bearer(other.management_key)
    path = f"/api/providers/openai/keys/{platform['id']}"
    seen = await client.get(path, headers=headers)
    assert seen.status_code == 200
    assert seen.json() == {
        "id": platform["id"],
        "name": "platform-openai",
        "models": [],
        "provider": "openai",
        "platform": True,
    }
    assert [k["id"] for k in (await client.get("/api/keys", headers=headers)).json()] == [platform["id"]]
    put = await client.put(path, json=openai_key(name="platform-openai", platform=True), headers=headers)
    assert_bifrost_error(put, 403)
    assert_bifrost_error(await client.delete(path, headers=headers), 403)
    assert_bifrost_error(await client.post(path + "/refresh-models", headers=headers), 403)


async def test_platform_names_are_taken_for_every_org(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    await _platform_key(client, org)
    other = await make_org(context, name="Other", email="owner@other.test")
    clash = await client.post(
        "/api/providers/openai/keys",
        json=openai_key(name="platform-openai"),
        headers=bearer(other.management_key),
    )
    assert_bifrost_error(clash, 409)


async def test_other_orgs_cannot_create_platform_keys(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    response = await client.post(
        "/api/providers/openai/keys",
        json=openai_key(platform=True),
        headers=bearer(other.management_key),
    )
    assert_bifrost_error(response, 403)


async def test_plain_members_of_the_operator_org_cannot_create_platform_keys(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member = await add_user(context, org_id=org.org_id, email="member@acme.test", role="member")
    key = await make_key(
        context, org_id=org.org_id, user_id=member, role="member", kind="management", name="m"
    )
    response = await client.post(
        "/api/providers/openai/keys", json=openai_key(platform=True), headers=bearer(key)
    )
    assert_bifrost_error(response, 403)


async def test_platform_keys_can_be_hidden_from_orgs(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    platform = await _platform_key(client, org)
    context.settings.show_platform_credentials = False
    other = await make_org(context, name="Other", email="owner@other.test")
    headers = bearer(other.management_key)
    assert (await client.get("/api/keys", headers=headers)).json() == []
    hidden = await client.get(f"/api/providers/openai/keys/{platform['id']}", headers=headers)
    assert_bifrost_error(hidden, 404)
    operator = await client.get("/api/keys", headers=bearer(org.management_key))
    assert [k["id"] for k in operator.json()] == [platform["id"]]


async def test_operator_replaces_a_platform_key_without_repeating_the_flag(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    platform = await _platform_key(client, org)
    path = f"/api/providers/openai/keys/{platform['id']}"
    body = openai_key(name="platform-openai", value=platform["value"], weight=5)
    response = await client.put(path, json=body, headers=bearer(org.management_key))
    assert response.status_code == 200, response.text
    assert response.json()["platform"] is True and response.json()["weight"] == 5.0
    flipped = await client.put(path, json={**body, "platform": False}, headers=bearer(org.management_key))
    assert_bifrost_error(flipped, 400)
