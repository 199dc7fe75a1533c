"""A price change reaches this process's gateway right after its commit, and only if it commits."""

from __future__ import annotations

from keyplane.billing.pricing import Price, set_price
from keyplane.gateway.service import Gateway
from keyplane.kernel.money import usd_to_nanos
from keyplane.kernel.principal import SYSTEM
from tests.harness import GatewaySetup

HOUR = 3600.0


async def _gateway_with_loaded_prices(setup: GatewaySetup) -> Gateway:
    gateway = setup.context.services["gateway"]
    assert isinstance(gateway, Gateway)
    gateway.prices.ttl = HOUR  # without the after-commit drop the stale table would stay an hour
    await gateway.prices.table()
    assert gateway.prices.fresh_table() is not None
    return gateway


async def test_a_price_put_is_priced_at_once_by_this_gateway(setup: GatewaySetup) -> None:
    gateway = await _gateway_with_loaded_prices(setup)
    response = await setup.client.put(
        "/api/v1/model-prices/org/model-x", json={"input": 1.5, "output": 3}, headers=setup.admin
    )
    assert response.status_code == 200, response.text
    assert await gateway.prices.price_for("org/model-x") == Price(usd_to_nanos(1.5), usd_to_nanos(3.0))


async def test_a_price_delete_is_seen_at_once_by_this_gateway(setup: GatewaySetup) -> None:
    await setup.client.put("/api/v1/model-prices/gpt-4o", json={"input": 9, "output": 9}, headers=setup.admin)
    gateway = await _gateway_with_loaded_prices(setup)
    assert (await gateway.prices.price_for("gpt-4o")).input_nanos_per_mtok == usd_to_nanos(9.0)
    response = await setup.client.delete("/api/v1/model-prices/gpt-4o", headers=setup.admin)
    assert response.status_code == 200, response.text
    assert (await gateway.prices.price_for("gpt-4o")).input_nanos_per_mtok == usd_to_nanos(2.5)


async def test_the_cache_keeps_its_table_until_the_change_commits(setup: GatewaySetup) -> None:
    gateway = await _gateway_with_loaded_prices(setup)
    async with setup.context.sessions() as session:
        await set_price(session=session, principal=SYSTEM, model="org/model-y", input_usd=1, output_usd=1)
        await session.flush()
        assert gateway.prices.fresh_table() is not None
        await session.commit()
    assert gateway.prices.fresh_table() is None


async def test_a_rolled_back_price_change_leaves_the_cache_alone(setup: GatewaySetup) -> None:
    gateway = await _gateway_with_loaded_prices(setup)
    async with setup.context.sessions() as session:
        await set_price(session=session, principal=SYSTEM, model="org/model-z", input_usd=1, output_usd=1)
        await session.rollback()
        await session.commit()  # a later commit of the same session carries no stale mark
    assert gateway.prices.fresh_table() is not None
