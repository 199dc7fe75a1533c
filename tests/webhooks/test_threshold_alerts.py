"""Gateway traffic pushes a key limit, a budget and the org balance past 80/95/100 %: one signed
delivery per threshold per window, even with two instances flushing concurrently on one database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kernel.windows import window_start
from keyplane.models import Budget
from keyplane.webhooks.alerts import ThresholdAlerts
from tests.factories import bearer
from tests.harness import GatewaySetup, ServedApp
from tests.webhooks.helpers import dispatch, outbox, subscribe
from tests.webhooks.receiver import Receiver

CALL_COST = 0.05  # 20 completion tokens at $2,500 per million; prompts are free
CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
MAX_ROUNDS = 100  # a bound for a hang, never a speed expectation


async def _priced(setup: GatewaySetup) -> None:
    await setup.add_credential(models=["gpt-test"])
    await setup.set_price("gpt-test", 0.0, 2500.0)


async def _spend(http: httpx.AsyncClient, instances: list[ServedApp], key: str, calls: int) -> list[int]:
    """Serve `calls` requests, one per instance at a time and concurrently, so flushes overlap."""
    accepted, statuses = 0, []
    for _ in range(MAX_ROUNDS):
        wanted = min(len(instances), calls - accepted)
        responses = await asyncio.gather(
            *(
                http.post(served.base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
                for served in instances[:wanted]
            )
        )
        for response in responses:
            statuses.append(response.status_code)
            assert response.status_code in (200, 402), response.text
        accepted += sum(r.status_code == 200 for r in responses)
        if accepted >= calls:
            return statuses
    raise AssertionError(f"only {accepted} of {calls} calls were served: {statuses}")


def _thresholds(rows: list[Any], subject: str) -> list[int]:
    return sorted(row.threshold for row in rows if row.payload["data"]["subject"] == subject)


async def test_a_key_limit_alerts_once_per_threshold_across_two_instances(
    gateway_setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    setup = gateway_setup
    await _priced(setup)
    created = await subscribe(setup.client, setup.admin, receiver.url)
    key, key_hash = await setup.make_key(limit=1.0, limit_reset="daily")
    instances = [serve_app(), serve_app()]

    await _spend(http, instances, key, 20)  # $1.00: 80 % after 16 calls, 95 % after 19, 100 % after 20
    refused = await http.post(instances[0].base_url + "/v1/chat/completions", json=CHAT, headers=bearer(key))
    assert refused.status_code == 402
    for served in instances:
        served.stop()  # graceful: every queued request is flushed
    await setup.wait_for_usage(20)

    rows = await outbox(setup.context)
    assert _thresholds(rows, "key") == [80, 95, 100]
    assert {row.endpoint_id for row in rows} == {created["data"]["id"]}
    assert await dispatch(setup.context) == 3
    payloads = [message.verified(created["secret"]) for message in receiver.received]
    assert sorted(p["data"]["threshold"] for p in payloads) == [80, 95, 100]
    today = window_start("daily", datetime.now(UTC))
    assert today is not None
    for payload in payloads:
        assert payload["type"] == "budget.threshold"
        assert set(payload) == {"id", "type", "created_at", "data"}
        assert payload["data"]["subject"] == "key" and payload["data"]["subject_id"] == key_hash
        assert payload["data"]["org_id"] == setup.org.org_id
        assert payload["data"]["limit"] == pytest.approx(1.0)
        assert payload["data"]["usage"] >= payload["data"]["threshold"] / 100 * 1.0 - 1e-9
        assert payload["data"]["window_start"] == today.isoformat().replace("+00:00", "Z")
    by_threshold = {p["data"]["threshold"]: p for p in payloads}
    assert by_threshold[100]["data"]["usage"] == pytest.approx(1.0)
    for message in receiver.received:
        assert message.headers["webhook-id"] == message.payload["id"]
    assert await dispatch(setup.context) == 0  # delivered once, never again


async def test_a_budget_alerts_with_its_own_id(
    gateway_setup: GatewaySetup, served: ServedApp, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    setup = gateway_setup
    await _priced(setup)
    created = await subscribe(setup.client, setup.admin, receiver.url)
    workspace_id = setup.org.workspace_id
    await setup.add_budget(scope="workspace", limit_usd=0.5, reset="monthly", workspace_id=workspace_id)
    async with setup.context.sessions() as session:
        budget_id = (await session.execute(select(Budget.id))).scalar_one()
    key, _ = await setup.make_key()

    await _spend(http, [served], key, 10)  # $0.50: 80 % after 8 calls, 95 % and 100 % at the 10th
    served.stop()
    await setup.wait_for_usage(10)

    rows = await outbox(setup.context)
    assert _thresholds(rows, "budget") == [80, 95, 100]
    assert await dispatch(setup.context) == 3
    payloads = [message.verified(created["secret"]) for message in receiver.received]
    assert {p["data"]["subject_id"] for p in payloads} == {budget_id}
    assert [p["data"]["limit"] for p in payloads] == [0.5] * 3


async def test_the_org_balance_alerts_against_its_credits_since_the_latest_top_up(
    gateway_setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    setup = gateway_setup
    await _priced(setup)
    created = await subscribe(setup.client, setup.admin, receiver.url)
    await setup.add_credit(1.0)
    key, _ = await setup.make_key()
    served = serve_app(enforce_operator_balance=True)

    await _spend(http, [served], key, 20)  # the whole $1.00 of credit
    served.stop()
    await setup.wait_for_usage(20)

    assert _thresholds(await outbox(setup.context), "balance") == [80, 95, 100]
    assert await dispatch(setup.context) == 3
    payloads = [message.verified(created["secret"]) for message in receiver.received]
    assert {p["data"]["subject_id"] for p in payloads} == {setup.org.org_id}
    assert [p["data"]["limit"] for p in payloads] == [1.0] * 3

    # A top-up opens a new window: the thresholds fire again as the new credit is used.
    await setup.add_credit(1.0)
    served = serve_app(enforce_operator_balance=True)
    await _spend(http, [served], key, 16)  # $1.80 of $2.00 used: 90 %, so 80 % fires again
    served.stop()
    await setup.wait_for_usage(36)
    rows = await outbox(setup.context)
    assert _thresholds(rows, "balance") == [80, 80, 95, 100]
    assert len({row.window_start for row in rows}) == 2


@pytest.mark.parametrize("failure", ["exception", "sql_error"])
async def test_a_failing_alert_step_never_loses_the_batchs_usage(
    gateway_setup: GatewaySetup,
    serve_app: Callable[..., ServedApp],
    http: httpx.AsyncClient,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """Inside the flush's transaction, behind a savepoint: even a failed SQL statement (which would
    abort a PostgreSQL transaction) leaves the usage, the ledger and the counters written."""
    setup = gateway_setup
    await _priced(setup)
    await subscribe(setup.client, setup.admin, receiver.url)
    key, key_hash = await setup.make_key(limit=1.0)

    calls: list[int] = []

    async def broken(self: ThresholdAlerts, session: AsyncSession, *args: Any) -> int:
        calls.append(1)
        if failure == "sql_error":
            await session.execute(text("SELECT no_such_column FROM webhook_deliveries"))
        raise RuntimeError("the alert step broke")

    monkeypatch.setattr(ThresholdAlerts, "after_flush", broken)
    served = serve_app()
    await _spend(http, [served], key, 20)
    served.stop()
    records = await setup.wait_for_usage(20)
    assert sum(r.cost_nanousd for r in records) == 10**9
    data = (await setup.client.get(f"/api/v1/keys/{key_hash}", headers=setup.admin)).json()["data"]
    assert data["usage"] == pytest.approx(1.0) and data["limit_remaining"] == pytest.approx(0.0)
    assert calls and await outbox(setup.context) == []
