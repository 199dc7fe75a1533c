"""Anthropic credentials against the loopback fake (tests/fakes/anthropic.py), and exact costs."""

from __future__ import annotations

from typing import Any

from keyplane.billing.pricing import Price
from tests.fakes import anthropic as fake
from tests.fakes.upstream import RunningUpstream
from tests.harness import GatewaySetup

# USD per million tokens: input, output, cache read, cache write (all different, so a mix-up shows).
PRICES = (3.0, 15.0, 0.3, 3.75)
PRICE = Price(3_000_000_000, 15_000_000_000, 300_000_000, 3_750_000_000)


async def use_anthropic(
    setup: GatewaySetup,
    upstream: RunningUpstream,
    *,
    models: list[str],
    key: str = fake.API_KEY,
    **fields: Any,
) -> dict[str, Any]:
    """Point the `anthropic` provider at the fake (a provider setting) and add a platform credential."""
    await setup.point_provider_at("anthropic", upstream.port)
    return await setup.add_credential(
        provider="anthropic", name="claude", models=models, extra={"value": key, **fields}
    )


async def set_prices(setup: GatewaySetup, *models: str) -> None:
    input_usd, output_usd, cached_usd, write_usd = PRICES
    for model in models:
        response = await setup.client.put(
            f"/api/v1/model-prices/{model}",
            json={"input": input_usd, "output": output_usd, "cached": cached_usd, "cache_write": write_usd},
            headers=setup.admin,
        )
        assert response.status_code == 200, response.text


def anthropic_cost(input_tokens: int, output_tokens: int, write: int = 0, read: int = 0) -> int:
    """What Anthropic's usage costs under PRICES, as the gateway must charge it."""
    return PRICE.cost_nanos(input_tokens + write + read, output_tokens, read, write)
