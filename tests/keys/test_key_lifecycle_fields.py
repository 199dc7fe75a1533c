"""allowed_ips, tags and max_concurrency are set, shown, changed and cleared through the keys API;
a malformed value is a 400 that creates or changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.keys.keys_data import count_keys, key_row


async def test_create_keeps_canonical_cidrs_tags_and_the_concurrency_limit(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    body = {
        "name": "k",
        "allowed_ips": ["10.1.2.3/8", "203.0.113.7", "2001:DB8::/32", "203.0.113.7/32"],
        "tags": ["team-a", "feature:x", "team-a"],
        "max_concurrency": 4,
    }
    created = await client.post("/api/v1/keys", json=body, headers=bearer(org.management_key))
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["allowed_ips"] == ["10.0.0.0/8", "203.0.113.7/32", "2001:db8::/32"]
    assert (data["tags"], data["max_concurrency"]) == (["team-a", "feature:x"], 4)
    assert data["previous_key_expires_at"] is None
    row = await key_row(context, data["hash"])
    assert row is not None and row.allowed_ips == data["allowed_ips"] and row.tags == ["team-a", "feature:x"]


async def test_patch_changes_and_clears_each_field(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys", json={"name": "k", "allowed_ips": ["::1"], "tags": ["a"]}, headers=headers
    )
    key_hash = created.json()["data"]["hash"]
    patched = await client.patch(
        f"/api/v1/keys/{key_hash}",
        json={"allowed_ips": None, "tags": ["b", "c"], "max_concurrency": 2},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert (data["allowed_ips"], data["tags"], data["max_concurrency"]) == (None, ["b", "c"], 2)
    cleared = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"tags": [], "max_concurrency": None}, headers=headers
    )
    assert (cleared.json()["data"]["tags"], cleared.json()["data"]["max_concurrency"]) == (None, None)
    row = await key_row(context, key_hash)
    assert row is not None and (row.allowed_ips, row.tags, row.max_concurrency) == (None, None, None)


@pytest.mark.parametrize(
    "body",
    [
        {"allowed_ips": ["10.0.0.0/33"]},
        {"allowed_ips": ["not-an-ip"]},
        {"allowed_ips": ["1.2.3.4 5"]},
        {"allowed_ips": []},
        {"allowed_ips": "10.0.0.0/8"},
        {"allowed_ips": [7]},
        {"tags": ["has space"]},
        {"tags": ["x" * 65]},
        {"tags": [f"t{i}" for i in range(11)]},
        {"tags": "team-a"},
        {"max_concurrency": 0},
        {"max_concurrency": "3"},
        {"max_concurrency": 100_001},
    ],
)
async def test_malformed_values_are_a_400_and_create_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, body: dict[str, Any]
) -> None:
    before = await count_keys(context)
    answer = await client.post("/api/v1/keys", json={"name": "k", **body}, headers=bearer(org.management_key))
    assert answer.status_code == 400, answer.text
    assert await count_keys(context) == before


async def test_a_malformed_cidr_on_patch_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/v1/keys", json={"name": "k", "allowed_ips": ["10.0.0.0/8"]}, headers=headers
    )
    key_hash = created.json()["data"]["hash"]
    answer = await client.patch(
        f"/api/v1/keys/{key_hash}", json={"allowed_ips": ["10.0.0.0/8", "300.1.1.1"]}, headers=headers
    )
    assert answer.status_code == 400
    assert "300.1.1.1" in answer.json()["error"]["message"]
    row = await key_row(context, key_hash)
    assert row is not None and row.allowed_ips == ["10.0.0.0/8"]
