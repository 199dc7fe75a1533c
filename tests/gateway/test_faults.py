"""Upstream faults: down, slow, 500, garbage, a cut stream; fallback answers; nothing charged twice."""

from __future__ import annotations

import httpx
import openai
import pytest

from keyplane.billing.pricing import Price
from tests.factories import bearer
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS, free_port
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

COST = Price(2_000_000_000, 8_000_000_000).cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS)
MESSAGES = [{"role": "user", "content": "hi"}]


async def _broken_then_healthy(setup: GatewaySetup, broken_model: str | None, *, down: bool = False) -> str:
    """A preferred credential that fails (by alias to a failing fake model, or a closed port),
    then a standby (weight 0) that answers."""
    await setup.add_credential(
        name="broken",
        models=["gpt-test"],
        weight=1000,
        aliases={"gpt-test": broken_model} if broken_model else {},
        url=f"http://127.0.0.1:{free_port()}" if down else None,
    )
    await setup.add_credential(name="healthy", models=["gpt-test"], weight=0)
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    return key


@pytest.mark.parametrize(("broken_model", "down"), [("fail-500", False), ("garbage", False), (None, True)])
async def test_a_failing_credential_falls_back_to_the_next_and_charges_once(
    setup: GatewaySetup, served: ServedApp, broken_model: str | None, down: bool
) -> None:
    key = await _broken_then_healthy(setup, broken_model, down=down)
    before = await setup.balance()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        completion = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.choices[0].message.content
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 200 and row.cost_nanousd == COST
    assert row.credential_id is not None
    assert await setup.balance() == before - COST


async def test_fallback_disabled_by_the_project_gives_a_clear_502(
    setup: GatewaySetup, served: ServedApp
) -> None:
    key = await _broken_then_healthy(setup, "fail-500")
    await setup.set_project_config(enable_model_fallback=False)
    before = await setup.balance()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError, match="HTTP 500") as caught:
            await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value.status_code == 502
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and row.cost_nanousd == 0
    assert await setup.balance() == before


@pytest.mark.parametrize("model", ["fail-500", "garbage"])
async def test_only_broken_upstreams_give_a_502_in_openai_shape(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient, model: str
) -> None:
    await setup.add_credential(models=[model])
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    body = {"model": model, "messages": MESSAGES}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    assert_openai_error(response, 502, "upstream_error")
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and row.cost_nanousd == 0


async def test_upstream_down_gives_a_502(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await setup.add_credential(models=["gpt-test"], url=f"http://127.0.0.1:{free_port()}")
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    response = await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))
    error = assert_openai_error(response, 502, "upstream_error")
    assert "Could not reach the provider" in error["message"]


async def test_a_slow_upstream_times_out_with_a_502(setup: GatewaySetup, serve_app: object) -> None:
    served = serve_app(upstream_timeout_seconds=0.3)  # type: ignore[operator]
    await setup.add_credential(models=["slow"])
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError, match="TimeoutError") as caught:
            await client.chat.completions.create(model="slow", messages=MESSAGES)
    assert caught.value.status_code == 502
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and row.cost_nanousd == 0


async def test_a_stream_cut_midway_ends_with_an_error_event_and_one_usage_record(
    setup: GatewaySetup, served: ServedApp
) -> None:
    await setup.add_credential(models=["cut-stream"])
    await setup.set_price("cut-stream", 2.0, 8.0)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    received: list[str] = []
    async with openai.AsyncOpenAI(base_url=served.base_url + "/v1", api_key=key, max_retries=0) as client:
        stream = await client.chat.completions.create(model="cut-stream", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError, match=r"broke off|ended before"):
            async for chunk in stream:
                received.extend(c.delta.content or "" for c in chunk.choices)
    assert received == ["Hello", " from"]
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and row.streamed
    assert row.completion_tokens == 2  # what was delivered, since the provider never reported usage
    assert row.cost_nanousd == Price(2_000_000_000, 8_000_000_000).cost_nanos(row.prompt_tokens, 2)


async def test_a_client_leaving_mid_stream_still_yields_exactly_one_usage_record(
    setup: GatewaySetup, served: ServedApp
) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    async with (
        httpx.AsyncClient(timeout=30) as http,
        http.stream(
            "POST", served.base_url + "/v1/chat/completions", json=body, headers=bearer(key)
        ) as response,
    ):
        assert response.status_code == 200
        async for _chunk in response.aiter_bytes():
            break  # hang up after the first bytes
    (row,) = await setup.wait_for_usage(1)
    assert row.streamed and row.status_code in (200, 499)
