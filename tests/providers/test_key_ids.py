"""Bifrost key ids belong to their org: two orgs may each have "main", and a duplicate id answers
409 only against what the caller's org sees (its own keys and the platform's)."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_org
from tests.providers.conftest import openai_key
from tests.providers.test_bad_input import assert_bifrost_error


async def _post(client: httpx.AsyncClient, key: str, **body: object) -> httpx.Response:
    return await client.post("/api/providers/openai/keys", json=openai_key(**body), headers=bearer(key))


async def test_two_orgs_each_have_their_own_main(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    first = await make_org(context, name="First", email="owner@first.test")
    second = await make_org(context, name="Second", email="owner@second.test")
    assert (await _post(client, first.management_key, id="main", name="first's")).status_code == 200
    taken_elsewhere = await _post(client, second.management_key, id="main", name="second's")
    assert taken_elsewhere.status_code == 200, taken_elsewhere.text
    path = "/api/providers/openai/keys/main"
    assert (await client.get(path, headers=bearer(first.management_key))).json()["name"] == "first's"
    assert (await client.get(path, headers=bearer(second.management_key))).json()["name"] == "second's"
    assert (await client.delete(path, headers=bearer(second.management_key))).status_code == 200
    assert (await client.get(path, headers=bearer(first.management_key))).json()["name"] == "first's"
    assert_bifrost_error(await client.get(path, headers=bearer(second.management_key)), 404)


async def test_an_id_is_unique_within_an_org(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    assert (await _post(client, tenant.management_key, id="main", name="a")).status_code == 200
    duplicate = await _post(client, tenant.management_key, id="main", name="b")
    assert assert_bifrost_error(duplicate, 409)["error"]["type"] == "duplicate_id"


async def test_an_org_id_cannot_shadow_a_platform_id(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    platform = await _post(client, org.management_key, id="shared", name="platform", platform=True)
    assert platform.status_code == 200, platform.text
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    assert_bifrost_error(await _post(client, tenant.management_key, id="shared", name="mine"), 409)
    assert_bifrost_error(await _post(client, org.management_key, id="shared", name="operator's"), 409)
    seen = await client.get("/api/providers/openai/keys/shared", headers=bearer(tenant.management_key))
    assert seen.json()["platform"] is True


async def test_a_platform_id_is_unique_across_every_org(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    tenant = await make_org(context, name="Tenant", email="owner@tenant.test")
    assert (await _post(client, tenant.management_key, id="main", name="tenant's")).status_code == 200
    clash = await _post(client, org.management_key, id="main", name="platform", platform=True)
    assert_bifrost_error(clash, 409)  # the tenant would see two keys "main"
