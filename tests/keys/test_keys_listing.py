"""GET /api/v1/keys: pages of 100 newest first, offset, disabled/expired filters, workspaces."""

from __future__ import annotations

from datetime import timedelta

import httpx

from keyplane.context import AppContext
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key, make_org
from tests.keys.keys_data import add_workspace, make_keys, set_key_state


async def _hashes(client: httpx.AsyncClient, org: BootstrapResult, query: str = "") -> list[str]:
    response = await client.get(f"/api/v1/keys{query}", headers=bearer(org.management_key))
    assert response.status_code == 200, response.text
    return [item["hash"] for item in response.json()["data"]]


async def test_a_page_holds_the_100_newest_keys(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    created = await make_keys(context, org, 103)
    assert await _hashes(client, org) == list(reversed(created))[:100]


async def test_offset_continues_where_the_first_page_ended(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    created = await make_keys(context, org, 103)
    assert await _hashes(client, org, "?offset=100") == list(reversed(created))[100:]
    assert await _hashes(client, org, "?offset=5") == list(reversed(created))[5:105]


async def test_an_offset_past_the_end_is_an_empty_page(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    await make_keys(context, org, 3)
    assert await _hashes(client, org, "?offset=3") == []


async def test_management_keys_are_not_listed(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    assert await _hashes(client, org) == []


async def test_disabled_keys_are_listed_only_when_asked(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    active, disabled = await make_keys(context, org, 2)
    await set_key_state(context, disabled, disabled=True)
    assert await _hashes(client, org) == [active]
    assert await _hashes(client, org, "?include_disabled=true") == [disabled, active]


async def test_expired_keys_are_listed_only_when_asked(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    active, expired = await make_keys(context, org, 2)
    await set_key_state(context, expired, expires_at=utcnow() - timedelta(seconds=1))
    assert await _hashes(client, org) == [active]
    assert await _hashes(client, org, "?include_expired=true") == [expired, active]


async def test_revoked_keys_are_never_listed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    active, revoked = await make_keys(context, org, 2)
    await set_key_state(context, revoked, revoked=True)
    assert await _hashes(client, org, "?include_disabled=true&include_expired=true") == [active]


async def test_workspace_id_selects_that_workspaces_keys(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    workspace_id = await add_workspace(context, org.org_id)
    in_default = await make_keys(context, org, 1, prefix="default")
    in_second = await make_keys(context, org, 2, prefix="second", workspace_id=workspace_id)
    assert await _hashes(client, org, f"?workspace_id={workspace_id}") == list(reversed(in_second))
    assert await _hashes(client, org, f"?workspace_id={org.workspace_id}") == in_default


async def test_without_workspace_id_every_workspaces_keys_are_listed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    workspace_id = await add_workspace(context, org.org_id)
    in_default = await make_keys(context, org, 1, prefix="default")
    in_second = await make_keys(context, org, 2, prefix="second", workspace_id=workspace_id)
    assert sorted(await _hashes(client, org)) == sorted(in_default + in_second)


async def test_an_unknown_workspace_is_not_found(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.get("/api/v1/keys?workspace_id=nope", headers=bearer(org.management_key))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "Workspace not found"}}


async def test_another_orgs_workspace_is_not_found(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    response = await client.get(
        f"/api/v1/keys?workspace_id={other.workspace_id}", headers=bearer(org.management_key)
    )
    assert response.status_code == 404


async def test_keys_of_another_org_are_not_listed(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    other = await make_org(context, name="Other", email="owner@other.test")
    await make_key(context, org_id=other.org_id, user_id=other.user_id, name="theirs")
    mine = await make_keys(context, org, 1)
    assert await _hashes(client, org) == mine
