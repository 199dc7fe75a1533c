"""Bad input on every Cortecs operation is a 400 in the spec's shape and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.surfaces.test_cortecs_spec import assert_cortecs_response

TIMES = {"created_at": "2025-09-25T08:29:50.735Z", "updated_at": "2025-09-25T08:29:50.735Z"}

BAD_CREATES: list[Any] = [
    {},
    {"name": 5},
    {"name": None},
    {"name": ""},
    {"name": "   "},
    {"name": "x" * 300},
    {"name": "bad\u0007name"},
    {"name": "ok", "is_management_key": "yes"},
    {"name": "ok", "is_management_key": 1},
    [],
    "name",
    None,
]

BAD_CONFIGS: list[Any] = [
    {},
    {"inference_config": {}},
    {"inference_config": {}, "created_at": "2025-09-25T08:29:50.735Z"},
    {"inference_config": {}, "created_at": "yesterday", "updated_at": "2025-09-25T08:29:50.735Z"},
    {"inference_config": {}, "created_at": 1758788990, "updated_at": 1758788990},
    {"inference_config": None, **TIMES},
    {"inference_config": [], **TIMES},
    {"inference_config": {"eu_native": "true"}, **TIMES},
    {"inference_config": {"eu_native": None}, **TIMES},
    {"inference_config": {"allowed_providers": "openai"}, **TIMES},
    {"inference_config": {"allowed_providers": [1]}, **TIMES},
    {"inference_config": {"allowed_providers": None}, **TIMES},
    {"inference_config": {"allowed_providers": ["openai", "no-such-provider"]}, **TIMES},
    {"inference_config": {"max_tokens": "5"}, **TIMES},
    {"inference_config": {"max_tokens": 0}, **TIMES},
    {"inference_config": {"max_tokens": 1.5}, **TIMES},
    {"inference_config": {"max_tokens": 10**30}, **TIMES},
    {"inference_config": {"preference": "fastest"}, **TIMES},
    {"inference_config": {"unknown_field": True}, **TIMES},
    {"inference_config": {}, "allow_overwrite": "yes", **TIMES},
]


@pytest.mark.parametrize("body", BAD_CREATES, ids=repr)
async def test_a_bad_create_is_a_400_and_creates_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: Any
) -> None:
    headers = bearer(org.management_key)
    response = await client.post("/v1/manage/api-keys", json=body, headers=headers)
    assert assert_cortecs_response(response, status=400)["error"]
    listed = await client.get("/v1/manage/api-keys", headers=headers)
    assert len(listed.json()["api_keys"]) == 1


@pytest.mark.parametrize("body", [{}, {"name": 5}, {"name": None}, [], None], ids=repr)
async def test_a_bad_delete_is_a_400(client: httpx.AsyncClient, org: BootstrapResult, body: Any) -> None:
    response = await client.request(
        "DELETE", "/v1/manage/api-keys", json=body, headers=bearer(org.management_key)
    )
    assert assert_cortecs_response(response, status=400)["error"]


@pytest.mark.parametrize("body", BAD_CONFIGS, ids=repr)
async def test_a_bad_config_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, org: BootstrapResult, body: Any
) -> None:
    headers = bearer(org.management_key)
    before = (await client.get("/v1/manage/project-configs", headers=headers)).json()
    response = await client.put("/v1/manage/project-configs", json=body, headers=headers)
    assert assert_cortecs_response(response, status=400)["error"]
    after = assert_cortecs_response(
        await client.get("/v1/manage/project-configs", headers=headers), status=200
    )
    assert after == before


async def test_an_unknown_provider_is_named(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    body = {"inference_config": {"allowed_providers": ["openai", "acme-llm"]}, **TIMES}
    response = await client.put("/v1/manage/project-configs", json=body, headers=bearer(org.management_key))
    message = assert_cortecs_response(response, status=400)["error"]
    assert message.startswith("Unknown provider 'acme-llm' in allowed_providers")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/manage/api-keys"),
        ("DELETE", "/v1/manage/api-keys"),
        ("PUT", "/v1/manage/project-configs"),
    ],
)
async def test_malformed_json_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, method: str, path: str
) -> None:
    headers = {**bearer(org.management_key), "Content-Type": "application/json"}
    response = await client.request(method, path, content=b'{"name": "x",', headers=headers)
    assert assert_cortecs_response(response, status=400) == {"error": "Malformed JSON body"}
