"""Chat completions, streams, embeddings and models through keyplane with the official openai client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import openai
import pytest

from keyplane.billing.pricing import Price
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS, STREAM_WORDS
from tests.harness import GatewaySetup, ServedApp

PRICE = Price(input_nanos_per_mtok=2_000_000_000, output_nanos_per_mtok=8_000_000_000)  # $2 / $8 per M
COST = PRICE.cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS)


async def _ready(setup: GatewaySetup, credit_usd: float = 10.0) -> str:
    await setup.add_credential(models=["gpt-test", "embed-test"])
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(credit_usd)
    plaintext, _hash = await setup.make_key()
    return plaintext


async def test_sync_client_chat_is_answered_and_metered(setup: GatewaySetup, served: ServedApp) -> None:
    key = await _ready(setup)
    before = await setup.balance()

    def call() -> openai.types.chat.ChatCompletion:
        with openai.OpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
            return client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "hi"}]
            )

    completion = await asyncio.to_thread(call)
    assert completion.choices[0].message.content == "".join(STREAM_WORDS)
    assert completion.usage is not None and completion.usage.prompt_tokens == PROMPT_TOKENS

    (row,) = await setup.wait_for_usage(1)
    assert (row.model, row.provider, row.is_byok, row.status_code) == ("gpt-test", "vllm", False, 200)
    assert (row.prompt_tokens, row.completion_tokens, row.cost_nanousd) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
        COST,
    )
    assert await setup.balance() == before - COST
    sent = setup.upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-upstream-secret"
    assert sent.body["model"] == "gpt-test"


async def test_async_client_stream_relays_chunks_and_hides_the_usage_chunk_it_added(
    setup: GatewaySetup, served: ServedApp
) -> None:
    key = await _ready(setup)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(STREAM_WORDS)
    assert all(chunk.usage is None for chunk in chunks)
    assert setup.upstream.requests[-1].body["stream_options"] == {"include_usage": True}

    (row,) = await setup.wait_for_usage(1)
    assert row.streamed and row.status_code == 200
    assert (row.prompt_tokens, row.completion_tokens, row.cost_nanousd) == (
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
        COST,
    )


async def test_stream_keeps_the_usage_chunk_when_the_client_asked(
    setup: GatewaySetup, served: ServedApp
) -> None:
    key = await _ready(setup)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/api/v1", api_key=key, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].completion_tokens == COMPLETION_TOKENS


async def test_embeddings_are_answered_and_metered(setup: GatewaySetup, served: ServedApp) -> None:
    key = await _ready(setup)
    await setup.set_price("embed-test", 1.0, 0.0)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        result = await client.embeddings.create(model="embed-test", input=["a", "b"])
    assert len(result.data) == 2
    (row,) = await setup.wait_for_usage(1)
    assert row.prompt_tokens == PROMPT_TOKENS and row.cost_nanousd == PROMPT_TOKENS * 1000


async def test_models_lists_what_the_key_may_call(setup: GatewaySetup, served: ServedApp) -> None:
    await setup.add_credential(models=["gpt-test", "embed-test"], aliases={"nice-name": "gpt-test"})
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        models = [m.id async for m in client.models.list()]
    assert models == ["embed-test", "gpt-test", "nice-name"]


async def test_alias_sends_the_providers_model_id(setup: GatewaySetup, served: ServedApp) -> None:
    await setup.add_credential(models=["gpt-test"], aliases={"nice-name": "gpt-test"})
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(model="nice-name", messages=[{"role": "user", "content": "x"}])
    assert setup.upstream.requests[-1].body["model"] == "gpt-test"


async def test_byok_usage_is_counted_without_touching_the_balance(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp]
) -> None:
    served = serve_app(allowed_upstream_hosts="127.0.0.1")
    await setup.set_price("gpt-test", 2.0, 8.0)
    setup = await setup.tenant()
    await setup.add_credential(models=["gpt-test"], platform=False, name="own")
    key, key_hash = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        await client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "x"}])
    (row,) = await setup.wait_for_usage(1)
    assert row.is_byok and row.cost_nanousd == COST
    assert await setup.balance() == 0
    response = await setup.client.get(f"/api/v1/keys/{key_hash}", headers=setup.admin)
    data = response.json()["data"]
    assert data["byok_usage"] == pytest.approx(COST / 1e9)
    assert data["usage"] == 0


async def test_keys_api_usage_shows_gateway_spend(setup: GatewaySetup, served: ServedApp) -> None:
    key = await _ready(setup)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        for _ in range(3):
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "x"}]
            )
    await setup.wait_for_usage(3)
    from keyplane.auth.tokens import hash_key

    response = await setup.client.get(f"/api/v1/keys/{hash_key(key)}", headers=setup.admin)
    data = response.json()["data"]
    assert data["usage"] == pytest.approx(3 * COST / 1e9)
    assert data["usage_daily"] == pytest.approx(3 * COST / 1e9)


async def test_graceful_shutdown_writes_every_queued_usage_record(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp]
) -> None:
    served = serve_app(usage_flush_interval_seconds=3600.0, usage_flush_batch_size=1000)
    key = await _ready(setup)
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        for _ in range(5):
            await client.chat.completions.create(
                model="gpt-test", messages=[{"role": "user", "content": "x"}]
            )
    assert await setup.usage_rows() == []  # nothing written yet: the flusher waits for its interval
    await asyncio.to_thread(served.stop)
    rows = await setup.usage_rows()
    assert len(rows) == 5 and sum(r.cost_nanousd for r in rows) == 5 * COST
