"""Exchange rates: balances convert from the base currency; unknown codes are a clear 400."""

from __future__ import annotations

import httpx
import pytest

from keyplane.billing.exchange import convert_from_base, set_exchange_rate
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.errors import BadRequest
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, bearer, make_key


async def test_conversion_uses_the_operator_rate(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        await set_exchange_rate(session=session, principal=SYSTEM, currency_code="eur", units_per_base=0.9)
    async with context.sessions() as session:
        amount, code = await convert_from_base(
            session=session, amount_nanos=2_000_000_000, currency_code=" eur", base_currency="USD"
        )
        assert (round(amount, 9), code) == (1.8, "EUR")
        assert await convert_from_base(
            session=session, amount_nanos=2_000_000_000, currency_code=None, base_currency="usd"
        ) == (2.0, "USD")
        assert await convert_from_base(
            session=session, amount_nanos=1_500_000_000, currency_code="USD", base_currency="USD"
        ) == (1.5, "USD")


@pytest.mark.parametrize("code", ["XYZ", "EURO", "1$", ""])
async def test_unknown_or_malformed_currency_is_rejected_by_name(
    context: AppContext, org: BootstrapResult, code: str
) -> None:
    async with context.sessions() as session:
        if code == "":
            assert (
                await convert_from_base(
                    session=session, amount_nanos=1, currency_code=code, base_currency="USD"
                )
            )[1] == "USD"
            return
        with pytest.raises(BadRequest) as raised:
            await convert_from_base(session=session, amount_nanos=1, currency_code=code, base_currency="USD")
        assert code in raised.value.message


@pytest.mark.parametrize("rate", [0.0, -1.0, float("inf"), float("nan"), 1e12])
async def test_rate_must_be_positive_and_finite(
    context: AppContext, org: BootstrapResult, rate: float
) -> None:
    async with context.sessions() as session:
        with pytest.raises(BadRequest):
            await set_exchange_rate(
                session=session, principal=SYSTEM, currency_code="EUR", units_per_base=rate
            )


async def test_balance_endpoint_converts_and_names_an_unknown_currency(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    await client.post("/api/v1/billing/credits", json={"amount": 10}, headers=headers)
    assert (
        await client.put("/api/v1/billing/exchange-rates/chf", json={"rate": 0.5}, headers=headers)
    ).status_code == 200
    converted = await client.get("/api/v1/billing/balance", params={"currency": "CHF"}, headers=headers)
    assert converted.status_code == 200
    assert converted.json()["data"]["balance"] == 5.0 and converted.json()["data"]["currency"] == "CHF"
    assert converted.json()["data"]["balance_base"] == 10.0
    unknown = await client.get("/api/v1/billing/balance", params={"currency": "JPY"}, headers=headers)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": {"code": 400, "message": "Unknown currency 'JPY': no exchange rate is set for it"}
    }


async def test_rates_are_listed_and_setting_them_is_admin_only(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    member_key = await make_key(context, org_id=org.org_id, user_id=member, role="member", kind="management")
    refused = await client.put(
        "/api/v1/billing/exchange-rates/EUR", json={"rate": 0.9}, headers=bearer(member_key)
    )
    assert refused.status_code == 403
    headers = bearer(org.management_key)
    for body in ({"rate": "abc"}, {"rate": True}, {}, {"rate": 0}):
        assert (
            await client.put("/api/v1/billing/exchange-rates/EUR", json=body, headers=headers)
        ).status_code == 400
    assert (
        await client.put("/api/v1/billing/exchange-rates/USD", json={"rate": 2}, headers=headers)
    ).status_code == 400
    assert (
        await client.put("/api/v1/billing/exchange-rates/EUR", json={"rate": 0.9}, headers=headers)
    ).status_code == 200
    listed = await client.get("/api/v1/billing/exchange-rates", headers=bearer(member_key))
    assert [(r["currency_code"], r["rate"]) for r in listed.json()["data"]] == [("EUR", 0.9)]


async def test_setting_a_rate_is_audited(context: AppContext, org: BootstrapResult) -> None:
    from sqlalchemy import select

    from keyplane.models import AuditEvent

    principal = Principal(kind="user", user_id=org.user_id, org_id=org.org_id, role="owner", is_operator=True)
    async with session_scope(context.sessions) as session:
        await set_exchange_rate(session=session, principal=principal, currency_code="GBP", units_per_base=0.8)
        await set_exchange_rate(
            session=session, principal=principal, currency_code="GBP", units_per_base=0.75
        )
    async with context.sessions() as session:
        events = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "exchange_rate.set").order_by(AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert [(e.object_id, e.details["rate"], e.details["previous"]) for e in events] == [
        ("GBP", 0.8, None),
        ("GBP", 0.75, 0.8),
    ]
