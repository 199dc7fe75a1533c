"""Spend limits without false or puzzling 402s: finished requests hold only their real cost, a
request without max_tokens is lowered to what the limit pays for, and every 402 says why and what to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from keyplane.models import SpendCounter
from tests.factories import bearer
from tests.gateway.test_enforcement import assert_openai_error
from tests.harness import GatewaySetup, ServedApp

MESSAGES = [{"role": "user", "content": "hi"}]
NANOS_PER_OUTPUT_TOKEN = 1_000_000  # $1000 per million output tokens; prompts are free


async def _priced_key(setup: GatewaySetup, **fields: Any) -> tuple[str, str]:
    await setup.add_credential(models=["gpt-test"])
    await setup.set_price("gpt-test", 0.0, 1000.0)
    return await setup.make_key(**fields)


async def test_sequential_calls_hold_only_their_real_cost_until_the_flush(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], http: httpx.AsyncClient
) -> None:
    """Each call reserves $0.20 (max_tokens 200) and costs $0.02 (the fake answers 20 tokens): with
    no flush in between, a $0.50 limit still serves every call whose worst case fits what is left."""
    served = serve_app(usage_flush_interval_seconds=60)
    key, key_hash = await _priced_key(setup, limit=0.5)
    statuses = []
    for _ in range(20):
        response = await http.post(
            served.base_url + "/v1/chat/completions",
            json={"model": "gpt-test", "messages": MESSAGES, "max_tokens": 200},
            headers=bearer(key),
        )
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    # 0.50 - 0.02 k >= 0.20 for k = 0..15: sixteen calls, the seventeenth is refused.
    assert statuses == [200] * 16 + [402]
    error = assert_openai_error(response, 402, "limit_exceeded")
    assert "$0.180000 left" in error["message"] and "needs up to $0.200000" in error["message"]
    assert "Lower max_tokens" in error["message"]
    served.stop()  # graceful: the queued usage is flushed, unused leases are handed back
    await setup.wait_for_usage(16)
    async with setup.context.sessions() as session:
        reserved = (await session.execute(select(func.sum(SpendCounter.reserved_nanousd)))).scalar_one()
    assert reserved == 0
    data = (await setup.client.get(f"/api/v1/keys/{key_hash}", headers=setup.admin)).json()["data"]
    assert data["usage"] == pytest.approx(0.32) and data["limit_remaining"] == pytest.approx(0.18)


@pytest.mark.parametrize("stream", [False, True])
async def test_the_default_max_tokens_is_lowered_to_what_the_limit_pays_for(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient, stream: bool
) -> None:
    key, _ = await _priced_key(setup, limit=0.1)  # $0.10 buys 100 output tokens, not the default 4,096
    response = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES, "stream": stream},
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-keyplane-max-tokens-lowered"] == "100"
    assert setup.upstream.requests[-1].body["max_tokens"] == 100


async def test_a_request_that_names_max_tokens_is_never_changed(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _priced_key(setup, limit=0.1)
    response = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES, "max_tokens": 150},
        headers=bearer(key),
    )
    error = assert_openai_error(response, 402, "limit_exceeded")
    assert "$0.100000 left" in error["message"] and "needs up to $0.150000" in error["message"]
    assert setup.upstream.requests == []
    fits = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES, "max_tokens": 50},
        headers=bearer(key),
    )
    assert fits.status_code == 200 and "x-keyplane-max-tokens-lowered" not in fits.headers
    assert setup.upstream.requests[-1].body["max_tokens"] == 50


async def test_no_room_for_a_minimal_answer_is_a_402_that_says_how_much_is_left(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _priced_key(setup, limit=0.00001)  # 10 output tokens' worth: below a minimal answer
    response = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES},
        headers=bearer(key),
    )
    error = assert_openai_error(response, 402, "limit_exceeded")
    assert error["message"].startswith("Key limit (total) of $0.000010 reached: $0.000010 left")
    assert "raise the key's limit" in error["message"] and "it does not reset" in error["message"]
    assert setup.upstream.requests == []


async def test_a_budget_402_names_the_budget_and_the_fix(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    key, _ = await _priced_key(setup)
    await setup.add_budget(
        scope="workspace", limit_usd=0.05, reset="monthly", workspace_id=setup.org.workspace_id
    )
    response = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES, "max_tokens": 100},
        headers=bearer(key),
    )
    error = assert_openai_error(response, 402, "limit_exceeded")
    message = error["message"]
    assert message.startswith(
        "Workspace budget 'workspace budget' (monthly) of $0.050000 reached: $0.050000 left"
    )
    assert "needs up to $0.100000" in message and "raise the budget" in message and "resets at" in message


async def test_a_balance_402_names_the_balance_and_how_to_add_credits(
    setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient
) -> None:
    await _priced_key(setup)
    tenant = await setup.tenant()
    await tenant.add_credit(0.03)
    key, _ = await tenant.make_key()
    response = await http.post(
        served.base_url + "/v1/chat/completions",
        json={"model": "gpt-test", "messages": MESSAGES, "max_tokens": 100},
        headers=bearer(key),
    )
    error = assert_openai_error(response, 402, "insufficient_balance")
    assert error["message"].startswith(
        "Insufficient balance: $0.030000 left, and this request needs up to $0.100000"
    )
    assert "keyplane credits add" in error["message"]
