"""Routing: Azure's wire format, providers that need translation, project config and request overrides."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import openai

from tests.factories import bearer, make_org
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp, eventually

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_azure_credentials_use_deployment_urls_and_the_api_key_header(
    setup: GatewaySetup, served: ServedApp
) -> None:
    await setup.add_credential(
        provider="azure",
        models=["gpt-test"],
        aliases={"gpt-test": "my-deployment"},
        extra={
            "azure_key_config": {
                "endpoint": f"http://127.0.0.1:{setup.upstream.port}",
                "api_version": "2024-06-01",
            }
        },
    )
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    sent = setup.upstream.requests[-1]
    assert sent.path == "/openai/deployments/my-deployment/chat/completions"
    assert sent.query == "api-version=2024-06-01"
    assert sent.headers["api-key"] == "sk-upstream-secret"
    assert "authorization" not in sent.headers


async def test_providers_without_an_adapter_are_refused_with_501(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    response = await setup.client.post(
        "/api/providers/replicate/keys",
        json={"name": "command", "value": "co-key", "models": ["command-test"], "platform": True},
        headers=setup.admin,
    )
    assert response.status_code == 200, response.text
    key, _ = await setup.make_key()
    body = {"model": "command-test", "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 501, "provider_not_supported")
    assert "replicate" in error["message"]


async def test_embeddings_on_a_chat_only_adapter_are_refused_with_501(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    response = await setup.client.post(
        "/api/providers/anthropic/keys",
        json={"name": "claude", "value": "sk-ant", "models": ["claude-test"], "platform": True},
        headers=setup.admin,
    )
    assert response.status_code == 200, response.text
    key, _ = await setup.make_key()
    body = {"model": "claude-test", "input": "hello"}
    response = await http.post(served.base_url + "/v1/embeddings", json=body, headers=bearer(key))
    error = assert_openai_error(response, 501, "provider_not_supported")
    assert "anthropic" in error["message"] and "chat" in error["message"]


async def test_project_allowed_providers_narrow_the_candidates(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.add_credit(1.0)
    await setup.set_project_config(allowed_providers=["mistral"])
    key, _ = await setup.make_key()
    body = {"model": "gpt-test", "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 404, "model_not_found")
    assert "project" in error["message"]


async def test_project_max_tokens_caps_what_is_sent_upstream(setup: GatewaySetup, served: ServedApp) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.add_credit(1.0)
    await setup.set_project_config(max_tokens=7)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES, max_tokens=500)
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert [r.body["max_tokens"] for r in setup.upstream.requests] == [7, 7]
    rows = await setup.wait_for_usage(2)
    assert [r.completion_tokens for r in rows] == [7, 7]


async def test_request_overrides_need_allow_overwrite(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    body = {"model": "gpt-test", "messages": MESSAGES, "provider": {"allowed_providers": ["vllm"]}}
    url = served.base_url + "/v1/chat/completions"
    response = await http.post(url, json=body, headers=bearer(key))
    assert_openai_error(response, 403, "overrides_not_allowed")

    await setup.set_project_config(allow_overwrite=True)

    async def accepted() -> bool:  # config changes reach the gateway within its cache TTL
        return (await http.post(url, json=body, headers=bearer(key))).status_code == 200

    await eventually(accepted)
    assert "provider" not in setup.upstream.requests[-1].body
    body["provider"] = {"eu_native": True}
    assert_openai_error(await http.post(url, json=body, headers=bearer(key)), 404, "model_not_found")
    body["provider"] = {"no_such_setting": 1}
    assert_openai_error(await http.post(url, json=body, headers=bearer(key)), 400)


async def test_a_reported_upstream_cost_is_what_is_charged(setup: GatewaySetup, served: ServedApp) -> None:
    await setup.add_credential(models=["with-cost"])
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(model="with-cost", messages=MESSAGES)
    (row,) = await setup.wait_for_usage(1)
    assert row.cost_nanousd == 12_500_000


async def test_weights_share_traffic_between_credentials(setup: GatewaySetup, served: ServedApp) -> None:
    heavy = await setup.add_credential(name="heavy", models=["gpt-test"], weight=1.0)
    await setup.add_credential(name="off", models=["gpt-test"], weight=0.0)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        for _ in range(5):
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    rows = await setup.wait_for_usage(5)
    assert {r.credential_id for r in rows} == {heavy["id"]}


async def test_model_prices_are_set_by_admins_only(setup: GatewaySetup) -> None:
    key, _ = await setup.make_key()
    response = await setup.client.put(
        "/api/v1/model-prices/org/model-x", json={"input": 1.5, "output": 3}, headers=setup.admin
    )
    assert response.status_code == 200
    assert response.json()["data"] == {
        "model": "org/model-x",
        "input": 1.5,
        "output": 3.0,
        "cached": 0.0,
        "cache_write": 1.5,  # cache writes default to the input price
        "unit": "USD per million tokens",
        "source": "operator",
    }
    listed = (await setup.client.get("/api/v1/model-prices", headers=setup.admin)).json()["data"]
    assert {"org/model-x", "gpt-4o-mini"} <= {p["model"] for p in listed}
    bad = await setup.client.put(
        "/api/v1/model-prices/x", json={"input": -1, "output": 1}, headers=setup.admin
    )
    assert bad.status_code == 400
    refused = await setup.client.put(
        "/api/v1/model-prices/x", json={"input": 1, "output": 1}, headers=bearer(key)
    )
    assert refused.status_code in (401, 403)
    assert (
        await setup.client.delete("/api/v1/model-prices/org/model-x", headers=setup.admin)
    ).status_code == 200


async def test_cost_preference_puts_byok_credentials_first(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp]
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    await setup.add_credential(name="platform", models=["gpt-test"], weight=1000)
    setup = await setup.tenant()
    own = await setup.add_credential(name="own", models=["gpt-test"], platform=False, weight=0.001)
    await setup.add_credit(1.0)
    await setup.set_project_config(preference="cost")
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        for _ in range(3):
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    rows = await setup.wait_for_usage(3)
    assert {(r.credential_id, r.is_byok) for r in rows} == {(own["id"], True)}


async def test_another_orgs_byok_credentials_are_invisible(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    other = await make_org(setup.context, name="Other", email="owner@other.test")
    setup.context.settings.allowed_upstream_hosts = "127.0.0.1"  # the operator opens the fake upstream
    response = await setup.client.post(
        "/api/providers/vllm/keys",
        json={
            "name": "other-own",
            "value": "sk-other",
            "models": ["gpt-private"],
            "vllm_key_config": {"url": f"http://127.0.0.1:{setup.upstream.port}"},
        },
        headers=bearer(other.management_key),
    )
    assert response.status_code == 200, response.text
    key, _ = await setup.make_key()
    body = {"model": "gpt-private", "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert_openai_error(response, 404, "model_not_found")
    listed = await http.get(served.base_url + "/v1/models", headers=bearer(key))
    assert listed.json() == {"object": "list", "data": []}


async def test_request_ids_are_echoed_or_generated(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    url = served.base_url + "/v1/models"
    response = await http.get(url, headers={"x-request-id": "trace-123"})
    assert response.status_code == 401 and response.headers["x-request-id"] == "trace-123"
    generated = (await http.get(url)).headers["x-request-id"]
    assert generated and generated != "trace-123"
