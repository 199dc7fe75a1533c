"""The gateway against a misbehaving upstream (tests/fault_upstream.py): broken 5xx and redirects
fall back, a dripping answer meets the deadline, no answer reaches another request."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from keyplane.billing.pricing import Price
from tests.factories import bearer
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS
from tests.fault_upstream import FaultUpstream
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

PRICE = Price(2_000_000_000, 8_000_000_000)
# Small, so a stalled answer on today's code fails fast; loopback answers take milliseconds.
TIMEOUT_SECONDS = 5.0
DEADLINE_SECONDS = 1.0
# One byte every 50 ms: a status line and headers of ~60 bytes take 3 s, well past the deadline.
DRIP_INTERVAL = 0.05
CLIENT_TIMEOUT = 15.0  # an upper bound for a hang, never a speed expectation


def chat_body(model: str, content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def post(served: ServedApp, key: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        return await http.post(served.base_url + "/v1/chat/completions", json=body, headers=bearer(key))


def streamed_content(response: httpx.Response) -> str:
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: {")]
    return "".join(
        choice["delta"].get("content") or ""
        for choice in (c for e in events for c in orjson.loads(e)["choices"])
    )


async def _broken_then_healthy(setup: GatewaySetup, fault: FaultUpstream, broken: str) -> str:
    """A preferred credential aliased to a fault of the fault upstream, then a healthy standby."""
    await setup.add_credential(
        name="broken", models=["gpt-test"], weight=1000, aliases={"gpt-test": broken}, url=fault.url
    )
    await setup.add_credential(name="healthy", models=["gpt-test"], weight=0)
    await setup.set_price("gpt-test", 2.0, 8.0)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    return key


@pytest.mark.parametrize(
    ("broken", "stream"),
    [
        ("truncated-500", False),
        ("stalled-500", True),
        ("redirect-302", False),
        ("redirect-307", True),
        ("truncated-200", False),
    ],
)
async def test_a_broken_5xx_or_a_redirect_falls_back_to_the_next_credential(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    fault_upstream: FaultUpstream,
    broken: str,
    stream: bool,
) -> None:
    served = serve_app(upstream_timeout_seconds=TIMEOUT_SECONDS)
    key = await _broken_then_healthy(setup, fault_upstream, broken)
    before = await setup.balance()
    response = await post(served, key, chat_body("gpt-test", stream=stream))
    assert response.status_code == 200, response.text
    assert [model for model, _ in fault_upstream.requests] == [broken]
    (row,) = await setup.wait_for_usage(1)
    cost = PRICE.cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert row.status_code == 200 and row.cost_nanousd == cost
    assert await setup.balance() == before - cost


@pytest.mark.parametrize(
    ("broken", "stream"),
    [("truncated-500", True), ("stalled-500", False), ("redirect-302", False), ("redirect-301", True)],
)
async def test_a_lone_broken_5xx_or_redirect_is_a_502_in_openai_shape(
    setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    fault_upstream: FaultUpstream,
    broken: str,
    stream: bool,
) -> None:
    served = serve_app(upstream_timeout_seconds=TIMEOUT_SECONDS)
    await setup.add_credential(models=[broken], url=fault_upstream.url)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    response = await post(served, key, chat_body(broken, stream=stream))
    assert_openai_error(response, 502, "upstream_error")
    assert "location" not in response.headers
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 502 and row.cost_nanousd == 0


@pytest.mark.parametrize("stream", [False, True])
async def test_a_dripping_upstream_ends_at_the_deadline_with_a_504(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], fault_upstream: FaultUpstream, stream: bool
) -> None:
    served = serve_app(upstream_timeout_seconds=TIMEOUT_SECONDS, upstream_deadline_seconds=DEADLINE_SECONDS)
    fault_upstream.drip_interval = DRIP_INTERVAL  # its head alone outlasts the deadline
    await setup.add_credential(models=["drip"], url=fault_upstream.url)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    response = await post(served, key, chat_body("drip", stream=stream))
    error = assert_openai_error(response, 504, "upstream_error")
    assert "KEYPLANE_UPSTREAM_DEADLINE_SECONDS" in error["message"]
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 504 and row.cost_nanousd == 0


async def test_a_dripping_upstream_falls_back_to_the_next_credential(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], fault_upstream: FaultUpstream
) -> None:
    served = serve_app(upstream_timeout_seconds=TIMEOUT_SECONDS, upstream_deadline_seconds=DEADLINE_SECONDS)
    fault_upstream.drip_interval = DRIP_INTERVAL
    key = await _broken_then_healthy(setup, fault_upstream, "drip")
    response = await post(served, key, chat_body("gpt-test"))
    assert response.status_code == 200, response.text
    (row,) = await setup.wait_for_usage(1)
    assert row.status_code == 200


async def test_hundreds_of_concurrent_requests_through_a_misbehaving_upstream_each_get_their_own_answer(
    setup: GatewaySetup, served: ServedApp, fault_upstream: FaultUpstream
) -> None:
    await setup.add_credential(models=["ok", "unsolicited", "continue"], url=fault_upstream.url)
    await setup.add_credit(10.0)
    key, _ = await setup.make_key()
    rng = random.Random(3)
    plan = [(rng.choice(["ok", "unsolicited", "continue"]), rng.random() < 0.5) for _ in range(200)]
    limits = httpx.Limits(max_connections=60)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT, limits=limits) as http:

        async def one(index: int, model: str, stream: bool) -> str:
            body = chat_body(model, f"request-{index}", stream=stream)
            response = await http.post(
                served.base_url + "/v1/chat/completions", json=body, headers=bearer(key)
            )
            assert response.status_code == 200, response.text
            if stream:
                return streamed_content(response)
            return str(response.json()["choices"][0]["message"]["content"])

        answers = await asyncio.gather(*(one(i, model, stream) for i, (model, stream) in enumerate(plan)))
    assert answers == [f"request-{i}" for i in range(len(plan))]
    rows = await setup.wait_for_usage(len(plan))
    assert {row.status_code for row in rows} == {200}
