"""The `openai` and `anthropic` clients through keyplane on a `bedrock` credential: Converse and
converse-stream signed with SigV4 (checked by the fake with botocore), answers and event streams
back in the caller's shape, embeddings through InvokeModel, metered from Bedrock's usage."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from keyplane.billing.pricing import Price
from tests.factories import bearer
from tests.fakes import bedrock as fake
from tests.fakes.upstream import RunningUpstream
from tests.harness import GatewaySetup, ServedApp

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PRICE = Price(
    3_000_000_000, 15_000_000_000, 300_000_000, 3_750_000_000
)  # $3 / $15, reads $0.30, writes $3.75
KEYS = {"access_key": fake.ACCESS_KEY, "secret_key": fake.SECRET_KEY, "region": fake.REGION}
ARN = (
    "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def _point_at_fake(setup: GatewaySetup, bedrock_upstream: RunningUpstream) -> None:
    """The `bedrock` provider's base URL is the fake (a provider setting, as an operator would)."""
    await setup.point_provider_at("bedrock", bedrock_upstream.port)


async def _use_bedrock(
    setup: GatewaySetup,
    bedrock_upstream: RunningUpstream,
    *,
    models: list[str],
    name: str = "bedrock",
    config: dict[str, Any] | None = None,
    value: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    await _point_at_fake(setup, bedrock_upstream)
    body = {"value": value, "bedrock_key_config": config or KEYS, **extra}
    return await setup.add_credential(provider="bedrock", name=name, models=models, extra=body)


async def _price(setup: GatewaySetup, model: str) -> None:
    response = await setup.client.put(
        f"/api/v1/model-prices/{model}",
        json={"input": 3.0, "output": 15.0, "cached": 0.3, "cache_write": 3.75},
        headers=setup.admin,
    )
    assert response.status_code == 200, response.text


async def _ready(setup: GatewaySetup, bedrock_upstream: RunningUpstream, *models: str, **options: Any) -> str:
    await _use_bedrock(setup, bedrock_upstream, models=list(models), **options)
    for model in models:
        await _price(setup, model)
    secret, _ = await setup.make_key()
    return secret


def _client(served: ServedApp, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0)


def _quoted(model: str) -> str:
    return model.replace(":", "%3A").replace("/", "%2F")


async def test_chat_goes_out_as_converse_signed_and_comes_back_as_a_completion(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            temperature=0.3,
            top_p=0.9,
            stop="END",
            max_tokens=50,
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == MODEL
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (fake.INPUT, fake.OUTPUT)
    (sent,) = bedrock_upstream.requests
    assert sent.path == f"/model/{_quoted(MODEL)}/converse"
    assert sent.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={fake.ACCESS_KEY}/")
    assert sent.body == {
        "messages": [{"role": "user", "content": [{"text": "hi"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 50, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]},
    }
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens) == (fake.INPUT, fake.OUTPUT)
    assert row.cost_nanousd == PRICE.cost_nanos(fake.INPUT, fake.OUTPUT)
    assert row.provider == "bedrock" and row.status_code == 200


async def test_a_tool_call_round_trip(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "anthropic.claude-tools")
    question = {"role": "user", "content": "Weather in Paris?"}
    async with _client(served, key) as client:
        first = await client.chat.completions.create(
            model="anthropic.claude-tools", messages=[question], tools=[WEATHER], tool_choice="required"
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.tool_calls is not None
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris"}
        second = await client.chat.completions.create(
            model="anthropic.claude-tools",
            tools=[WEATHER],
            messages=[
                question,
                {"role": "assistant", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            ],
        )
    assert second.choices[0].message.content == fake.AFTER_TOOL
    first_sent, second_sent = (r.body for r in bedrock_upstream.requests)
    spec = {"name": "get_weather", "description": "The weather in a city"}
    assert first_sent["toolConfig"] == {
        "tools": [{"toolSpec": {**spec, "inputSchema": {"json": WEATHER["function"]["parameters"]}}}],
        "toolChoice": {"any": {}},
    }
    assert second_sent["messages"][1] == {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": call.id, "name": "get_weather", "input": {"city": "Paris"}}}],
    }
    assert second_sent["messages"][2] == {
        "role": "user",
        "content": [{"toolResult": {"toolUseId": call.id, "content": [{"text": "sunny"}]}}],
    }


async def test_a_stream_of_event_frames_becomes_chunks_ending_with_the_usage_chunk(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(fake.TEXT)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (fake.INPUT, fake.OUTPUT)
    (sent,) = bedrock_upstream.requests
    assert sent.path == f"/model/{_quoted(MODEL)}/converse-stream"
    assert sent.headers["accept"] == "application/vnd.amazon.eventstream"
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens, row.status_code) == (fake.INPUT, fake.OUTPUT, 200)
    assert row.cost_nanousd == PRICE.cost_nanos(fake.INPUT, fake.OUTPUT) and row.streamed


async def test_a_streamed_tool_call_arrives_in_pieces(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "anthropic.claude-tools")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="anthropic.claude-tools",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id == "tooluse_fake01" and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    assert "".join(c.function.arguments or "" for c in calls if c.function) == fake.TOOL_INPUT
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert all(c.usage is None for c in chunks)  # the caller did not ask for the usage chunk


async def test_messages_callers_get_cache_reads_and_writes_metered_at_their_prices(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    system = [{"type": "text", "text": "A long manual.", "cache_control": {"type": "ephemeral"}}]
    async with anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=64,
            system=system,
            messages=[{"role": "user", "content": "hi"}],  # type: ignore[arg-type]
        )
    assert message.content[0].type == "text" and message.content[0].text == "".join(fake.TEXT)
    assert message.stop_reason == "end_turn" and message.model == MODEL
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (
        fake.CACHE_READ,
        fake.CACHE_WRITE,
    )
    (sent,) = bedrock_upstream.requests
    assert sent.body["system"] == [{"text": "A long manual."}, {"cachePoint": {"type": "default"}}]
    (row,) = await setup.wait_for_usage(1)
    prompt = fake.INPUT + fake.CACHE_READ + fake.CACHE_WRITE
    assert (row.prompt_tokens, row.cached_tokens, row.cache_write_tokens) == (
        prompt,
        fake.CACHE_READ,
        fake.CACHE_WRITE,
    )
    assert row.cost_nanousd == PRICE.cost_nanos(prompt, fake.OUTPUT, fake.CACHE_READ, fake.CACHE_WRITE)


async def test_messages_callers_stream_anthropic_events(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    async with (
        anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client,
        client.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "".join(fake.TEXT)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == fake.OUTPUT
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens, row.status_code) == (fake.INPUT, fake.OUTPUT, 200)


@pytest.mark.parametrize(
    ("model", "inputs", "sent"),
    [
        ("amazon.titan-embed-text-v2:0", "hello", {"inputText": "hello"}),
        (
            "cohere.embed-english-v3",
            ["a", "b"],
            {"texts": ["a", "b"], "input_type": "search_document", "embedding_types": ["float"]},
        ),
    ],
)
async def test_embeddings_through_invoke_model_are_metered(
    setup: GatewaySetup,
    served: ServedApp,
    bedrock_upstream: RunningUpstream,
    model: str,
    inputs: str | list[str],
    sent: dict[str, Any],
) -> None:
    key = await _ready(setup, bedrock_upstream, model)
    async with _client(served, key) as client:
        result = await client.embeddings.create(model=model, input=inputs)
    count = 1 if isinstance(inputs, str) else len(inputs)
    tokens = fake.EMBED_TOKENS * (1 if model.startswith("amazon") else count)
    assert len(result.data) == count and all(item.embedding for item in result.data)
    assert result.usage.prompt_tokens == tokens and result.model == model
    (request,) = bedrock_upstream.requests
    assert request.path == f"/model/{_quoted(model)}/invoke" and request.body == sent
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.cost_nanousd) == (tokens, PRICE.cost_nanos(tokens, 0))


async def test_titan_takes_one_text_per_request(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "amazon.titan-embed-text-v2:0")
    async with _client(served, key) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model="amazon.titan-embed-text-v2:0", input=["a", "b"])
    assert "one text per request" in caught.value.message and bedrock_upstream.requests == []


async def test_a_wrong_secret_is_refused_by_the_signature_check(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL, config={**KEYS, "secret_key": "not-the-secret"})
    async with _client(served, key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502 and "rejected keyplane's credential" in caught.value.message
    assert len(bedrock_upstream.requests) == 1


async def test_an_inference_profile_arn_is_one_encoded_path_segment(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "claude", aliases={"claude": ARN})
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT) and completion.model == "claude"
    (sent,) = bedrock_upstream.requests
    assert sent.path == f"/model/{_quoted(ARN)}/converse"  # and its signature held over that path


async def test_session_credentials_and_bedrock_api_keys_authenticate(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    session = {**KEYS, "session_token": fake.SESSION_TOKEN}
    await _use_bedrock(
        setup,
        bedrock_upstream,
        models=["temporary"],
        name="sts",
        config=session,
        aliases={"temporary": MODEL},
    )
    await _use_bedrock(
        setup,
        bedrock_upstream,
        models=["api-key"],
        name="api-key",
        config={"region": fake.REGION},
        value=fake.API_KEY,
        aliases={"api-key": MODEL},
    )
    key, _ = await setup.make_key()
    async with _client(served, key) as client:
        for model in ("temporary", "api-key"):
            completion = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
            assert completion.choices[0].message.content == "".join(fake.TEXT)
    signed, bearer_sent = bedrock_upstream.requests
    assert signed.headers["x-amz-security-token"] == fake.SESSION_TOKEN
    assert bearer_sent.headers["authorization"] == f"Bearer {fake.API_KEY}"


async def test_a_5xx_falls_back_to_the_next_credential(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    await _use_bedrock(
        setup,
        bedrock_upstream,
        models=["chat"],
        name="broken",
        aliases={"chat": "anthropic.claude-fail"},
        weight=1000,
    )
    await _use_bedrock(
        setup, bedrock_upstream, models=["chat"], name="healthy", aliases={"chat": MODEL}, weight=0.001
    )
    key, _ = await setup.make_key()
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert [r.path for r in bedrock_upstream.requests] == [
        "/model/anthropic.claude-fail/converse",
        f"/model/{_quoted(MODEL)}/converse",
    ]


async def test_a_throttled_upstream_is_a_429_and_a_validation_error_reaches_the_caller(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "anthropic.claude-busy", MODEL)
    async with httpx.AsyncClient(timeout=30) as http:
        busy = await http.post(
            served.base_url + "/v1/chat/completions",
            json={"model": "anthropic.claude-busy", "messages": [{"role": "user", "content": "hi"}]},
            headers=bearer(key),
        )
        refused = await http.post(
            served.base_url + "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "assistant", "content": "I start."}]},
            headers=bearer(key),
        )
    assert busy.status_code == 429 and set(busy.json()["error"]) == {"message", "type", "param", "code"}
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "A conversation must start with a user message."


async def test_an_exception_frame_ends_the_stream_with_an_error(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, "anthropic.claude-throttled-stream")
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            served.base_url + "/v1/chat/completions",
            json={
                "model": "anthropic.claude-throttled-stream",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            },
            headers=bearer(key),
        )
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert json.loads(events[-1])["error"]["message"].endswith("Too many tokens, please wait.")
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and "throttlingException" in (row.error or "")


async def test_image_urls_are_refused_before_any_request(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    async with _client(served, key) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": [image]}],  # type: ignore[list-item]
            )
    assert "base64" in caught.value.message and bedrock_upstream.requests == []


async def test_a_base64_image_goes_out_as_converse_bytes(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, bedrock_upstream, MODEL)
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}}
    async with _client(served, key) as client:
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": [{"type": "text", "text": "What is it?"}, part]}],  # type: ignore[list-item]
        )
    (sent,) = bedrock_upstream.requests
    assert sent.body["messages"][0]["content"] == [
        {"text": "What is it?"},
        {"image": {"format": "png", "source": {"bytes": pixel}}},
    ]


async def test_refresh_models_reads_list_foundation_models_for_v1_models(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    credential = await _use_bedrock(setup, bedrock_upstream, models=[])
    response = await setup.client.post(
        f"/api/providers/bedrock/keys/{credential['id']}/refresh-models", headers=setup.admin
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["discovered_models"]) == sorted(fake.MODELS)
    (listing,) = bedrock_upstream.requests
    assert listing.method == "GET" and listing.path == "/foundation-models"
    key, _ = await setup.make_key()
    listed = await http.get(served.base_url + "/v1/models", headers=bearer(key))
    assert [m["id"] for m in listed.json()["data"]] == sorted(fake.MODELS)


async def test_a_secret_with_a_line_break_never_reaches_the_wire(
    setup: GatewaySetup, served: ServedApp, bedrock_upstream: RunningUpstream
) -> None:
    injected = {**KEYS, "session_token": f"{fake.SESSION_TOKEN}\r\nX-Injected: 1"}
    key = await _ready(setup, bedrock_upstream, MODEL, config=injected)
    async with _client(served, key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502 and "UnsafeHeader" in caught.value.message
    assert bedrock_upstream.requests == []
