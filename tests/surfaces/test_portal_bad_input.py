"""Bad input on every portal endpoint: a 4xx in the portal envelope that changes nothing."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    login,
)

BAD_CREATES: list[Any] = [
    {},
    {"name": 5},
    {"name": None},
    {"name": ""},
    {"name": "x" * 101},
    {"name": "ok", "description": 5},
    {"name": "ok", "description": "d" * 501},
    {"name": "ok", "expires_at": "0"},
    {"name": "ok", "expires_at": 1.5},
    {"name": "ok", "expires_at": -1},
    {"name": "ok", "expires_at": 1_000_000},
    {"name": "ok", "expires_at": 10**20},
    {"name": "ok", "scopes": "balance:read"},
    {"name": "ok", "scopes": []},
    {"name": "ok", "scopes": [1]},
    {"name": "ok", "scopes": ["balance:read", "nope:read"]},
    {"name": "ok", "scopes": ["balance:read"] * 33},
    {"name": "ok", "org_id": 5},
    {"name": "ok", "scopse": ["balance:read"]},
    [],
    None,
]

BAD_UPDATES: list[Any] = [
    {"name": None},
    {"name": 5},
    {"name": ""},
    {"description": None},
    {"scopes": []},
    {"scopes": ["root"]},
    {"expires_at": 1_000_000},
    {"expires_at": "soon"},
    {"nmae": "renamed"},
    [],
]


@pytest.mark.parametrize("body", BAD_CREATES, ids=repr)
async def test_a_bad_create_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: Any
) -> None:
    jwt = await login(client, org.email)
    assert_portal_error(await client.post(f"{PORTAL}/api-keys", json=body, headers=jwt), 400)
    assert len(assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))) == 1


async def test_an_unknown_field_is_named(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    jwt = await login(client, org.email)
    response = await client.post(f"{PORTAL}/api-keys", json={"name": "x", "scopse": []}, headers=jwt)
    assert "scopse" in assert_portal_error(response, 400)


async def test_an_unknown_scope_is_named(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    jwt = await login(client, org.email)
    response = await client.post(
        f"{PORTAL}/api-keys", json={"name": "x", "scopes": ["nope:read"]}, headers=jwt
    )
    assert assert_portal_error(response, 400).startswith(
        "Unknown scope 'nope:read'; known scopes: balance:read"
    )


@pytest.mark.parametrize("body", BAD_UPDATES, ids=repr)
async def test_a_bad_update_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: Any
) -> None:
    jwt = await login(client, org.email)
    key = await create_portal_key(client, jwt, name="stable", expires_at=int(time.time()) + 3600)
    assert_portal_error(await client.put(f"{PORTAL}/api-keys/{key['id']}", json=body, headers=jwt), 400)
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    after = next(k for k in listed if k["id"] == key["id"])
    assert {k: v for k, v in key.items() if k != "api_key"} == after


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api-keys"),
        ("PUT", "/api-keys/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api-keys/revoke"),
        ("POST", "/api-keys/restore"),
    ],
)
async def test_malformed_json_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, method: str, path: str
) -> None:
    headers = {**(await login(client, org.email)), "Content-Type": "application/json"}
    response = await client.request(method, PORTAL + path, content=b'{"name": ', headers=headers)
    assert_portal_error(response, 400, "Malformed JSON body")


@pytest.mark.parametrize("body", [{}, {"id": 5}, {"id": None}, {"id": "x" * 65}, [], None], ids=repr)
async def test_bad_revoke_and_restore_bodies_are_400(
    client: httpx.AsyncClient, org: BootstrapResult, body: Any
) -> None:
    jwt = await login(client, org.email)
    for action in ("revoke", "restore"):
        assert_portal_error(await client.post(f"{PORTAL}/api-keys/{action}", json=body, headers=jwt), 400)


async def test_unknown_and_overlong_key_ids(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    jwt = await login(client, org.email)
    assert_portal_error(
        await client.put(f"{PORTAL}/api-keys/{'x' * 65}", json={"name": "n"}, headers=jwt), 400
    )
    assert_portal_error(await client.delete(f"{PORTAL}/api-keys/{'x' * 65}", headers=jwt), 400)
    missing = "00000000-0000-0000-0000-000000000000"
    assert_portal_error(
        await client.put(f"{PORTAL}/api-keys/{missing}", json={"name": "n"}, headers=jwt), 404
    )
    assert_portal_error(
        await client.post(f"{PORTAL}/api-keys/revoke", json={"id": missing}, headers=jwt), 404
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start_time=100", "start_time and end_time must be given together"),
        ("end_time=100", "start_time and end_time must be given together"),
        ("start_time=200&end_time=100", "start_time must not be after end_time"),
        ("start_time=-5&end_time=100", "start_time must be a Unix timestamp in seconds"),
        ("start_time=0&end_time=99999999999999", "end_time must be a Unix timestamp in seconds"),
        ("start_time=yesterday&end_time=100", None),
        ("page=0", "page must be 1 or more"),
        ("page=-1", "page must be 1 or more"),
        ("page=abc", None),
        ("page=1.5", None),
        ("pagesize=0", "pagesize must be between 1 and 100"),
        ("pagesize=1000000", "pagesize must be between 1 and 100"),
        ("pagesize=101", "pagesize must be between 1 and 100"),
        ("pagesize=x", None),
        ("page=1000000000000&pagesize=100", None),
        (f"user_id={'u' * 65}", None),
        (f"token_id={'t' * 65}", None),
    ],
)
async def test_bad_usage_queries_are_400(
    client: httpx.AsyncClient, org: BootstrapResult, query: str, message: str | None
) -> None:
    key = (await create_portal_key(client, await login(client, org.email), name="u", org_id=org.org_id))[
        "api_key"
    ]
    assert_portal_error(await client.get(f"{PORTAL}/usage?{query}", headers=bearer(key)), 400, message)


@pytest.mark.parametrize("code", ["XYZ", "12", "EURO", "e", "x" * 17])
async def test_bad_currency_codes_are_400(client: httpx.AsyncClient, org: BootstrapResult, code: str) -> None:
    key = (await create_portal_key(client, await login(client, org.email), name="b"))["api_key"]
    assert_portal_error(await client.get(f"{PORTAL}/balance?currency_code={code}", headers=bearer(key)), 400)
