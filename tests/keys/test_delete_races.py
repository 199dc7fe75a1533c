"""Concurrent deletes of one key, on every surface that deletes keys: one 200, the rest 404 in the
surface's shape, the row gone once and one `key.deleted` audit event."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.models import ApiKey
from keyplane.orgs.bootstrap import BootstrapResult
from tests.concurrency import at_once, audit_events, count_rows, statuses
from tests.factories import bearer
from tests.harness import GatewaySetup, ServedApp
from tests.surfaces.shapes import assert_error_shape
from tests.surfaces.test_portal_envelope import PORTAL, create_portal_key, login


async def _check_one_winner(context: AppContext, responses: list[httpx.Response], key_name: str) -> None:
    assert statuses(responses) == [200] + [404] * (len(responses) - 1)
    for response in responses:
        if response.status_code == 404:
            assert_error_shape(response, 404)
    assert await count_rows(context, ApiKey, ApiKey.name == key_name) == 0
    assert await audit_events(context, "key.deleted") == 1


async def test_openrouter_concurrent_deletes_of_one_key_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "doomed"}, headers=headers)
    path = f"/api/v1/keys/{created.json()['data']['hash']}"
    await _check_one_winner(
        context, await at_once(20, lambda _: client.delete(path, headers=headers)), "doomed"
    )


async def test_cortecs_concurrent_deletes_of_one_key_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/v1/manage/api-keys", json={"name": "doomed"}, headers=headers)
    assert created.status_code == 201
    responses = await at_once(
        12,
        lambda _: client.request("DELETE", "/v1/manage/api-keys", json={"name": "doomed"}, headers=headers),
    )
    await _check_one_winner(context, responses, "doomed")


async def test_portal_concurrent_deletes_of_one_key_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    session = await login(client, org.email)
    key = await create_portal_key(client, session, name="doomed")
    path = f"{PORTAL}/api-keys/{key['id']}"
    await _check_one_winner(
        context, await at_once(12, lambda _: client.delete(path, headers=session)), "doomed"
    )


async def test_a_deleted_key_is_refused_by_the_gateway_at_once(
    gateway_setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    """The one-winner delete is still an ORM delete: the gateway's key cache hears of it on commit."""
    await gateway_setup.add_credential(models=["gpt-test"])
    await gateway_setup.add_credit(5)
    key, key_hash = await gateway_setup.make_key()
    chat = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    url = served.base_url + "/v1/chat/completions"
    assert (await http.post(url, json=chat, headers=bearer(key))).status_code == 200  # now cached
    deleted = await http.delete(f"{served.base_url}/api/v1/keys/{key_hash}", headers=gateway_setup.admin)
    assert deleted.status_code == 200
    assert (await http.post(url, json=chat, headers=bearer(key))).status_code == 401
