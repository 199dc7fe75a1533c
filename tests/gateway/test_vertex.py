"""The `openai` and `anthropic` clients through keyplane on a `vertex` credential: Gemini through
generateContent and its SSE stream, Claude through rawPredict, embeddings through predict, each
request carrying a Google access token that the fake issued after verifying the service account's
signed JWT; answers back in the caller's shape, metered from Vertex's usage."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from keyplane.billing.pricing import Price
from keyplane.gateway.service import Gateway
from tests.factories import bearer
from tests.fakes import anthropic as fake_claude
from tests.fakes import vertex as fake
from tests.fakes.upstream import RunningUpstream
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

GEMINI = "gemini-2.0-flash-001"
CLAUDE = "claude-3-5-sonnet-v2@20241022"
EMBEDDER = "text-embedding-005"
PRICE = Price(3_000_000_000, 15_000_000_000, 300_000_000, 3_750_000_000)  # $3 / $15, reads $0.30
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "A city"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def _prefix(model: str, publisher: str = "google") -> str:
    return (
        f"/v1/projects/{fake.PROJECT}/locations/{fake.REGION}/publishers/{publisher}/models/"
        + model.replace("@", "%40")
    )


def _account(vertex: RunningUpstream, label: str = "account") -> str:
    return json.dumps(fake.service_account(f"http://127.0.0.1:{vertex.port}/token", label=label))


async def _ready(
    setup: GatewaySetup, vertex: RunningUpstream, *models: str, label: str = "account", name: str = "vertex"
) -> str:
    """A platform `vertex` credential at the fake (the operator's base URL), priced models, a key."""
    await setup.point_provider_at("vertex", vertex.port)
    config = {"project_id": fake.PROJECT, "region": fake.REGION, "auth_credentials": _account(vertex, label)}
    await setup.add_credential(
        provider="vertex", name=name, models=list(models), extra={"value": None, "vertex_key_config": config}
    )
    for model in models:
        response = await setup.client.put(
            f"/api/v1/model-prices/{model}",
            json={"input": 3.0, "output": 15.0, "cached": 0.3, "cache_write": 3.75},
            headers=setup.admin,
        )
        assert response.status_code == 200, response.text
    secret, _ = await setup.make_key()
    return secret


def _client(served: ServedApp, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0)


def _gateway(served: ServedApp) -> Gateway:
    assert served.app is not None
    gateway: Gateway = served.app.state.keyplane.services["gateway"]
    return gateway


async def test_chat_goes_out_as_generate_content_with_a_google_token(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model=GEMINI,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            temperature=0.3,
            top_p=0.9,
            stop="END",
            max_tokens=50,
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == GEMINI
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        fake.PROMPT,
        fake.CANDIDATES,
    )
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix(GEMINI) + ":generateContent"
    (grant,) = vertex_upstream.app.token_requests
    assert grant["grant_type"] == fake.GRANT
    assert sent.headers["authorization"] == f"Bearer {grant['issued']}"
    assert sent.body == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.3,
            "topP": 0.9,
            "stopSequences": ["END"],
        },
    }
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens) == (fake.PROMPT, fake.CANDIDATES)
    assert row.cost_nanousd == PRICE.cost_nanos(fake.PROMPT, fake.CANDIDATES)
    assert row.provider == "vertex" and row.status_code == 200


async def test_a_tool_call_round_trip(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, "gemini-tools")
    question = {"role": "user", "content": "Weather in Paris?"}
    async with _client(served, key) as client:
        first = await client.chat.completions.create(
            model="gemini-tools", messages=[question], tools=[WEATHER], tool_choice="required"
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == fake.TOOL_ARGS
        second = await client.chat.completions.create(
            model="gemini-tools",
            tools=[WEATHER],
            messages=[
                question,
                {"role": "assistant", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            ],
        )
    assert second.choices[0].message.content == fake.AFTER_TOOL
    first_sent, second_sent = (r.body for r in vertex_upstream.requests)
    assert first_sent["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING", "description": "A city"}},
                        "required": ["city"],
                    },
                }
            ]
        }
    ]
    assert first_sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert second_sent["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": fake.TOOL_ARGS}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"content": "sunny"}}}],
        },
    ]


