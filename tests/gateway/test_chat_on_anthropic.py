"""The `openai` client through keyplane on an `anthropic` credential: translated both ways, metered
from Anthropic's usage (cache writes and reads priced apart), streamed or not."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.factories import bearer
from tests.fakes import anthropic as fake
from tests.fakes.upstream import RunningUpstream
from tests.gateway.anthropic_setup import anthropic_cost, set_prices, use_anthropic
from tests.harness import GatewaySetup, ServedApp

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg=="


async def _ready(setup: GatewaySetup, anthropic_upstream: RunningUpstream, *models: str) -> str:
    await use_anthropic(setup, anthropic_upstream, models=list(models))
    await set_prices(setup, *models)
    await setup.add_credit(10.0)
    key, _ = await setup.make_key()
    return key


def _client(served: ServedApp, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0)


async def test_chat_is_sent_as_messages_with_the_key_and_version_and_answered_in_openai_shape(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="claude-fake-1",
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
            ],
            stop=["END"],
            temperature=0.5,
            top_p=0.9,
            user="someone",
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        fake.INPUT_TOKENS,
        fake.OUTPUT_TOKENS,
    )
    sent = anthropic_upstream.requests[-1]
    assert (sent.path, sent.headers["x-api-key"], sent.headers["anthropic-version"]) == (
        "/v1/messages",
        fake.API_KEY,
        "2023-06-01",
    )
    assert "authorization" not in sent.headers
    assert sent.body == {
        "model": "claude-fake-1",
        "max_tokens": gateway_setup.context.settings.gateway_default_max_tokens,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "metadata": {"user_id": "someone"},
    }
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.provider, row.status_code, row.prompt_tokens, row.completion_tokens) == (
        "anthropic",
        200,
        fake.INPUT_TOKENS,
        fake.OUTPUT_TOKENS,
    )
    assert row.cost_nanousd == anthropic_cost(fake.INPUT_TOKENS, fake.OUTPUT_TOKENS)


async def test_cache_writes_and_reads_are_reported_as_cached_tokens_and_priced_apart(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-cache")
    before = await gateway_setup.balance()
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="claude-cache",
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}],
                }
            ],  # type: ignore[typeddict-unknown-key]
        )
    prompt = fake.INPUT_TOKENS + fake.CACHE_WRITE_TOKENS + fake.CACHE_READ_TOKENS
    assert completion.usage is not None and completion.usage.prompt_tokens == prompt
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == fake.CACHE_READ_TOKENS
    assert anthropic_upstream.requests[-1].body["messages"][0]["content"][0]["cache_control"] == {
        "type": "ephemeral"
    }
    (row,) = await gateway_setup.wait_for_usage(1)
    cost = anthropic_cost(
        fake.INPUT_TOKENS, fake.OUTPUT_TOKENS, fake.CACHE_WRITE_TOKENS, fake.CACHE_READ_TOKENS
    )
    assert (row.prompt_tokens, row.cached_tokens, row.cache_write_tokens, row.cost_nanousd) == (
        prompt,
        fake.CACHE_READ_TOKENS,
        fake.CACHE_WRITE_TOKENS,
        cost,
    )
    assert await gateway_setup.balance() == before - cost
    assert cost != anthropic_cost(prompt, fake.OUTPUT_TOKENS)  # the cache rates mattered


async def test_a_streamed_chat_is_translated_event_by_event_and_metered_with_cache_tokens(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-cache")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="claude-cache", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(fake.TEXT)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert all(c.usage is None for c in chunks)  # not asked for
    assert anthropic_upstream.requests[-1].body["stream"] is True
    assert "stream_options" not in anthropic_upstream.requests[-1].body
    (row,) = await gateway_setup.wait_for_usage(1)
    assert row.streamed and row.status_code == 200
    assert (row.cached_tokens, row.cache_write_tokens) == (fake.CACHE_READ_TOKENS, fake.CACHE_WRITE_TOKENS)
    assert row.cost_nanousd == anthropic_cost(
        fake.INPUT_TOKENS, fake.OUTPUT_TOKENS, fake.CACHE_WRITE_TOKENS, fake.CACHE_READ_TOKENS
    )


async def test_the_usage_chunk_comes_last_when_the_client_asks_for_it(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-cache")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="claude-cache",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (
        chunks[-1].usage.prompt_tokens == fake.INPUT_TOKENS + fake.CACHE_WRITE_TOKENS + fake.CACHE_READ_TOKENS
    )
    assert [c for c in chunks[:-1] if c.usage is not None] == []


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_and_tool_results_round_trip(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream, stream: bool
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-tools")
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    async with _client(served, key) as client:
        if stream:
            chunks = [
                c
                async for c in await client.chat.completions.create(
                    model="claude-tools",
                    messages=messages,
                    tools=[WEATHER],
                    tool_choice="required",
                    stream=True,  # type: ignore[arg-type]
                )
            ]
            deltas = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
            call_id, name = deltas[0].id, deltas[0].function.name  # type: ignore[union-attr]
            arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
            assert finish == ["tool_calls"]
        else:
            first = await client.chat.completions.create(
                model="claude-tools",
                messages=messages,
                tools=[WEATHER],
                tool_choice="required",  # type: ignore[arg-type]
            )
            assert first.choices[0].finish_reason == "tool_calls"
            assert first.choices[0].message.content == "Let me check."
            (call,) = first.choices[0].message.tool_calls or []
            call_id, name, arguments = call.id, call.function.name, call.function.arguments  # type: ignore[union-attr]
        assert (call_id, name, json.loads(arguments)) == (
            "toolu_01FakeToolCall",
            "get_weather",
            fake.TOOL_INPUT,
        )
        sent = anthropic_upstream.requests[-1].body
        assert sent["tools"] == [
            {
                "name": "get_weather",
                "description": "The weather in a city",
                "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
            }
        ]
        assert sent["tool_choice"] == {"type": "any"}
        messages += [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21 C"},
        ]
        second = await client.chat.completions.create(
            model="claude-tools", messages=messages, tools=[WEATHER]
        )  # type: ignore[arg-type]
    assert second.choices[0].message.content == fake.AFTER_TOOL
    sent = anthropic_upstream.requests[-1].body
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": call_id, "name": "get_weather", "input": fake.TOOL_INPUT}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "sunny, 21 C"}],
        },
    ]


async def test_images_as_data_urls_and_web_urls_become_image_blocks(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    async with _client(served, key) as client:
        await client.chat.completions.create(
            model="claude-fake-1", messages=[{"role": "user", "content": parts}]
        )  # type: ignore[list-item]
    assert anthropic_upstream.requests[-1].body["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


async def test_thinking_comes_back_as_reasoning_content(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-thinking")
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="claude-thinking",
            messages=[{"role": "user", "content": "think"}],
            max_tokens=2048,
            extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}},
        )
        stream = await client.chat.completions.create(
            model="claude-thinking", messages=[{"role": "user", "content": "think"}], stream=True
        )
        chunks = [c async for c in stream]
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert completion.choices[0].message.reasoning_content == fake.THINKING  # type: ignore[attr-defined]
    assert anthropic_upstream.requests[-2].body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert reasoning == fake.THINKING


async def test_an_upstream_refusal_keeps_its_status_and_message(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-refuse")
    body = {"model": "claude-refuse", "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("prompt is too long")
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.status_code, row.cost_nanousd) == (400, 0)


async def test_a_rejected_anthropic_key_is_keyplanes_fault_a_502(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    await use_anthropic(gateway_setup, anthropic_upstream, models=["claude-fake-1"], key="sk-ant-wrong")
    await gateway_setup.add_credit(1.0)
    key, _ = await gateway_setup.make_key()
    body = {"model": "claude-fake-1", "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_auth_error"
    assert "sk-ant-wrong" not in response.text


async def test_an_overloaded_anthropic_falls_back_to_the_next_credential(
    gateway_setup: GatewaySetup, served: ServedApp, anthropic_upstream: RunningUpstream
) -> None:
    await use_anthropic(
        gateway_setup,
        anthropic_upstream,
        models=["claude-x"],
        aliases={"claude-x": "claude-overloaded"},
        weight=100,
    )
    await gateway_setup.add_credential(models=["claude-x"], weight=0)  # the OpenAI-style standby
    await gateway_setup.add_credit(1.0)
    key, _ = await gateway_setup.make_key()
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="claude-x", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "Hello from the fake upstream."
    assert anthropic_upstream.requests[-1].body["model"] == "claude-overloaded"
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.provider, row.status_code) == ("vllm", 200)


async def test_an_error_event_mid_stream_reaches_the_client_and_is_metered_502(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-stream-error")
    body = {"model": "claude-stream-error", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with http.stream(
        "POST", served.base_url + "/v1/chat/completions", json=body, headers=bearer(key)
    ) as response:
        text = (await response.aread()).decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    assert events[-1]["error"]["message"] == "The provider's stream failed: Overloaded"
    assert [e for e in events if "error" in e] == [events[-1]]  # relayed once, not doubled
    (row,) = await gateway_setup.wait_for_usage(1)
    assert row.status_code == 502 and "Overloaded" in (row.error or "")


async def test_what_messages_cannot_express_is_a_400_before_anything_is_sent(
    gateway_setup: GatewaySetup,
    served: ServedApp,
    anthropic_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    key = await _ready(gateway_setup, anthropic_upstream, "claude-fake-1")
    body = {"model": "claude-fake-1", "messages": [{"role": "user", "content": "hi"}], "n": 2}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 400 and "n > 1" in response.json()["error"]["message"]
    assert anthropic_upstream.requests == []
