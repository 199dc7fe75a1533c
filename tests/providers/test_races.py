"""Concurrent writes to one provider setting or one credential name: the database keeps one row; a
second credential of the same name is a 409 in Bifrost's shape, a delete has one winner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.models import ProviderCredential, ProviderSetting
from keyplane.orgs.bootstrap import BootstrapResult
from tests.concurrency import at_once, audit_events, count_rows, statuses
from tests.factories import bearer
from tests.surfaces.shapes import assert_error_shape


def _credential(name: str, *, platform: bool) -> dict[str, Any]:
    return {"name": name, "value": "sk-1234567890abcdef", "models": ["*"], "platform": platform}


async def test_concurrent_upserts_of_one_provider_setting_all_land_on_one_row(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    responses = await at_once(
        20,
        lambda i: client.put(
            "/api/v1/providers/openai/settings",
            json={"base_url": f"https://h{i}.example.com"},
            headers=headers,
        ),
    )
    assert statuses(responses) == [200] * 20
    assert await count_rows(context, ProviderSetting) == 1
    assert await audit_events(context, "provider_setting.updated") == 20


@pytest.mark.parametrize("platform", [True, False], ids=["platform", "org"])
async def test_concurrent_creates_of_one_credential_name_make_one(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult, platform: bool
) -> None:
    """Platform credentials have no org (NULL): their names are unique by their own index."""
    headers = bearer(org.management_key)
    responses = await at_once(
        12,
        lambda _: client.post(
            "/api/providers/openai/keys", json=_credential("shared", platform=platform), headers=headers
        ),
    )
    assert statuses(responses) == [200] + [409] * 11
    assert_error_shape(next(r for r in responses if r.status_code == 409), 409)
    assert await count_rows(context, ProviderCredential, ProviderCredential.name == "shared") == 1
    assert await audit_events(context, "provider_credential.created") == 1


async def test_concurrent_deletes_of_one_credential_have_one_winner(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/providers/openai/keys", json=_credential("gone", platform=False), headers=headers
    )
    path = f"/api/providers/openai/keys/{created.json()['id']}"
    responses = await at_once(12, lambda _: client.delete(path, headers=headers))
    assert statuses(responses) == [200] + [404] * 11
    assert await count_rows(context, ProviderCredential) == 0
    assert await audit_events(context, "provider_credential.deleted") == 1
