"""The `openai` and `anthropic` clients through keyplane on a `cohere` credential: requests in
Cohere's v2 shape, answers and streams back in the caller's, metered from Cohere's billed units."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from keyplane.billing.pricing import Price
from tests.factories import bearer
from tests.fakes import cohere as fake
from tests.fakes.upstream import RunningUpstream
from tests.harness import GatewaySetup, ServedApp

PRICE = Price(1_000_000_000, 2_000_000_000)  # $1 and $2 per million tokens
CHAT_COST = PRICE.cost_nanos(fake.BILLED_INPUT, fake.BILLED_OUTPUT)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


async def _point_at_fake(setup: GatewaySetup, cohere_upstream: RunningUpstream) -> None:
    """The `cohere` provider's base URL is the fake (a provider setting, as an operator would)."""
    await setup.point_provider_at("cohere", cohere_upstream.port)


async def _use_cohere(
    setup: GatewaySetup, cohere_upstream: RunningUpstream, *, models: list[str], key: str = fake.API_KEY
) -> dict[str, Any]:
    await _point_at_fake(setup, cohere_upstream)
    return await setup.add_credential(provider="cohere", name="cohere", models=models, extra={"value": key})


async def _ready(
    setup: GatewaySetup, cohere_upstream: RunningUpstream, *models: str, key: str = fake.API_KEY
) -> str:
    await _use_cohere(setup, cohere_upstream, models=list(models), key=key)
    for model in models:
        await setup.set_price(model, 1.0, 2.0)
    secret, _ = await setup.make_key()
    return secret


def _client(served: ServedApp, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0)


async def test_chat_goes_out_in_cohere_shape_and_comes_back_as_a_completion(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-a-03-2025")
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="command-a-03-2025",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            temperature=0.3,
            top_p=0.9,
            stop="END",
            max_tokens=50,
            seed=7,
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "command-a-03-2025"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        fake.BILLED_INPUT,
        fake.BILLED_OUTPUT,
    )
    (sent,) = cohere_upstream.requests
    assert sent.path == "/v2/chat" and sent.headers["authorization"] == f"Bearer {fake.API_KEY}"
    assert sent.body == {
        "model": "command-a-03-2025",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "temperature": 0.3,
        "p": 0.9,
        "seed": 7,
        "stop_sequences": ["END"],
    }
    (row,) = await setup.wait_for_usage(1)
    assert (row.prompt_tokens, row.completion_tokens, row.cost_nanousd) == (
        fake.BILLED_INPUT,
        fake.BILLED_OUTPUT,
        CHAT_COST,
    )
    assert row.provider == "cohere" and row.status_code == 200


async def test_a_tool_call_round_trip(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-tools")
    question = {"role": "user", "content": "Weather in Paris?"}
    async with _client(served, key) as client:
        first = await client.chat.completions.create(
            model="command-tools", messages=[question], tools=[WEATHER], tool_choice="required"
        )
        choice = first.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls is not None
        (call,) = choice.message.tool_calls
        assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {
            "city": "Paris"
        }
        second = await client.chat.completions.create(
            model="command-tools",
            tools=[WEATHER],
            messages=[
                question,
                {"role": "assistant", "tool_calls": [call.model_dump()]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
            ],
        )
    assert second.choices[0].message.content == fake.AFTER_TOOL
    first_sent, second_sent = (r.body for r in cohere_upstream.requests)
    assert first_sent["tool_choice"] == "REQUIRED"
    assert first_sent["tools"] == [{"type": "function", "function": WEATHER["function"]}]
    assert second_sent["messages"][1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": fake.TOOL_ARGUMENTS},
            }
        ],
    }
    assert second_sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


async def test_a_stream_of_text_ends_with_the_usage_chunk(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-a-03-2025")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="command-a-03-2025",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(fake.TEXT)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (
        fake.BILLED_INPUT,
        fake.BILLED_OUTPUT,
    )
    (row,) = await setup.wait_for_usage(1)
    assert row.streamed and row.cost_nanousd == CHAT_COST and row.status_code == 200