async def test_a_stream_becomes_chunks_ending_with_the_usage_chunk(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model=GEMINI,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(fake.TEXT)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (fake.PROMPT, fake.CANDIDATES)
    (sent,) = vertex_upstream.requests
    assert (sent.path, sent.query) == (_prefix(GEMINI) + ":streamGenerateContent", "alt=sse")
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens, row.status_code) == (fake.PROMPT, fake.CANDIDATES, 200)
    assert row.cost_nanousd == PRICE.cost_nanos(fake.PROMPT, fake.CANDIDATES) and row.streamed


async def test_a_streamed_tool_call(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, "gemini-tools")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="gemini-tools",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert json.loads("".join(c.function.arguments or "" for c in calls if c.function)) == fake.TOOL_ARGS
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]


async def test_cached_and_thinking_tokens_are_metered_as_vertex_reports_them(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    model = "gemini-cached-thinking"
    key = await _ready(setup, vertex_upstream, model)
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == fake.CACHED
    (row,) = await setup.wait_for_usage(1)
    output = fake.CANDIDATES + fake.THOUGHTS  # thinking is billed as output
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (fake.PROMPT, output, fake.CACHED)
    assert row.cost_nanousd == PRICE.cost_nanos(fake.PROMPT, output, fake.CACHED)


async def test_embeddings_go_to_predict(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, EMBEDDER)
    async with _client(served, key) as client:
        answer = await client.embeddings.create(model=EMBEDDER, input=["a", "bb"], dimensions=256)
    assert [d.embedding for d in answer.data] == [[0.1, 0.2, 1.0], [0.2, 0.2, 2.0]]
    assert answer.usage.prompt_tokens == 2 * fake.EMBED_TOKENS
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix(EMBEDDER) + ":predict"
    assert sent.body == {
        "instances": [{"content": "a"}, {"content": "bb"}],
        "parameters": {"outputDimensionality": 256},
    }
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens) == (2 * fake.EMBED_TOKENS, 0)
    assert row.cost_nanousd == PRICE.cost_nanos(2 * fake.EMBED_TOKENS, 0)


