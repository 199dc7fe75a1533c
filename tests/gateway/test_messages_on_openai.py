"""The official `anthropic` SDK through keyplane's `/v1/messages` on an OpenAI-style credential: the
request translated to chat completions (checked against the `openai` package's request types by the
fake), the answer and the stream translated back, metered from the OpenAI usage."""

from __future__ import annotations

import anthropic
import pytest

from keyplane.billing.pricing import Price
from tests.fakes import openai_tools
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS, STREAM_WORDS, RunningUpstream
from tests.harness import GatewaySetup, ServedApp

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
HI = [{"role": "user", "content": "hi"}]
PRICE = Price(2_000_000_000, 8_000_000_000)


async def _ready(setup: GatewaySetup, upstream: RunningUpstream) -> str:
    await setup.add_credential(models=["gpt-test", "gpt-tools"], url=f"http://127.0.0.1:{upstream.port}")
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(10.0)
    key, _ = await setup.make_key()
    return key


def _client(served: ServedApp, key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0)


async def test_create_is_translated_to_chat_completions_and_back(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with _client(served, key) as client:
        message = await client.messages.create(
            model="gpt-test",
            max_tokens=64,
            system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            stop_sequences=["END"],
            metadata={"user_id": "u-1"},
            extra_body={"temperature": 0.2},
        )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == "".join(STREAM_WORDS)
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert tools_upstream.requests[-1].body == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 64,
        "temperature": 0.2,
        "stop": ["END"],
        "user": "u-1",
    }
    (row,) = await gateway_setup.wait_for_usage(1)
    assert (row.provider, row.status_code, row.cost_nanousd) == (
        "vllm",
        200,
        PRICE.cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS),
    )


async def test_a_stream_becomes_anthropic_events_with_usage_in_the_last_delta(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with (
        _client(served, key) as client,
        client.messages.stream(model="gpt-test", max_tokens=64, messages=HI) as stream,  # type: ignore[arg-type]
    ):
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "message_delta" in kinds
    assert final.content[0].type == "text" and final.content[0].text == "".join(STREAM_WORDS)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert tools_upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    (row,) = await gateway_setup.wait_for_usage(1)
    assert row.streamed and (row.prompt_tokens, row.completion_tokens) == (PROMPT_TOKENS, COMPLETION_TOKENS)
    assert row.cost_nanousd == PRICE.cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS)


@pytest.mark.parametrize("stream", [False, True])
async def test_tools_round_trip_through_openai_tool_calls(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream, stream: bool
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with _client(served, key) as client:
        request = {
            "model": "gpt-tools",
            "max_tokens": 100,
            "tools": [WEATHER],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "messages": HI,
        }
        if stream:
            async with client.messages.stream(**request) as events:  # type: ignore[arg-type]
                first = await events.get_final_message()
        else:
            first = await client.messages.create(**request)  # type: ignore[arg-type]
        assert first.stop_reason == "tool_use"
        (use,) = first.content
        assert use.type == "tool_use" and (use.id, use.name, use.input) == (
            "call_fake1",
            "get_weather",
            {"city": "Paris"},
        )
        sent = tools_upstream.requests[-1].body
        assert sent["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": WEATHER["input_schema"],
                    "description": "The weather in a city",
                },
            }
        ]
        assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("required", False)
        second = await client.messages.create(
            model="gpt-tools",
            max_tokens=100,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[
                *HI,  # type: ignore[list-item]
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": use.id,
                            "content": [{"type": "text", "text": "sunny"}],
                        },
                        {"type": "text", "text": "and tomorrow?"},
                    ],
                },
            ],
        )
    assert second.content[0].type == "text" and second.content[0].text == openai_tools.AFTER_TOOL
    assert tools_upstream.requests[-1].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_fake1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_fake1", "content": "sunny"},
        {"role": "user", "content": "and tomorrow?"},
    ]


async def test_earlier_thinking_blocks_are_dropped_and_images_become_image_urls(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with _client(served, key) as client:
        await client.messages.create(
            model="gpt-test",
            max_tokens=10,
            messages=[
                {"role": "user", "content": "first"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "text", "text": "answer"},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
                    ],
                },
            ],
        )
    assert tools_upstream.requests[-1].body["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        },
    ]


async def test_server_tools_are_refused_in_anthropics_shape(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with _client(served, key) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model="gpt-test",
                max_tokens=10,
                messages=HI,  # type: ignore[arg-type]
                tools=[{"type": "web_search_20250305", "name": "web_search"}],  # type: ignore[list-item]
            )
    assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "web_search_20250305" in refused.value.body["error"]["message"]  # type: ignore[index]
    assert tools_upstream.requests == []


async def test_count_tokens_without_an_anthropic_credential_is_an_estimate(
    gateway_setup: GatewaySetup, served: ServedApp, tools_upstream: RunningUpstream
) -> None:
    key = await _ready(gateway_setup, tools_upstream)
    async with _client(served, key) as client:
        small = await client.messages.count_tokens(model="gpt-test", messages=HI)  # type: ignore[arg-type]
        large = await client.messages.count_tokens(
            model="gpt-test", messages=[{"role": "user", "content": "word " * 400}]
        )
    assert 0 < small.input_tokens < large.input_tokens
    assert tools_upstream.requests == []
    assert await gateway_setup.usage_rows() == []
