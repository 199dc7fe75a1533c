"""Bad input to the keys API gets a 4xx in OpenRouter's error shape, never a 500, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.keys.keys_data import count_keys, key_row

JSON = {"Content-Type": "application/json"}

BAD_CREATE_BODIES: list[tuple[str, Any]] = [
    ("empty name", {"name": ""}),
    ("blank name", {"name": "   "}),
    ("10 kB name", {"name": "n" * 10_240}),
    ("name over 256 characters", {"name": "n" * 257}),
    ("control characters in name", {"name": "a\u0000b"}),
    ("name of wrong type", {"name": 42}),
    ("missing name", {"limit": 5}),
    ("negative limit", {"name": "k", "limit": -1}),
    ("huge limit", {"name": "k", "limit": 1e12}),
    ("limit as string", {"name": "k", "limit": "10"}),
    ("limit as boolean", {"name": "k", "limit": True}),
    ("unknown limit_reset", {"name": "k", "limit": 1, "limit_reset": "hourly"}),
    ("include_byok_in_limit as string", {"name": "k", "include_byok_in_limit": "yes"}),
    ("past expires_at", {"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
    ("non-UTC expires_at", {"name": "k", "expires_at": "2099-01-01T00:00:00+02:00"}),
    ("garbage expires_at", {"name": "k", "expires_at": "tomorrow"}),
    ("NUL in workspace_id", {"name": "k", "workspace_id": "a\u0000b"}),
    ("NUL in creator_user_id", {"name": "k", "creator_user_id": "\u0000"}),
    ("NUL in external user", {"name": "k", "external": {"user": "u\u0000"}}),
    ("external without user", {"name": "k", "external": {}}),
    ("array body", [{"name": "k"}]),
    ("string body", "k"),
    ("null body", None),
]


def _json_body(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


@pytest.mark.parametrize(("case", "body"), BAD_CREATE_BODIES, ids=[case for case, _ in BAD_CREATE_BODIES])
async def test_bad_create_bodies_are_400_and_create_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, case: str, body: Any
) -> None:
    before = await count_keys(context)
    response = await client.post(
        "/api/v1/keys", content=_json_body(body), headers={**bearer(org.management_key), **JSON}
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == 400
    assert isinstance(response.json()["error"]["message"], str)
    assert await count_keys(context) == before


@pytest.mark.parametrize(
    ("case", "raw"),
    [
        ("malformed JSON", b'{"name": "k"'),
        ("NaN limit", b'{"name": "k", "limit": NaN}'),
        ("infinite limit", b'{"name": "k", "limit": 1e400}'),
        ("empty body", b""),
        ("not JSON at all", b"name=k"),
    ],
)
async def test_unparseable_bodies_are_400_and_create_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, case: str, raw: bytes
) -> None:
    before = await count_keys(context)
    response = await client.post("/api/v1/keys", content=raw, headers={**bearer(org.management_key), **JSON})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == 400
    assert await count_keys(context) == before


async def test_an_oversized_body_is_413(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    before = await count_keys(context)
    body = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post("/api/v1/keys", content=body, headers={**bearer(org.management_key), **JSON})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert await count_keys(context) == before


async def _chunks(body: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_an_oversized_chunked_body_without_length_is_413(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    before = await count_keys(context)
    body = b'{"name": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/api/v1/keys", content=_chunks(body), headers={**bearer(org.management_key), **JSON}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert await count_keys(context) == before


async def test_a_small_chunked_body_without_length_is_read_whole(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.post(
        "/api/v1/keys",
        content=_chunks(b'{"name": "chunked"}', size=4),
        headers={**bearer(org.management_key), **JSON},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["name"] == "chunked"


BAD_PATCH_BODIES: list[tuple[str, Any]] = [
    ("null name", {"name": None}),
    ("empty name", {"name": ""}),
    ("null disabled", {"disabled": None}),
    ("disabled as string", {"disabled": "true"}),
    ("negative limit", {"limit": -0.01}),
    ("unknown limit_reset", {"limit_reset": "yearly"}),
    ("past expires_at", {"expires_at": "2001-01-01T00:00:00Z"}),
    ("array body", [1]),
]


@pytest.mark.parametrize(("case", "body"), BAD_PATCH_BODIES, ids=[case for case, _ in BAD_PATCH_BODIES])
async def test_bad_patch_bodies_are_400_and_change_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext, case: str, body: Any
) -> None:
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "orig", "limit": 2}, headers=headers)
    key_hash = created.json()["data"]["hash"]
    response = await client.patch(
        f"/api/v1/keys/{key_hash}", content=_json_body(body), headers={**headers, **JSON}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == 400
    row = await key_row(context, key_hash)
    assert row is not None
    assert (row.name, row.disabled, row.limit_nanousd, row.updated_at) == ("orig", False, 2_000_000_000, None)


@pytest.mark.parametrize(
    "query",
    [
        "include_disabled=maybe",
        "include_expired=2",
        "offset=-1",
        "offset=abc",
        "offset=1e3",
        "offset=",
        "workspace_id=%00",
        "workspace_id=" + "w" * 65,
    ],
)
async def test_bad_list_parameters_are_400(
    client: httpx.AsyncClient, org: BootstrapResult, query: str
) -> None:
    response = await client.get(f"/api/v1/keys?{query}", headers=bearer(org.management_key))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


@pytest.mark.parametrize("key_hash", ["0" * 64, "not-a-hash", "x" * 5000, "..%2F..%2Fetc"])
async def test_an_unknown_hash_is_404_on_every_route(
    client: httpx.AsyncClient, org: BootstrapResult, key_hash: str
) -> None:
    headers = bearer(org.management_key)
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(method, f"/api/v1/keys/{key_hash}", json=body, headers=headers)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["code"] == 404


async def test_a_nul_byte_in_a_hash_is_400_on_every_route(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await client.request(method, "/api/v1/keys/a%00b", json=body, headers=headers)
        assert response.json() == {"error": {"code": 400, "message": "NUL bytes are not allowed"}}, method


async def test_an_unknown_workspace_on_create_is_404_and_creates_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    before = await count_keys(context)
    response = await client.post(
        "/api/v1/keys", json={"name": "k", "workspace_id": "nope"}, headers=bearer(org.management_key)
    )
    assert response.status_code == 404
    assert await count_keys(context) == before


async def test_an_unknown_route_under_api_v1_keeps_the_openrouter_shape(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.get("/api/v1/keyz", headers=bearer(org.management_key))
    assert response.status_code == 404
    assert response.json() == {"error": {"code": 404, "message": "Resource not found"}}


async def test_a_wrong_method_keeps_the_openrouter_shape(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await client.put("/api/v1/keys", json={}, headers=bearer(org.management_key))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == 405