async def test_claude_on_vertex_goes_through_raw_predict(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, CLAUDE)
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model=CLAUDE, messages=[{"role": "user", "content": "hi"}], max_tokens=64
        )
    assert completion.choices[0].message.content == "".join(fake_claude.TEXT)
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        fake_claude.INPUT_TOKENS,
        fake_claude.OUTPUT_TOKENS,
    )
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix(CLAUDE, "anthropic") + ":rawPredict"
    assert sent.body["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent.body
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    (row,) = await setup.wait_for_usage(1)
    assert row.cost_nanousd == PRICE.cost_nanos(fake_claude.INPUT_TOKENS, fake_claude.OUTPUT_TOKENS)


async def test_claude_on_vertex_streams_through_stream_raw_predict(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, CLAUDE)
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model=CLAUDE,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(fake_claude.TEXT)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == fake_claude.OUTPUT_TOKENS
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix(CLAUDE, "anthropic") + ":streamRawPredict"
    assert sent.body["stream"] is True and "model" not in sent.body


async def test_a_messages_caller_reaches_gemini(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    async with anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
        message = await client.messages.create(
            model=GEMINI, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": "hi"}]
        )
        async with client.messages.stream(
            model=GEMINI, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
    assert message.content[0].type == "text" and message.content[0].text == "".join(fake.TEXT)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (fake.PROMPT, fake.CANDIDATES)
    assert message.stop_reason == "end_turn"
    assert text == "".join(fake.TEXT) and final.usage.output_tokens == fake.CANDIDATES
    rows = await setup.wait_for_usage(2)
    assert {(r.prompt_tokens, r.completion_tokens) for r in rows} == {(fake.PROMPT, fake.CANDIDATES)}


async def test_a_service_account_google_refuses_is_a_502_and_no_model_call(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI, label="other")  # signed with another key
    body = {"model": GEMINI, "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 502, None)
    assert "invalid_grant" in error["message"]
    assert vertex_upstream.requests == []
    assert len(vertex_upstream.app.token_requests) == 1


async def test_google_errors_keep_their_status_and_message(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    key = await _ready(setup, vertex_upstream, "gemini-busy", "text-bison")
    body = {"model": "gemini-busy", "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert response.status_code == 429
    body = {"model": "text-bison", "input": "hello"}  # not an embedding model: Google's 400
    response = await http.post(served.base_url + "/v1/embeddings", json=body, headers=bearer(key))
    error = assert_openai_error(response, 400, "upstream_error")
    assert error["message"] == "text-bison is not an embedding model."


async def test_a_failing_vertex_model_falls_back_to_the_next_credential(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, "gemini-fail")
    await setup.add_credential(name="standby", models=["gemini-fail"], weight=0)  # the OpenAI-style fake
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="gemini-fail", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content
    assert len(vertex_upstream.requests) == 1 and len(setup.upstream.requests) == 1
    (row,) = await setup.wait_for_usage(1)
    assert row.provider == "vllm"


async def test_an_expired_token_is_refreshed_once_under_50_concurrent_requests(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    async with _client(served, key) as client:
        await client.chat.completions.create(model=GEMINI, messages=messages)
        assert len(vertex_upstream.app.token_requests) == 1
        tokens = _gateway(served).access_tokens
        tokens.clock = lambda: time.monotonic() + 3600  # an hour on: the first token has expired
        answers = await asyncio.gather(
            *(client.chat.completions.create(model=GEMINI, messages=messages) for _ in range(50))
        )
    assert all(a.choices[0].message.content == "".join(fake.TEXT) for a in answers)
    first, second = (grant["issued"] for grant in vertex_upstream.app.token_requests)
    used = [r.headers["authorization"] for r in vertex_upstream.requests]
    assert used == [f"Bearer {first}"] + [f"Bearer {second}"] * 50


async def test_models_lists_the_credentials_explicit_models(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI, CLAUDE)
    async with _client(served, key) as client:
        listed = [model.id async for model in client.models.list()]
    assert {GEMINI, CLAUDE} <= set(listed)


@pytest.mark.parametrize("image", ["https://example.com/cat.png"])
async def test_an_image_url_is_refused_since_gemini_takes_inline_data(
    image: str,
    setup: GatewaySetup,
    served: ServedApp,
    vertex_upstream: RunningUpstream,
    http: httpx.AsyncClient,
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    content = [{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": image}}]
    body = {"model": GEMINI, "messages": [{"role": "user", "content": content}]}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 400, None)
    assert "base64" in error["message"]
    assert vertex_upstream.requests == []


async def test_an_error_event_ends_the_stream_with_an_error(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    key = await _ready(setup, vertex_upstream, "gemini-stream-error")
    body = {"model": "gemini-stream-error", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"]["role"] == "assistant"
    assert json.loads(events[-1])["error"]["message"].endswith("Quota exceeded mid-stream.")
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and "Quota exceeded" in (row.error or "")


async def test_a_token_google_revoked_early_is_replaced_on_the_next_request(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, GEMINI)
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    async with _client(served, key) as client:
        await client.chat.completions.create(model=GEMINI, messages=messages)
        vertex_upstream.app.issued.clear()  # every token revoked
        with pytest.raises(openai.APIStatusError) as refused:
            await client.chat.completions.create(model=GEMINI, messages=messages)
        assert refused.value.status_code == 502  # Google's 401: keyplane's credential failed
        again = await client.chat.completions.create(model=GEMINI, messages=messages)
    assert again.choices[0].message.content == "".join(fake.TEXT)
    assert len(vertex_upstream.app.token_requests) == 2


async def test_a_messages_caller_reaches_claude_on_vertex_unchanged_but_for_vertexs_fields(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, CLAUDE)
    async with anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
        message = await client.messages.create(
            model=CLAUDE,
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"anthropic-beta": "token-efficient-tools-2025-02-19"},
        )
    assert message.content[0].type == "text" and message.content[0].text == "".join(fake_claude.TEXT)
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix(CLAUDE, "anthropic") + ":rawPredict"
    assert sent.body == {
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "anthropic_version": "vertex-2023-10-16",
    }
    assert sent.headers["anthropic-beta"] == "token-efficient-tools-2025-02-19"


async def test_token_counts_for_claude_go_to_vertexs_count_tokens_endpoint(
    setup: GatewaySetup, served: ServedApp, vertex_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, vertex_upstream, CLAUDE)
    async with anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
        counted = await client.messages.count_tokens(
            model=CLAUDE, messages=[{"role": "user", "content": "hi"}]
        )
    assert counted.input_tokens == fake_claude.COUNTED_TOKENS
    (sent,) = vertex_upstream.requests
    assert sent.path == _prefix("count-tokens", "anthropic") + ":rawPredict"
    assert sent.body == {"model": CLAUDE, "messages": [{"role": "user", "content": "hi"}]}
    assert sent.headers["authorization"].startswith("Bearer ya29.fake-")
