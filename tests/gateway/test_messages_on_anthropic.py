"""The official `anthropic` SDK through keyplane's `/v1/messages` on an `anthropic` credential:
passed through natively (every field, the `anthropic-*` headers, stream events as sent, thinking
blocks untouched), enforced and metered by the gateway, refused in Anthropic's error shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anthropic
import httpx
import pytest
from anthropic._constants import ANTHROPIC_API_VERSION

from tests.fakes import anthropic as fake
from tests.fakes.upstream import RunningUpstream
from tests.gateway.anthropic_setup import anthropic_cost, set_prices, use_anthropic
from tests.harness import GatewaySetup, ServedApp

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
HI = [{"role": "user", "content": "hi"}]


async def _ready(
    setup: GatewaySetup, anthropic_upstream: RunningUpstream, *models: str, credit: float = 10.0
) -> str:
    await use_anthropic(setup, anthropic_upstream, models=list(models))
    await set_prices(setup, *models)
    if credit:
        await setup.add_credit(credit)
    key, _ = await setup.make_key()
    return key


def _async(served: ServedApp, key: str, **options: object) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0, **options)  # type: ignore[arg-type]


async def test_sync_sdk_create_is_passed_through_and_metered(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")

    def call() -> anthropic.types.Message:
        with anthropic.Anthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
            return client.messages.create(
                model="claude-fake-1",
                max_tokens=100,
                system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": "user", "content": "hi"}],
                stop_sequences=["END"],
                metadata={"user_id": "u-1"},
            )

    message = await asyncio.to_thread(call)
    assert message.content[0].type == "text" and message.content[0].text == "".join(fake.TEXT)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (
        fake.INPUT_TOKENS,
        fake.OUTPUT_TOKENS,
    )
    sent = anthropic_upstream.requests[-1]
    assert sent.headers["x-api-key"] == fake.API_KEY and key not in str(sent.headers)
    assert sent.body == {
        "model": "claude-fake-1",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.provider, row.status_code, row.streamed) == ("anthropic", 200, False)
    assert row.cost_nanousd == anthropic_cost(fake.INPUT_TOKENS, fake.OUTPUT_TOKENS)


async def test_async_sdk_with_a_bearer_token_and_cache_usage_is_charged_exactly(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-cache")
    before = await gateway_setup.balance()
    async with anthropic.AsyncAnthropic(base_url=served.base_url, auth_token=key, max_retries=0) as client:
        message = await client.messages.create(model="claude-cache", max_tokens=50, messages=HI)  # type: ignore[arg-type]
    assert message.usage.cache_creation_input_tokens == fake.CACHE_WRITE_TOKENS
    assert message.usage.cache_read_input_tokens == fake.CACHE_READ_TOKENS
    cost = anthropic_cost(
        fake.INPUT_TOKENS, fake.OUTPUT_TOKENS, fake.CACHE_WRITE_TOKENS, fake.CACHE_READ_TOKENS
    )
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.cached_tokens, row.cache_write_tokens, row.cost_nanousd) == (
        fake.INPUT_TOKENS + fake.CACHE_WRITE_TOKENS + fake.CACHE_READ_TOKENS,
        fake.CACHE_READ_TOKENS,
        fake.CACHE_WRITE_TOKENS,
        cost,
    )
    assert await gateway_setup.balance() == before - cost


async def test_messages_stream_relays_every_event_and_meters_start_plus_last_delta(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-cache")
    async with (
        _async(served, key) as client,
        client.messages.stream(model="claude-cache", max_tokens=50, messages=HI) as stream,  # type: ignore[arg-type]
    ):
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.content[0].type == "text" and final.content[0].text == "".join(fake.TEXT)
    assert final.usage.cache_read_input_tokens == fake.CACHE_READ_TOKENS
    (row,) = await gateway_setup.wait_for_usage(1)
    assert row.streamed and row.status_code == 200
    assert (row.completion_tokens, row.cached_tokens, row.cache_write_tokens) == (
        fake.OUTPUT_TOKENS,
        fake.CACHE_READ_TOKENS,
        fake.CACHE_WRITE_TOKENS,
    )
    assert row.cost_nanousd == anthropic_cost(
        fake.INPUT_TOKENS, fake.OUTPUT_TOKENS, fake.CACHE_WRITE_TOKENS, fake.CACHE_READ_TOKENS
    )


async def test_stream_bytes_are_exactly_what_anthropic_sent(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-thinking")
    body = {"model": "claude-thinking", "max_tokens": 50, "messages": HI, "stream": True}
    version = {"anthropic-version": "2023-06-01"}
    direct = await http.post(
        f"http://127.0.0.1:{anthropic_upstream.port}/v1/messages",
        json=body,
        headers={**version, "x-api-key": fake.API_KEY},
    )
    through = await http.post(
        served.base_url + "/v1/messages", json=body, headers={**version, "x-api-key": key}
    )
    assert through.status_code == 200 and through.headers["content-type"].startswith("text/event-stream")
    assert through.content == direct.content
    assert b"event: ping" in through.content and b"signature_delta" in through.content


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_round_trips_natively(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream, stream: bool
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-tools")
    async with _async(served, key) as client:
        request = {"model": "claude-tools", "max_tokens": 200, "tools": [WEATHER], "messages": HI}
        if stream:
            async with client.messages.stream(**request) as events:  # type: ignore[arg-type]
                first = await events.get_final_message()
        else:
            first = await client.messages.create(**request)  # type: ignore[arg-type]
        assert first.stop_reason == "tool_use"
        use = next(b for b in first.content if b.type == "tool_use")
        assert (use.name, use.input) == ("get_weather", fake.TOOL_INPUT)  # type: ignore[union-attr]
        second = await client.messages.create(
            model="claude-tools",
            max_tokens=200,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[
                *HI,  # type: ignore[list-item]
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
                },  # type: ignore[union-attr]
            ],
        )
    assert second.content[0].type == "text" and second.content[0].text == fake.AFTER_TOOL
    assert anthropic_upstream.requests[-1].body["tools"] == [WEATHER]


async def test_thinking_blocks_and_signatures_come_through_untouched(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-thinking")
    async with _async(served, key) as client:
        thinking = {"type": "enabled", "budget_tokens": 1024}
        message = await client.messages.create(
            model="claude-thinking", max_tokens=2048, thinking=thinking, messages=HI
        )  # type: ignore[arg-type]
        async with client.messages.stream(
            model="claude-thinking",
            max_tokens=2048,
            thinking=thinking,
            messages=HI,  # type: ignore[arg-type]
        ) as stream:
            streamed = await stream.get_final_message()
    for answer in (message, streamed):
        block = answer.content[0]
        assert block.type == "thinking" and (block.thinking, block.signature) == (
            fake.THINKING,
            fake.SIGNATURE,
        )
    assert anthropic_upstream.requests[-1].body["thinking"] == thinking


async def test_beta_query_and_headers_reach_anthropic(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")
    async with _async(served, key) as client:
        message = await client.beta.messages.create(
            model="claude-fake-1",
            max_tokens=20,
            messages=HI,
            betas=["interleaved-thinking-2025-05-14"],  # type: ignore[list-item]
        )
    assert message.content[0].type == "text"
    sent = anthropic_upstream.requests[-1]
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert sent.headers["anthropic-version"] == ANTHROPIC_API_VERSION  # the SDK's, not ours


async def test_count_tokens_is_answered_by_anthropic_and_costs_nothing(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")
    async with _async(served, key) as client:
        counted = await client.messages.count_tokens(model="claude-fake-1", messages=HI, tools=[WEATHER])  # type: ignore[arg-type, list-item]
        beta = await client.beta.messages.count_tokens(model="claude-fake-1", messages=HI)  # type: ignore[arg-type]
    assert counted.input_tokens == beta.input_tokens == fake.COUNTED_TOKENS
    assert [r.path for r in anthropic_upstream.requests] == ["/v1/messages/count_tokens"] * 2
    assert anthropic_upstream.requests[-1].query == ""
    assert await gateway_setup.usage_rows() == []


async def test_an_upstream_refusal_keeps_status_type_and_message(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-refuse")
    async with _async(served, key) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(model="claude-refuse", max_tokens=20, messages=HI)  # type: ignore[arg-type]
    assert refused.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "prompt is too long: 300000 tokens > 200000 maximum",
        },
        "request_id": refused.value.response.headers["x-request-id"],
    }


async def test_an_error_event_mid_stream_is_relayed_once_and_metered_502(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-stream-error")
    async with _async(served, key) as client:
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            async with client.messages.stream(
                model="claude-stream-error", max_tokens=20, messages=HI
            ) as stream:  # type: ignore[arg-type]
                async for _ in stream:
                    pass
    (row,) = await gateway_setup.wait_for_usage(1)
    assert row.status_code == 502 and "Overloaded" in (row.error or "")


async def test_refusals_use_anthropics_error_shape(
    gateway_setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    served = serve_app(enforce_operator_balance=True)  # the empty balance gives the 402
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1", credit=0.0)
    url = served.base_url + "/v1/messages"
    ok = {"model": "claude-fake-1", "max_tokens": 10, "messages": HI}
    cases = [
        ({}, ok, 401, "authentication_error"),
        ({"x-api-key": "sk-kp-v1-" + "0" * 64}, ok, 401, "authentication_error"),
        ({"x-api-key": gateway_setup.org.management_key}, ok, 403, "permission_error"),
        ({"x-api-key": key}, {**ok, "max_tokens": "many"}, 400, "invalid_request_error"),
        ({"x-api-key": key}, {"model": "claude-fake-1", "messages": HI}, 400, "invalid_request_error"),
        ({"x-api-key": key}, {**ok, "model": "claude-unknown"}, 404, "not_found_error"),
        ({"x-api-key": key}, ok, 402, "billing_error"),
    ]
    for headers, body, status, kind in cases:
        response = await http.post(url, json=body, headers={"anthropic-version": "2023-06-01", **headers})
        assert response.status_code == status, (headers, body, response.text)
        payload = response.json()
        assert payload["type"] == "error" and payload["error"]["type"] == kind, payload
        assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    response = await http.get(url, headers={"x-api-key": key})
    assert response.status_code == 405 and response.json()["type"] == "error"
    response = await http.post(served.base_url + "/v1/messages/batches", json={}, headers={"x-api-key": key})
    assert response.json()["error"]["type"] == "not_found_error"
    assert anthropic_upstream.requests == []


async def test_models_lists_an_anthropic_credentials_models_in_both_shapes(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    await use_anthropic(gateway_setup, anthropic_upstream, models=["claude-fake-1", "claude-fake-2"])
    key, _ = await gateway_setup.make_key()
    async with _async(served, key) as client:
        listed = [model.id async for model in client.models.list()]
    assert listed == ["claude-fake-1", "claude-fake-2"]


async def test_models_lists_what_discovery_found_for_an_anthropic_credential(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    credential = await use_anthropic(gateway_setup, anthropic_upstream, models=[])
    response = await gateway_setup.client.post(
        f"/api/providers/anthropic/keys/{credential['id']}/refresh-models", headers=gateway_setup.admin
    )
    assert response.status_code == 200, response.text
    key, _ = await gateway_setup.make_key()
    response = await http.get(served.base_url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
    assert [m["id"] for m in response.json()["data"]] == list(fake.MODELS)


async def test_the_gateways_rules_hold_for_messages_callers(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    """The project's max_tokens cap, the key's allowed_models and its rate limit, in Anthropic's shape."""
    await use_anthropic(gateway_setup, anthropic_upstream, models=["claude-fake-1", "claude-fake-2"])
    await gateway_setup.add_credit(1.0)
    await gateway_setup.set_project_config(max_tokens=7)
    key, key_hash = await gateway_setup.make_key()
    await gateway_setup.update_key(key_hash, allowed_models=["claude-fake-1"], rate_limit_rpm=1)
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    url = served.base_url + "/v1/messages"
    other = await http.post(
        url, json={"model": "claude-fake-2", "max_tokens": 500, "messages": HI}, headers=headers
    )
    assert (other.status_code, other.json()["error"]["type"]) == (403, "permission_error")
    first = await http.post(
        url, json={"model": "claude-fake-1", "max_tokens": 500, "messages": HI}, headers=headers
    )
    assert first.status_code == 200, first.text
    assert anthropic_upstream.requests[-1].body["max_tokens"] == 7
    second = await http.post(
        url, json={"model": "claude-fake-1", "max_tokens": 5, "messages": HI}, headers=headers
    )
    assert (second.status_code, second.json()["error"]["type"]) == (429, "rate_limit_error")
    assert "retry-after" in second.headers
    assert len(anthropic_upstream.requests) == 1
