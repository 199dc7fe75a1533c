"""Bad input: a 4xx in Bifrost's error shape, never a 500, and nothing changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.providers.conftest import SECRET, openai_key, raw_rows

AZURE_OK = {"endpoint": "https://example.openai.azure.com"}

BAD_BODIES: dict[str, tuple[str, Any, int, str]] = {
    # case: (provider, body, status, fragment of the message)
    "unknown provider": ("nope", openai_key(), 404, "Unknown provider 'nope'"),
    "config block of another provider": (
        "openai",
        openai_key(azure_key_config=AZURE_OK),
        400,
        "azure_key_config is only valid for provider 'azure', not 'openai'",
    ),
    "missing azure endpoint": (
        "azure",
        openai_key(azure_key_config={"api_version": "2024-10-21"}),
        400,
        "azure_key_config.endpoint is required",
    ),
    "missing azure block": ("azure", openai_key(), 400, "azure_key_config.endpoint is required"),
    "negative weight": ("openai", openai_key(weight=-1), 400, "weight must be a number >= 0"),
    "star mixed with names": ("openai", openai_key(models=["*", "gpt-4o"]), 400, "cannot be mixed"),
    "star in blacklist": ("openai", openai_key(blacklisted_models=["*"]), 400, "blacklisted_models"),
    "empty value": ("openai", openai_key(value=""), 400, "value is required for provider 'openai'"),
    "missing value": ("openai", {"name": "x"}, 400, "value is required for provider 'openai'"),
    "empty env reference": ("openai", openai_key(value={"from_env": True}), 400, "env_var is empty"),
    "bad env name": ("openai", openai_key(value="env.1-BAD"), 400, "valid environment variable name"),
    "models not a list": ("openai", openai_key(models="gpt-4o"), 400, "models"),
    "weight as string": ("openai", openai_key(weight="1"), 400, "weight"),
    "enabled as string": ("openai", openai_key(enabled="yes"), 400, "enabled"),
    "aliases not a map": ("openai", openai_key(aliases=["a"]), 400, "aliases"),
    "value a number": ("openai", openai_key(value=12345), 400, "value"),
    "redacted value of nothing": ("openai", openai_key(value="sk-x" + "*" * 24 + "0000"), 400, "redacted"),
    "missing name": ("openai", {"value": SECRET}, 400, "name"),
    "bad id": ("openai", openai_key(id="has space"), 400, "id may contain only"),
    "body not an object": ("openai", ["x"], 400, "Invalid request"),
    "vllm without url": ("vllm", {"name": "v", "vllm_key_config": {}}, 400, "vllm_key_config.url"),
    "vertex without project": (
        "vertex",
        {"name": "v", "vertex_key_config": {"region": "europe-west4"}},
        400,
        "vertex_key_config.project_id",
    ),
    "platform from a tenant is refused": ("openai", openai_key(platform="true"), 400, "platform"),
    # custom has no URL field in the body: without its base_url setting nothing could route to it
    "custom without a base URL": ("custom", openai_key(), 400, "base_url is required for provider 'custom'"),
}


def assert_bifrost_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status_code"] == status and body["is_bifrost_error"] is False
    assert isinstance(body["error"]["message"], str) and body["error"]["type"]
    assert "SUPERSECRET" not in response.text
    return body


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
async def test_bad_create_is_refused_and_changes_nothing(
    case: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    provider, body, status, fragment = BAD_BODIES[case]
    response = await client.post(
        f"/api/providers/{provider}/keys", json=body, headers=bearer(org.management_key)
    )
    error = assert_bifrost_error(response, status)
    assert fragment in error["error"]["message"]
    assert await raw_rows(context, "provider_credentials") == []


@pytest.mark.parametrize("case", sorted(k for k in BAD_BODIES if BAD_BODIES[k][0] == "openai"))
async def test_bad_replace_is_refused_and_changes_nothing(
    case: str, client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    created = (await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)).json()
    before = await raw_rows(context, "provider_credentials")
    _provider, body, status, _fragment = BAD_BODIES[case]
    response = await client.put(f"/api/providers/openai/keys/{created['id']}", json=body, headers=headers)
    assert_bifrost_error(response, status)
    assert await raw_rows(context, "provider_credentials") == before


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.post(
        "/api/providers/openai/keys",
        content=b'{"name": "x", "value": ',
        headers={**bearer(org.management_key), "Content-Type": "application/json"},
    )
    assert assert_bifrost_error(response, 400)["error"]["message"] == "Malformed JSON body"


async def test_one_megabyte_body_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    body = openai_key(models=["m" * 100] * 11_000)
    response = await client.post("/api/providers/openai/keys", json=body, headers=bearer(org.management_key))
    assert_bifrost_error(response, 413)
    assert await raw_rows(context, "provider_credentials") == []


async def test_put_with_a_different_id_in_the_body_is_refused(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    created = (await client.post("/api/providers/openai/keys", json=openai_key(), headers=headers)).json()
    response = await client.put(
        f"/api/providers/openai/keys/{created['id']}", json=openai_key(id="other"), headers=headers
    )
    assert_bifrost_error(response, 400)


async def test_duplicate_id_is_a_conflict(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    await client.post("/api/providers/openai/keys", json=openai_key(id="k1"), headers=headers)
    response = await client.post(
        "/api/providers/openai/keys", json=openai_key(id="k1", name="other"), headers=headers
    )
    assert_bifrost_error(response, 409)


async def test_custom_is_accepted_once_its_base_url_is_set(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    headers = bearer(org.management_key)
    refused = await client.post("/api/providers/custom/keys", json=openai_key(), headers=headers)
    message = assert_bifrost_error(refused, 400)["error"]["message"]
    assert "PUT /api/v1/providers/custom/settings" in message  # says how to fix it
    setting = await client.put(
        "/api/v1/providers/custom/settings", json={"base_url": "https://llm.internal/v1"}, headers=headers
    )
    assert setting.status_code == 200, setting.text
    created = await client.post("/api/providers/custom/keys", json=openai_key(), headers=headers)
    assert created.status_code == 200, created.text
    assert [row["provider"] for row in await raw_rows(context, "provider_credentials")] == ["custom"]