async def test_a_streamed_tool_call_is_assembled_by_the_client(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-tools")
    async with _client(served, key) as client:
        stream = await client.chat.completions.create(
            model="command-tools",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    calls = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "call_fake01" and calls[0].function is not None
    assert calls[0].function.name == "get_weather"
    arguments = "".join((t.function.arguments or "") for t in calls if t.function is not None)
    assert json.loads(arguments) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"  # no usage chunk: the client did not ask
    (row,) = await setup.wait_for_usage(1)
    assert row.cost_nanousd == CHAT_COST


async def test_embeddings_through_v2_embed(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "embed-v4.0")
    async with _client(served, key) as client:
        answer = await client.embeddings.create(model="embed-v4.0", input=["one", "two"])
    assert [d.index for d in answer.data] == [0, 1] and answer.data[1].embedding == [0.2, 0.2, 0.3]
    assert answer.usage.prompt_tokens == 2 * fake.EMBED_BILLED
    (sent,) = cohere_upstream.requests
    assert sent.path == "/v2/embed"
    assert sent.body == {
        "model": "embed-v4.0",
        "texts": ["one", "two"],
        "input_type": "search_document",
        "embedding_types": ["float"],
    }
    (row,) = await setup.wait_for_usage(1)
    assert row.prompt_tokens == 2 * fake.EMBED_BILLED
    assert row.cost_nanousd == PRICE.cost_nanos(2 * fake.EMBED_BILLED, 0)


async def test_embedding_dimensions_are_coheres_output_dimension(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "embed-v4.0")
    async with _client(served, key) as client:
        answer = await client.embeddings.create(model="embed-v4.0", input="one", dimensions=256)
    assert len(answer.data[0].embedding) == 256
    (sent,) = cohere_upstream.requests
    assert sent.body["output_dimension"] == 256 and "dimensions" not in sent.body


async def test_several_choices_are_refused_before_reaching_cohere(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-a-03-2025")
    async with _client(served, key) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="command-a-03-2025", messages=[{"role": "user", "content": "hi"}], n=2
            )
    assert "n > 1" in caught.value.message
    assert cohere_upstream.requests == []


async def test_an_anthropic_client_on_a_cohere_credential(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-a-03-2025")
    async with anthropic.AsyncAnthropic(base_url=served.base_url, api_key=key, max_retries=0) as client:
        message = await client.messages.create(
            model="command-a-03-2025", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].type == "text" and message.content[0].text == "".join(fake.TEXT)
        assert (message.usage.input_tokens, message.usage.output_tokens) == (
            fake.BILLED_INPUT,
            fake.BILLED_OUTPUT,
        )
        async with client.messages.stream(
            model="command-a-03-2025", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    assert text == "".join(fake.TEXT)
    assert final.usage.output_tokens == fake.BILLED_OUTPUT
    rows = await setup.wait_for_usage(2)
    assert [r.cost_nanousd for r in rows] == [CHAT_COST, CHAT_COST]


@pytest.mark.parametrize(("model", "status"), [("command-fail", 502), ("command-busy", 429)])
async def test_upstream_failures_map_to_the_gateways_statuses(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream, model: str, status: int
) -> None:
    key = await _ready(setup, cohere_upstream, model)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            served.base_url + "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            headers=bearer(key),
        )
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


async def test_a_5xx_falls_back_to_the_next_credential(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    await _point_at_fake(setup, cohere_upstream)
    await setup.add_credential(
        provider="cohere",
        name="broken",
        models=["command-fail"],
        extra={"value": fake.API_KEY, "aliases": {"chat": "command-fail"}},
        weight=1000,
    )
    await setup.add_credential(
        provider="cohere",
        name="healthy",
        models=["command-a-03-2025"],
        extra={"value": fake.API_KEY, "aliases": {"chat": "command-a-03-2025"}},
        weight=0.001,
    )
    key, _ = await setup.make_key()
    async with _client(served, key) as client:
        completion = await client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert completion.choices[0].message.content == "".join(fake.TEXT)
    assert [r.body["model"] for r in cohere_upstream.requests] == ["command-fail", "command-a-03-2025"]


async def test_a_wrong_key_is_an_upstream_auth_error_and_a_cohere_message_reaches_the_caller(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream
) -> None:
    key = await _ready(setup, cohere_upstream, "command-a-03-2025", key="co-wrong")
    async with _client(served, key) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(
                model="command-a-03-2025", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.status_code == 502 and "rejected keyplane's credential" in caught.value.message
    assert cohere_upstream.requests[0].headers["authorization"] == "Bearer co-wrong"


async def test_refresh_models_lists_coheres_models_on_v1_models(
    setup: GatewaySetup, served: ServedApp, cohere_upstream: RunningUpstream, http: httpx.AsyncClient
) -> None:
    credential = await _use_cohere(setup, cohere_upstream, models=[])
    response = await setup.client.post(
        f"/api/providers/cohere/keys/{credential['id']}/refresh-models", headers=setup.admin
    )
    assert response.status_code == 200, response.text
    # The rerank model Cohere also lists is left out: no endpoint keyplane routes serves it.
    assert sorted(response.json()["discovered_models"]) == sorted(fake.MODELS)
    key, _ = await setup.make_key()
    listed = await http.get(served.base_url + "/v1/models", headers=bearer(key))
    assert [m["id"] for m in listed.json()["data"]] == sorted(fake.MODELS)
