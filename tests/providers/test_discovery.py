"""refresh-models against a real HTTP server on loopback playing the provider."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer
from tests.providers.upstream import GOOD_KEY, MODELS, Upstream, closed_port


async def _create_and_refresh(
    client: httpx.AsyncClient, org: BootstrapResult, provider: str, body: dict[str, Any]
) -> dict[str, Any]:
    headers = bearer(org.management_key)
    created = await client.post(f"/api/providers/{provider}/keys", json=body, headers=headers)
    assert created.status_code == 200, created.text
    key_id = created.json()["id"]
    refreshed = await client.post(f"/api/providers/{provider}/keys/{key_id}/refresh-models", headers=headers)
    assert refreshed.status_code == 200, refreshed.text
    result: dict[str, Any] = refreshed.json()
    stored = (await client.get(f"/api/providers/{provider}/keys/{key_id}", headers=headers)).json()
    assert stored["status"] == result["status"] and stored["discovered_models"] == result["discovered_models"]
    return result


def _vllm(url: str, value: str | None = GOOD_KEY) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "local", "vllm_key_config": {"url": url}}
    if value is not None:
        body["value"] = value
    return body


async def test_discovery_records_the_models_found(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base))
    assert key["status"] == "success" and key["discovered_models"] == MODELS
    assert key["models"] == []  # the whitelist stays the operator's
    path, headers = upstream.seen[-1]
    assert path == "/v1/models" and headers["authorization"] == f"Bearer {GOOD_KEY}"


async def test_wrong_key_fails_cleanly_without_echoing_it(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    wrong = "sk-wrong-SUPERSECRET-0000000000"
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base, wrong))
    assert key["status"] == "list_models_failed"
    assert key["description"] == "Provider refused the credential (HTTP 401)"
    assert key["discovered_models"] == []


async def test_unreachable_host_fails_cleanly(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    key = await _create_and_refresh(client, org, "vllm", _vllm(f"http://127.0.0.1:{closed_port()}"))
    assert key["status"] == "list_models_failed"
    assert key["description"] == "Could not connect to the provider"


async def test_malformed_answer_fails_cleanly(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base + "/malformed"))
    assert key["status"] == "list_models_failed"
    assert key["description"] == "Provider answered with something that is not JSON"


async def test_wrong_shape_fails_cleanly(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base + "/wrong-shape"))
    assert key["status"] == "list_models_failed"
    assert key["description"] == "Provider answered with a malformed model entry"


async def test_a_failed_refresh_keeps_the_last_models_found(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    headers = bearer(org.management_key)
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base))
    body = {**_vllm(upstream.base + "/malformed"), "value": key["value"]}
    await client.put(f"/api/providers/vllm/keys/{key['id']}", json=body, headers=headers)
    again = await client.post(f"/api/providers/vllm/keys/{key['id']}/refresh-models", headers=headers)
    assert again.json()["status"] == "list_models_failed"
    assert again.json()["discovered_models"] == MODELS


async def test_provider_setting_points_openai_at_a_compatible_server(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream
) -> None:
    headers = bearer(org.management_key)
    setting = await client.put(
        "/api/v1/providers/openai/settings", json={"base_url": upstream.base + "/openai/v1"}, headers=headers
    )
    assert setting.status_code == 200, setting.text
    key = await _create_and_refresh(client, org, "openai", {"name": "oa", "value": GOOD_KEY})
    assert key["status"] == "success" and key["discovered_models"] == MODELS
    assert upstream.seen[-1][0] == "/openai/v1/models"


async def test_ollama_tags(client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream) -> None:
    body = {"name": "ol", "ollama_key_config": {"url": upstream.base}}
    key = await _create_and_refresh(client, org, "ollama", body)
    assert key["discovered_models"] == ["llama3.2:latest", "qwen3:8b"]


async def test_azure_deployments(client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream) -> None:
    body = {"name": "az", "value": GOOD_KEY, "azure_key_config": {"endpoint": upstream.base}}
    key = await _create_and_refresh(client, org, "azure", body)
    assert key["status"] == "success" and key["discovered_models"] == ["my-gpt4o"]
    assert upstream.seen[-1][1]["api-key"] == GOOD_KEY


async def test_env_reference_is_resolved_at_refresh_time(
    client: httpx.AsyncClient, org: BootstrapResult, upstream: Upstream, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KP_TEST_VLLM_KEY", GOOD_KEY)
    key = await _create_and_refresh(client, org, "vllm", _vllm(upstream.base, "env.KP_TEST_VLLM_KEY"))
    assert key["status"] == "success"


async def test_unset_env_reference_fails_cleanly(
    client: httpx.AsyncClient, org: BootstrapResult, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("KP_TEST_UNSET_KEY", raising=False)
    key = await _create_and_refresh(client, org, "openai", {"name": "oa", "value": "env.KP_TEST_UNSET_KEY"})
    assert key["status"] == "list_models_failed" and "unset environment variable" in key["description"]


async def test_unsupported_provider_says_so(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    """A provider without a model list endpoint: a refresh is a 400 telling to list models explicitly."""
    headers = bearer(org.management_key)
    created = await client.post(
        "/api/providers/replicate/keys", json={"name": "rep", "value": "r8_key"}, headers=headers
    )
    assert created.status_code == 200, created.text
    key_id = created.json()["id"]
    refreshed = await client.post(f"/api/providers/replicate/keys/{key_id}/refresh-models", headers=headers)
    assert refreshed.status_code == 400, refreshed.text
    error = refreshed.json()["error"]
    assert error["type"] == "discovery_not_supported"
    assert "not supported for provider 'replicate'" in error["message"]
