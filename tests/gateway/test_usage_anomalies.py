"""Absurd usage from a provider (tests/fault_upstream.py `usage`) neither stops the usage writer nor
drains a balance: it is clamped and flagged, and a charge beyond the reservation is flagged."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from keyplane.billing.pricing import Price
from keyplane.gateway.settlement import MAX_USAGE_TOKENS
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS
from tests.fault_upstream import FaultUpstream
from tests.gateway.test_upstream_faults import chat_body, post
from tests.harness import GatewaySetup, ServedApp

PRICE = Price(2_000_000_000, 8_000_000_000)


def anomalies(reason: str) -> float:
    return REGISTRY.get_sample_value("keyplane_gateway_usage_anomalies_total", {"reason": reason}) or 0.0


HUGE_TOKENS = {"prompt_tokens": 2**31, "completion_tokens": 2**63}
ABSURD_USAGE = [
    pytest.param(HUGE_TOKENS, False, id="huge-tokens"),
    pytest.param(HUGE_TOKENS, True, id="huge-tokens-stream"),
    pytest.param({"prompt_tokens": -5, "completion_tokens": -(2**63)}, False, id="negative-tokens"),
    pytest.param({"prompt_tokens": 10, "completion_tokens": 20, "cost": 999999}, True, id="huge-cost-stream"),
]


@pytest.mark.parametrize(("usage", "stream"), ABSURD_USAGE)
async def test_absurd_usage_is_clamped_flagged_and_never_blocks_later_records(
    setup: GatewaySetup,
    served: ServedApp,
    fault_upstream: FaultUpstream,
    usage: dict[str, int],
    stream: bool,
) -> None:
    await setup.add_credential(models=["usage"], url=fault_upstream.url)
    await setup.set_price("usage", 2.0, 8.0)
    await setup.add_credit(500.0)
    key, _ = await setup.make_key()
    before, flagged = await setup.balance(), anomalies("clamped")
    absurd = await post(served, key, chat_body("usage", "absurd", stream=stream, fault_usage=usage))
    assert absurd.status_code == 200, absurd.text
    normal = await post(served, key, chat_body("usage", "normal"))
    assert normal.status_code == 200, normal.text
    first, second = await setup.wait_for_usage(2)  # the absurd record did not stop the writer
    expected = [
        min(max(usage.get(name, 0), 0), MAX_USAGE_TOKENS) for name in ("prompt_tokens", "completion_tokens")
    ]
    assert [first.prompt_tokens, first.completion_tokens] == expected
    assert first.cost_nanousd == PRICE.cost_nanos(*expected)  # a cost out of bounds is not believed
    assert second.cost_nanousd == PRICE.cost_nanos(PROMPT_TOKENS, COMPLETION_TOKENS)
    assert await setup.balance() == before - first.cost_nanousd - second.cost_nanousd
    assert anomalies("clamped") == flagged + 1


async def test_a_charge_beyond_the_reservation_is_charged_and_flagged_as_an_anomaly(
    setup: GatewaySetup, serve_app: Callable[..., ServedApp], fault_upstream: FaultUpstream
) -> None:
    served = serve_app(enforce_operator_balance=True)  # the balance holds this request's reservation
    await setup.add_credential(models=["usage"], url=fault_upstream.url)
    await setup.set_price("usage", 2.0, 8.0)
    await setup.add_credit(10.0)
    key, _ = await setup.make_key()
    before, flagged = await setup.balance(), anomalies("over_reservation")
    reported = {"prompt_tokens": 200_000, "completion_tokens": 100_000}  # far more than max_tokens=1
    response = await post(served, key, chat_body("usage", max_tokens=1, fault_usage=reported))
    assert response.status_code == 200, response.text
    (row,) = await setup.wait_for_usage(1)
    assert row.cost_nanousd == PRICE.cost_nanos(200_000, 100_000)
    assert await setup.balance() == before - row.cost_nanousd
    assert anomalies("over_reservation") == flagged + 1
