"""Who reads which balance and ledger share: the org's, a member's, or (operator) another org's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.billing import exchange, ledger
from keyplane.errors import Forbidden
from keyplane.kernel.permissions import sees_only_own
from keyplane.kernel.principal import Principal
from keyplane.models import LedgerEntry
from keyplane.orgs.tenants import reading_as


@dataclass(frozen=True, slots=True)
class BalanceReading:
    """A balance in base nanos and in the asked currency, with the org's credit and usage totals."""

    org_id: str
    user_id: str | None
    balance_nanos: int
    amount: float
    currency: str
    total_credits_nanos: int
    total_usage_nanos: int


async def read_balance(
    *,
    session: AsyncSession,
    principal: Principal,
    user_id: str | None,
    currency: str | None,
    base_currency: str,
    org_id: str | None = None,
) -> BalanceReading:
    """The org's balance or one member's share; a key that sees only its own reads only its own."""
    principal = await reading_as(session=session, principal=principal, org_id=org_id)
    if sees_only_own(principal) and user_id is not None and user_id != principal.user_id:
        raise Forbidden("This key may only read its own balance", code="balance_restricted")
    org = principal.require_org()
    balance = await ledger.balance_nanos(session=session, org_id=org, user_id=user_id)
    amount, code = await exchange.convert_from_base(
        session=session, amount_nanos=balance, currency_code=currency, base_currency=base_currency
    )
    credits, usage = await ledger.total_credits_and_usage(session=session, org_id=org)
    return BalanceReading(org, user_id, balance, amount, code, credits, usage)


async def read_ledger(
    *, session: AsyncSession, principal: Principal, page: int, page_size: int, org_id: str | None = None
) -> Sequence[LedgerEntry]:
    """One page of the org's ledger; a caller that sees only its own gets only its own entries."""
    principal = await reading_as(session=session, principal=principal, org_id=org_id)
    user_id = (principal.user_id or "") if sees_only_own(principal) else None
    return await ledger.list_ledger_entries(
        session=session, org_id=principal.require_org(), page=page, page_size=page_size, user_id=user_id
    )
