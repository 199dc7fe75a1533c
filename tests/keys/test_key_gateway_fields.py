"""The gateway's per-key limits (allowed_models, rate_limit_rpm/tpm) are set and shown by the keys API,
and a field the API does not know is a 400 naming it, never silently dropped (portal bodies:
tests/surfaces/test_portal_bad_input.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.keys.keys_data import count_keys, key_row


async def test_create_sets_and_shows_the_gateway_limits(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    body = {
        "name": "k",
        "allowed_models": [" gpt-4o ", "gpt-4o", "o3"],
        "rate_limit_rpm": 60,
        "rate_limit_tpm": 9000,
    }
    created = await client.post("/api/v1/keys", json=body, headers=bearer(org.management_key))
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert (data["allowed_models"], data["rate_limit_rpm"], data["rate_limit_tpm"]) == (
        ["gpt-4o", "o3"],
        60,
        9000,
    )
    row = await existing_row(context, data["hash"])
    assert (row.allowed_models, row.rate_limit_rpm, row.rate_limit_tpm) == (["gpt-4o", "o3"], 60, 9000)
    fetched = (await client.get(f"/api/v1/keys/{data['hash']}", headers=bearer(org.management_key))).json()
    assert fetched["data"]["allowed_models"] == ["gpt-4o", "o3"]


async def test_patch_changes_and_clears_the_gateway_limits(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "k", "rate_limit_rpm": 5}, headers=headers)
    key_hash = created.json()["data"]["hash"]
    patched = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"allowed_models": ["m1"], "rate_limit_rpm": None}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["data"]["allowed_models"], patched.json()["data"]["rate_limit_rpm"]) == (
        ["m1"],
        None,
    )
    row = await existing_row(context, key_hash)
    assert (row.allowed_models, row.rate_limit_rpm) == (["m1"], None)


async def test_an_empty_allowed_models_list_allows_every_model(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    created = await client.post(
        "/api/v1/keys", json={"name": "k", "allowed_models": []}, headers=bearer(org.management_key)
    )
    assert created.json()["data"]["allowed_models"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"allowed_models": "gpt-4o"},
        {"allowed_models": [""]},
        {"allowed_models": ["a\u0001b"]},
        {"allowed_models": ["m" * 257]},
        {"rate_limit_rpm": 0},
        {"rate_limit_rpm": "60"},
        {"rate_limit_tpm": 10_000_001},
    ],
)
async def test_bad_gateway_limits_are_a_400_and_create_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, body: dict[str, Any]
) -> None:
    before = await count_keys(context)
    answer = await client.post("/api/v1/keys", json={"name": "k", **body}, headers=bearer(org.management_key))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == 400
    assert await count_keys(context) == before


async def test_an_unknown_field_on_create_is_a_400_naming_it(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    before = await count_keys(context)
    answer = await client.post(
        "/api/v1/keys", json={"name": "k", "limt": 5}, headers=bearer(org.management_key)
    )
    assert answer.status_code == 400
    assert "limt" in answer.json()["error"]["message"]
    assert await count_keys(context) == before


async def test_an_unknown_field_on_patch_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "k", "limit": 3}, headers=headers)
    key_hash = created.json()["data"]["hash"]
    answer = await client.patch(f"/api/v1/keys/{key_hash}", json={"name": "k2", "limt": 5}, headers=headers)
    assert answer.status_code == 400
    assert "limt" in answer.json()["error"]["message"]
    row = await existing_row(context, key_hash)
    assert (row.name, row.limit_nanousd) == ("k", 3_000_000_000)


async def existing_row(context: AppContext, key_hash: str) -> Any:
    row = await key_row(context, key_hash)
    assert row is not None
    return row
