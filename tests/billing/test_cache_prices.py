"""Cache reads and writes have their own price; writes default to the input price."""

from __future__ import annotations

import httpx
import pytest

from keyplane.billing.pricing import Price
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer

# $3 input, $15 output, $0.30 cache read, $3.75 cache write per million tokens
CLAUDE = Price(3_000_000_000, 15_000_000_000, 300_000_000, 3_750_000_000)


def test_each_kind_of_prompt_token_costs_its_own_rate() -> None:
    # 100 uncached, 600 read, 300 written, 50 out: 300000 + 180000 + 1125000 + 750000 nano-USD
    assert CLAUDE.cost_nanos(1000, 50, 600, 300) == 2_355_000
    assert Price(3_000_000_000, 0).cost_nanos(1000, 0, 0, 300) == 3_000_000  # unset write = input price
    assert Price(3_000_000_000, 0, 0, 0).cost_nanos(1000, 0, 0, 1000) == 0  # an explicit 0 is free
    assert CLAUDE.cost_nanos(10, 0, 8, 8) == CLAUDE.cost_nanos(10, 0, 8, 2)  # never more than the prompt


def test_the_worst_case_assumes_every_prompt_token_is_written_when_that_is_dearer() -> None:
    assert CLAUDE.worst_cost_nanos(1000, 0) == 3_750_000
    assert Price(3_000_000_000, 0, 0, 1_000_000_000).worst_cost_nanos(1000, 0) == 3_000_000


async def test_put_accepts_cache_write_and_lists_it(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    body = {"input": 3, "output": 15, "cached": 0.3, "cache_write": 3.75}
    response = await client.put("/api/v1/model-prices/claude-x", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["cache_write"] == 3.75
    again = await client.put(
        "/api/v1/model-prices/claude-x", json={"input": 3, "output": 15}, headers=headers
    )
    assert again.json()["data"]["cache_write"] == 3.0  # replaced: writes follow the input price again
    listed = (await client.get("/api/v1/model-prices", headers=headers)).json()["data"]
    assert next(p for p in listed if p["model"] == "claude-sonnet-4-5")["cache_write"] == 3.75


@pytest.mark.parametrize("value", [-1, "3", True])
async def test_a_bad_cache_write_price_is_a_400(
    client: httpx.AsyncClient, org: BootstrapResult, value: object
) -> None:
    body = {"input": 3, "output": 15, "cache_write": value}
    response = await client.put(
        "/api/v1/model-prices/claude-x", json=body, headers=bearer(org.management_key)
    )
    assert response.status_code == 400
