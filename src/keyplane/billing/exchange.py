"""Operator-set exchange rates: balances are kept in the base currency and shown in others."""

from __future__ import annotations

import math
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.permissions import require_admin, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import BILLING_WRITE
from keyplane.kernel.writes import upsert
from keyplane.models import ExchangeRate
from keyplane.models.base import utcnow

_CODE = re.compile(r"^[A-Za-z]{3}$")
MAX_RATE = 1e9


def normalize_currency_code(code: str) -> str:
    """Upper-case ISO-4217-like three-letter code, or BadRequest naming the bad value."""
    text = str(code).strip()
    if not _CODE.match(text):
        raise BadRequest(f"Invalid currency code '{text[:20]}': expected three letters", code="bad_currency")
    return text.upper()


async def convert_from_base(
    *, session: AsyncSession, amount_nanos: int, currency_code: str | None, base_currency: str
) -> tuple[float, str]:
    """An amount in base-currency nanos expressed in another currency (None or base: unchanged)."""
    base = base_currency.upper()
    if currency_code is None or str(currency_code).strip() == "":
        return nanos_to_usd(amount_nanos), base
    code = normalize_currency_code(currency_code)
    if code == base:
        return nanos_to_usd(amount_nanos), base
    rate = await session.get(ExchangeRate, code)
    if rate is None:
        raise BadRequest(
            f"Unknown currency '{code}': no exchange rate is set for it", code="unknown_currency"
        )
    return nanos_to_usd(amount_nanos) * rate.units_per_base, code


async def list_exchange_rates(*, session: AsyncSession) -> list[ExchangeRate]:
    return list((await session.execute(select(ExchangeRate).order_by(ExchangeRate.currency_code))).scalars())


async def set_exchange_rate(
    *,
    session: AsyncSession,
    principal: Principal,
    currency_code: str,
    units_per_base: float,
    base_currency: str | None = None,
) -> ExchangeRate:
    """Create or replace the rate for a currency (operator admins with billing:write); audited."""
    require_admin(principal, BILLING_WRITE)
    require_operator_admin(principal, "Exchange rates")  # shared by every org
    code = normalize_currency_code(currency_code)
    if base_currency is not None and code == base_currency.upper():
        raise BadRequest(f"{code} is the base currency; its rate is always 1")
    if isinstance(units_per_base, bool) or not isinstance(units_per_base, int | float):
        raise BadRequest("rate must be a number")
    rate_value = float(units_per_base)
    if not math.isfinite(rate_value) or rate_value <= 0 or rate_value > MAX_RATE:
        raise BadRequest(f"rate must be greater than 0 and at most {MAX_RATE:.0f}")
    existing = await session.get(ExchangeRate, code)
    previous = existing.units_per_base if existing is not None else None
    values = {"currency_code": code, "units_per_base": rate_value, "updated_at": utcnow()}
    await upsert(session, ExchangeRate, values, key=["currency_code"])  # racing setters all succeed
    rate = await session.get(ExchangeRate, code, populate_existing=True)
    assert rate is not None
    await audit.record(
        session,
        principal,
        "exchange_rate.set",
        audit.Target("exchange_rate", code, principal.org_id),
        rate=rate_value,
        previous=previous,
    )
    return rate
