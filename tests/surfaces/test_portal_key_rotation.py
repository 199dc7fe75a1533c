"""Portal management keys rotate like inference keys: POST /api-keys/rotate {id, grace_seconds} with a
user JWT answers the new secret once; the old one works until previous_key_expires_at."""

from __future__ import annotations

import time

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    login,
    member_session,
)


async def _balance(client: httpx.AsyncClient, plaintext: str) -> int:
    return (await client.get(f"{PORTAL}/balance", headers=bearer(plaintext))).status_code


async def test_a_rotated_management_key_keeps_its_id_and_the_old_secret_its_grace(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    jwt = await login(client, org.email)
    created = await create_portal_key(client, jwt, name="dash")
    body = {"id": created["id"], "grace_seconds": 120}
    rotated = assert_portal_ok(await client.post(f"{PORTAL}/api-keys/rotate", json=body, headers=jwt))
    assert rotated["id"] == created["id"] and rotated["name"] == "dash"
    assert rotated["api_key"] != created["api_key"] and rotated["display"] != created["display"]
    assert 100 < rotated["previous_key_expires_at"] - time.time() <= 120
    assert await _balance(client, created["api_key"]) == 200
    assert await _balance(client, rotated["api_key"]) == 200
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert next(k for k in listed if k["id"] == created["id"])["previous_key_expires_at"] > 0


async def test_a_grace_of_zero_refuses_the_old_management_secret_at_once(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    jwt = await login(client, org.email)
    created = await create_portal_key(client, jwt)
    body = {"id": created["id"], "grace_seconds": 0}
    rotated = assert_portal_ok(await client.post(f"{PORTAL}/api-keys/rotate", json=body, headers=jwt))
    assert await _balance(client, created["api_key"]) == 401
    assert await _balance(client, rotated["api_key"]) == 200


async def test_another_users_key_is_a_404(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    created = await create_portal_key(client, await login(client, org.email))
    _, other = await member_session(client, context, org, "other@acme.test")
    response = await client.post(f"{PORTAL}/api-keys/rotate", json={"id": created["id"]}, headers=other)
    assert_portal_error(response, 404)


@pytest.mark.parametrize("body", [{"grace_seconds": -1}, {"grace_seconds": 604_801}, {"grace": 1}])
async def test_a_bad_rotate_body_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, body: dict[str, object]
) -> None:
    jwt = await login(client, org.email)
    created = await create_portal_key(client, jwt)
    response = await client.post(f"{PORTAL}/api-keys/rotate", json={"id": created["id"], **body}, headers=jwt)
    assert_portal_error(response, 400)
    assert await _balance(client, created["api_key"]) == 200
